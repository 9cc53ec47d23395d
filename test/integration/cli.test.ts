import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { Queue } from 'bullmq';
import { configEnv, type RevmodConfig } from '../../src/config';
import { runCli } from '../../src/cli';
import { capture } from '../helpers/cli-capture';
import { readUsersFile, verifyPassword } from '../../src/identity';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { S3Server } from '../../tools/dev/s3-server';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { deletePrefix, testConfig, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';
import { buildDetectorSet } from '../../tools/detector-set/build-set';
import { PHOTO_DIRS, requireFonts } from '../helpers/detector-images';

const REPO_ROOT = resolve(__dirname, '../..');
const BIN = join(REPO_ROOT, 'workers/revmod.js');
const BUCKET = 'cli-photos';


/** The real bin, as a user runs it. */
function revmod(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the revmod CLI', () => {
  describe('arguments (the real bin)', () => {
    it('prints help for the program and for every command, exit 0', () => {
      const top = revmod(['--help']);
      expect(top.status).toBe(0);
      for (const name of ['worker', 'ops', 'submit', 'verdict', 'failed', 'model', 'demo', 'review', 'users', 'decisions', 'dataset', 'delete', 'retention', 'eval']) expect(top.stdout).toContain(name);
      for (const cmd of [['worker'], ['ops'], ['eval', 'detectors'], ['submit'], ['verdict'], ['failed', 'list'], ['failed', 'retry'], ['model', 'check'], ['model', 'make'], ['demo'],
        ['review'], ['users', 'add'], ['users', 'list'], ['users', 'remove'], ['decisions', 'replay'], ['dataset', 'export'], ['delete'], ['retention', 'apply']]) {
        const r = revmod([...cmd, '--help']);
        expect({ cmd, status: r.status, usage: r.stdout.startsWith(`Usage: revmod ${cmd.join(' ')}`) }).toEqual({ cmd, status: 0, usage: true });
      }
    });

    it('refuses bad arguments with one line naming the argument, exit 2', () => {
      const cases: Array<[string[], RegExp]> = [
        [['submit'], /missing required argument 'bucket'/],
        [['frobnicate'], /unknown command 'frobnicate'/],
        [['failed', 'list', '--code', 'NOPE'], /option '--code <code>' argument 'NOPE' is invalid/],
        [['model', 'check', 'x.onnx', '--batch', '0'], /option '--batch <n>' argument '0' is invalid.*must be a positive integer, received "0"/],
        [['model', 'make', '--kind', 'vgg'], /argument 'vgg' is invalid. Allowed choices are resnet18, probe/],
        [['verdict', 'not/an/id'], /JOB_ID must be a job id as submit prints it, received "not\/an\/id"/],
        [['review'], /the review console needs REVMOD_DECISION_LOG_BUCKET .* and REVMOD_SESSION_SECRET/],
        [['users', 'add', 'bob'], /required option '--role <role...>' not specified/],
        [['users', 'add', 'Bad Id', '--role', 'reviewer', '--generate', '--file', '/tmp/never-written.json'], /ID must be lower-case letters, digits and \. _ @ - \(at most 64\), received "Bad Id"/],
        [['users', 'add', 'bob', '--role', 'boss'], /argument 'boss' is invalid. Allowed choices are viewer, admin, reviewer, lead/],
        [['delete'], /delete needs --key s3:\/\/BUCKET\/KEY \(or --bucket B --key K\) or --sha256 HEX, received neither/],
        [['delete', '--sha256', 'abc'], /--sha256 must be 64 hex digits, received "abc"/],
        [['dataset', 'export', '--since', 'yesterday', '--out', '/tmp/x'], /--since must be an ISO date .*received "yesterday"/],
        [['dataset', 'export', '--since', '1d'], /required option '--out <dir\|s3:\/\/bucket\/prefix>' not specified/],
      ];
      for (const [args, message] of cases) {
        const r = revmod(args);
        expect({ args, status: r.status }).toEqual({ args, status: 2 });
        expect(r.stderr.split('\n')[0]).toMatch(message);
      }
    });

    it('adds, lists and removes users in the users file, with a generated password that verifies', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'revmod-cli-users-'));
      try {
        const file = join(dir, 'users.json');
        const add = capture({});
        expect(await runCli(['users', 'add', 'li.wei', '--role', 'reviewer', 'lead', '--name', '李伟', '--generate', '--file', file], add)).toBe(0);
        expect(add.stdout[0]).toBe(`added li.wei (reviewer, lead) in ${file}`);
        const password = /^password: (\S+)$/.exec(add.stdout[1] ?? '')?.[1];
        expect(password).toBeDefined();
        const stored = (await readUsersFile(file)).users[0]!;
        expect(stored).toMatchObject({ id: 'li.wei', name: '李伟', roles: ['reviewer', 'lead'] });
        expect(await verifyPassword(password!, stored.password!)).toBe(true);
        expect(JSON.stringify(await readUsersFile(file))).not.toContain(password!);
        const list = capture({ REVMOD_USERS_FILE: file });
        expect(await runCli(['users', 'list'], list)).toBe(0);
        expect(list.stdout).toEqual(['li.wei\treviewer,lead\tpassword\t李伟']);
        expect(await runCli(['users', 'remove', 'li.wei', '--file', file], capture({}))).toBe(0);
        expect((await readUsersFile(file)).users).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses a bad configuration naming the variable, exit 2', () => {
      const r = revmod(['failed', 'list'], { REVMOD_ATTEMPTS: 'many' });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/REVMOD_ATTEMPTS must be an integer, received "many"/);
    });

    it('checks a model: I/O, sha256, card, thresholds and provider, after one dummy batch', () => {
      const r = revmod(['model', 'check', defaultModelPath('probe'), '--json']);
      expect(r.status).toBe(0);
      const report = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(report).toMatchObject({
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        card: { name: 'revmod-probe', trained: false, classes: ['normal', 'violate'] },
        io: { input: 'input', output: 'logits' },
        thresholds: { violate: 0.7, confidence: 0.7, block: null },
        executionProvider: 'cpu',
        dummyBatch: { size: 2, outputs: 4, finite: true },
      });
    });
  });

  describe('submit, verdict and the failed list against real Redis, S3 and a worker', () => {
    const prefix = uniquePrefix('cli');
    let s3: S3Server;
    let config: RevmodConfig;
    let worker: ModerationWorker;
    let collector: VerdictCollector;
    let env: Record<string, string>;
    let dir: string;

    beforeAll(async () => {
      s3 = await S3Server.start({ buckets: [BUCKET] });
      const photo = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 40, g: 120, b: 200 } } }).jpeg().toBuffer();
      for (const key of ['a.jpg', 'b.jpg', 'c.jpg']) await s3.put(BUCKET, key, photo);
      config = testConfig({
        redis: { prefix }, s3: s3.s3Config, batch: { size: 4, maxWaitMs: 20 },
        model: { path: defaultModelPath('probe'), executionProvider: 'cpu', intraOpThreads: 1 },
      });
      env = configEnv({ redis: { url: TEST_REDIS_URL, prefix } });
      worker = await startTestWorker(config);
      collector = new VerdictCollector(config);
      dir = mkdtempSync(join(tmpdir(), 'revmod-cli-'));
    }, 60_000);

    afterAll(async () => {
      await collector?.close();
      await worker?.close(5_000);
      await s3?.close();
      await deletePrefix(prefix);
      rmSync(dir, { recursive: true, force: true });
    });

    it('submits keys from arguments and from a file, then prints each verdict as JSON', async () => {
      const keysFile = join(dir, 'keys.txt');
      writeFileSync(keysFile, '# keys\nb.jpg\n\nc.jpg\n');
      const ctx = capture(env);
      expect(await runCli(['submit', BUCKET, 'a.jpg', '--from', keysFile, '--meta', '{"shopId":42}'], ctx)).toBe(0);
      const lines = ctx.stdout.map((l) => l.split('\t'));
      expect(lines.map((l) => l[1])).toEqual([`${BUCKET}/a.jpg`, `${BUCKET}/b.jpg`, `${BUCKET}/c.jpg`]);
      await collector.waitFor(3);
      for (const [jobId, where] of lines) {
        const out = capture(env);
        expect(await runCli(['verdict', jobId!], out)).toBe(0);
        const verdict = JSON.parse(out.stdout.join('\n')) as { jobId: string; key: string; meta: unknown; decision: string };
        expect(verdict).toMatchObject({ jobId, key: where!.slice(BUCKET.length + 1), meta: { shopId: 42 } });
      }
      const unknown = capture(env);
      expect(await runCli(['verdict', 'abcdef'], unknown)).toBe(1);
      expect(unknown.stderr[0]).toMatch(/no verdict for job abcdef/);
    });

    it('refuses a submit with nothing to submit or with bad meta, exit 2', async () => {
      const none = capture(env);
      expect(await runCli(['submit', BUCKET], none)).toBe(2);
      expect(none.stderr[0]).toMatch(/needs at least one KEY or --from FILE/);
      const meta = capture(env);
      expect(await runCli(['submit', BUCKET, 'a.jpg', '--meta', '[1]'], meta)).toBe(2);
      expect(meta.stderr[0]).toMatch(/--meta must be a JSON object, received "\[1\]"/);
      const bucket = capture(env);
      expect(await runCli(['submit', 'Bad_Bucket', 'a.jpg'], bucket)).toBe(2);
      expect(bucket.stderr[0]).toMatch(/bucket must be an S3 bucket name.*received "Bad_Bucket"/);
    });

    it('lists failed jobs by code and retries them', async () => {
      // An invalid payload injected past the SDK fails at once (no retry can fix it).
      const raw = new Queue(config.queues.moderation, { connection: { url: TEST_REDIS_URL }, prefix });
      await raw.add('moderate', { bucket: 'Not_A_Bucket!', key: 'x.jpg', meta: {}, submittedAtMs: Date.now() }, { jobId: 'feed01', attempts: 1 });
      await raw.close();
      let listed: string[] = [];
      for (let i = 0; i < 100 && !listed.some((l) => l.startsWith('feed01')); i++) {
        const ctx = capture(env);
        expect(await runCli(['failed', 'list', '--code', 'INVALID_JOB'], ctx)).toBe(0);
        listed = ctx.stdout;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(listed.find((l) => l.startsWith('feed01'))).toMatch(/^feed01\tINVALID_JOB\t1\tNot_A_Bucket!\/x\.jpg\tINVALID_JOB: bucket must be/);
      const other = capture(env);
      expect(await runCli(['failed', 'list', '--code', 'STORAGE_TIMEOUT'], other)).toBe(0);
      expect(other.stdout).toEqual([]);
      const retry = capture(env);
      expect(await runCli(['failed', 'retry', '--code', 'INVALID_JOB'], retry)).toBe(0);
      expect(retry.stdout).toEqual(['feed01']);
    });
  });

  describe('eval detectors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'revmod-cli-eval-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('prints precision and recall per detector on a labelled set, and names a folder without labels', async () => {
      requireFonts();
      const labels = await buildDetectorSet({ outDir: dir, counts: { clean: 2, blurry: 1, qr: 1, contact: 2, benign_text: 1, banned: 0, screenshot: 0 }, seed: 5, photoDirs: PHOTO_DIRS });
      const r = revmod(['eval', 'detectors', dir, '--json']);
      expect(r.stderr).toContain(`${labels.length}/${labels.length} images`);
      expect(r.status).toBe(0);
      const report = JSON.parse(r.stdout) as { images: number; qr: { positives: number; recall: number }; blur: { positives: number } };
      expect(report.images).toBe(labels.length);
      expect(report.qr.positives).toBe(1);
      expect(report.blur.positives).toBe(1);
      const text = revmod(['eval', 'detectors', dir]);
      expect(text.stdout).toMatch(/QR/);
      const none = revmod(['eval', 'detectors', join(dir, 'nowhere')]);
      expect(none.status).toBe(2);
      expect(none.stderr).toMatch(/no labels\.jsonl in ".*nowhere"/);
    }, 120_000);
  });
});
