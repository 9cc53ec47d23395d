import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { configEnv } from '../../src/config';
import { runCli } from '../../src/cli';
import { capture } from '../helpers/cli-capture';
import { S3Server } from '../../tools/dev/s3-server';
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';

const REPO_ROOT = resolve(__dirname, '../..');
const BIN = join(REPO_ROOT, 'workers/revmod.js');
const BUCKET = 'lists-cli';
const JOURNAL = 'lists-cli-journal';


function revmod(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('revmod lists', () => {
  it('prints help listing every lists command, and refuses bad arguments with one line, exit 2', async () => {
    // The real bin, as a user runs it (each spawn costs seconds here: the rest runs in process, through the same runCli).
    const help = revmod(['lists', '--help']);
    expect(help.status).toBe(0);
    for (const cmd of ['create', 'delete', 'add', 'remove', 'show', 'lookup']) expect(help.stdout).toMatch(new RegExp(`\\n  ${cmd}\\b`));
    const bad = revmod(['lists', 'add', 'spam']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/name the image with one of --hash HEX, --key s3:\/\/BUCKET\/KEY or --verdict ID, received none/);

    const cases: Array<[string[], RegExp]> = [
      [['lists', 'create', 'spam'], /required option '--kind <kind>' not specified/],
      [['lists', 'create', 'spam', '--kind', 'grey'], /argument 'grey' is invalid. Allowed choices are block, allow/],
      [['lists', 'add', 'spam', '--hash', 'abc'], /--hash must be a PDQ hash of 64 hex digits, received "abc"/],
      [['lists', 'lookup', '--hash', 'a'.repeat(64), '--verdict', 'x'], /received --hash and --verdict/],
      [['lists', 'add', 'spam', '--key', 'photo.jpg'], /--key needs --bucket, or the form s3:\/\/BUCKET\/KEY, received "photo.jpg"/],
      [['lists', 'show', '--limit', '0'], /option '--limit <n>' argument '0' is invalid/],
    ];
    for (const [args, message] of cases) {
      const ctx = capture({});
      expect({ args, code: await runCli(args, ctx) }).toEqual({ args, code: 2 });
      expect(ctx.stderr.join('\n')).toMatch(message);
    }
    for (const cmd of ['create', 'delete', 'add', 'remove', 'show', 'lookup']) {
      const ctx = capture({});
      expect(await runCli(['lists', cmd, '--help'], ctx)).toBe(0);
      expect(ctx.stdout.join('\n')).toMatch(new RegExp(`^Usage: revmod lists ${cmd}`));
    }
  }, 60_000);

  describe('against Redis and S3', () => {
    const prefix = uniquePrefix('lists-cli');
    let s3: S3Server;
    let env: Record<string, string>;
    const rocket = readFileSync(join(REPO_ROOT, 'samples/rocket_1080x1080_q85.jpg'));

    beforeAll(async () => {
      s3 = await S3Server.start();
      await s3.createBucket(BUCKET);
      await s3.createBucket(JOURNAL);
      await s3.put(BUCKET, 'spam/original.jpg', rocket);
      await s3.put(BUCKET, 'spam/copy.jpg', await sharp(rocket).resize(700).flop().jpeg({ quality: 70 }).toBuffer());
      await s3.put(BUCKET, 'other.jpg', readFileSync(join(REPO_ROOT, 'samples/coffee_600x400_q85.jpg')));
      env = configEnv({ redis: { url: TEST_REDIS_URL, prefix }, s3: s3.s3Config, known: { enabled: true, journalBucket: JOURNAL } });
    }, 60_000);

    afterAll(async () => {
      await s3?.close();
      await deletePrefix(prefix);
    });

    async function cli(args: string[]): Promise<{ code: number; out: unknown; err: string }> {
      const ctx = capture(env);
      const code = await runCli(args, ctx);
      return { code, out: ctx.stdout.length > 0 ? JSON.parse(ctx.stdout.join('\n')) : undefined, err: ctx.stderr.join('\n') };
    }

    it('creates a list, adds an image by key, finds a mirrored copy, shows and removes the entry', async () => {
      const created = await cli(['lists', 'create', 'spam', '--kind', 'block', '--description', 'giveaway campaign']);
      expect(created).toMatchObject({ code: 0, out: { created: true, list: { name: 'spam', kind: 'block', action: 'block', maxDistance: 31, minQuality: 50 } } });
      expect(await cli(['lists', 'create', 'spam', '--kind', 'block'])).toMatchObject({ code: 0, out: { created: false } });
      const clash = await cli(['lists', 'create', 'spam', '--kind', 'allow']);
      expect(clash.code).toBe(2);
      expect(clash.err).toMatch(/list spam exists as block \(action block, maxDistance 31, minQuality 50\), received allow/);

      const added = await cli(['lists', 'add', 'spam', '--key', `s3://${BUCKET}/spam/original.jpg`, '--note', 'reported', '--by', 'lead-1']);
      expect(added).toMatchObject({ code: 0, out: { origin: { type: 'object', bucket: BUCKET, key: 'spam/original.jpg', note: 'reported' }, addedBy: 'lead-1', quality: 100 } });
      const entry = added.out as { id: string; hash: string };

      const found = await cli(['lists', 'lookup', '--bucket', BUCKET, '--key', 'spam/copy.jpg']);
      expect(found.code).toBe(0);
      const matches = (found.out as { matches: Array<{ list: string; distance: number; entry: { id: string } }> }).matches;
      expect(matches.map((m) => [m.list, m.entry.id])).toEqual([['spam', entry.id]]);
      expect(matches[0]!.distance).toBeLessThanOrEqual(31);
      expect(await cli(['lists', 'lookup', '--key', `s3://${BUCKET}/other.jpg`])).toMatchObject({ code: 0, out: { matches: [] } });
      expect(await cli(['lists', 'lookup', '--hash', entry.hash])).toMatchObject({ code: 0, out: { matches: [{ list: 'spam', distance: 0 }] } });

      expect(await cli(['lists', 'show'])).toMatchObject({ code: 0, out: { lists: [{ list: { name: 'spam' }, entries: 1 }] } });
      expect(await cli(['lists', 'show', 'spam'])).toMatchObject({ code: 0, out: { entries: 1, sample: [{ id: entry.id, hash: entry.hash }] } });

      expect(await cli(['lists', 'remove', 'spam', '--entry', entry.id])).toMatchObject({ code: 0, out: { removed: [entry.id] } });
      const again = await cli(['lists', 'remove', 'spam', '--hash', entry.hash]);
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/list spam has no entry for hash/);
      expect(await cli(['lists', 'show', 'spam'])).toMatchObject({ code: 0, out: { entries: 0 } });
      expect(await cli(['lists', 'delete', 'spam'])).toMatchObject({ code: 0, out: { deleted: 'spam' } });
      const gone = await cli(['lists', 'add', 'spam', '--hash', entry.hash]);
      expect(gone.code).toBe(1);
      expect(gone.err).toMatch(/no list "spam"/);
    }, 60_000);

    it('refuses changes without a journal bucket, naming the setting', async () => {
      const ctx = capture({ ...env, REVMOD_KNOWN_JOURNAL_BUCKET: '' });
      delete (ctx.env as Record<string, string>).REVMOD_KNOWN_JOURNAL_BUCKET;
      expect(await runCli(['lists', 'create', 'nojournal', '--kind', 'allow'], ctx)).toBe(2);
      expect(ctx.stderr.join('\n')).toMatch(/set REVMOD_KNOWN_JOURNAL_BUCKET, received nothing/);
    });
  });
});
