/**
 * The model registry in a real S3 (s3rver): `revmod model push`, `alias` and `list` through the
 * CLI, immutable versions, aliases beside them, and fetching a version by alias with its sha256
 * checked.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runCli, type CliContext } from '../../src/cli';
import { configEnv } from '../../src/config';
import { cardPathFor } from '../../src/model/model-card';
import { ModelRegistry, parseModelReference } from '../../src/model/model-registry';
import { S3Server } from '../../tools/dev/s3-server';
import { defaultModelPath, generatedModelCard } from '../../tools/model-gen/ensure-model';

function capture(env: Record<string, string>): CliContext & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { env, stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), exit: (c) => { throw new Error(`unexpected exit(${c})`); } };
}

describe('the model registry (s3rver)', () => {
  let s3: S3Server;
  let dir: string;
  let env: Record<string, string>;
  const REG = 's3://registry/ml';

  beforeAll(async () => {
    s3 = await S3Server.start({ buckets: ['registry'] });
    env = configEnv({ s3: s3.s3Config });
    dir = mkdtempSync(join(tmpdir(), 'revmod-registry-'));
  });

  afterAll(async () => {
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The probe model with its card as a trained model at `version`. */
  function probeAt(version: string, patch: Record<string, unknown> = {}): string {
    const path = join(dir, `probe-${version}.onnx`);
    copyFileSync(defaultModelPath('probe'), path);
    writeFileSync(cardPathFor(path), JSON.stringify({ ...generatedModelCard('probe'), name: 'probe', version, trained: true, ...patch }));
    return path;
  }

  const cli = async (args: string[]) => {
    const ctx = capture(env);
    const code = await runCli(args, ctx);
    return { code, stdout: ctx.stdout.join('\n'), stderr: ctx.stderr.join('\n') };
  };

  it('pushes versions, refuses to replace one, and lists them with aliases, sha256 and metrics', async () => {
    const v1 = probeAt('1.0.0', { metadata: { validation: { accuracy: 0.91 }, parity: { maxAbsDeltaP: 0.0004, passed: true } } });
    const pushed = await cli(['model', 'push', v1, '--registry', REG]);
    expect(pushed).toMatchObject({ code: 0 });
    const sha = createHash('sha256').update(readFileSync(v1)).digest('hex');
    expect(JSON.parse(pushed.stdout)).toMatchObject({ name: 'probe', version: '1.0.0', sha256: sha, pushed: 's3://registry/ml/models/probe/1.0.0/' });
    expect(await cli(['model', 'push', probeAt('2.0.0'), '--registry', REG, '--version', '2.0.0'])).toMatchObject({ code: 0 });

    const again = await cli(['model', 'push', v1, '--registry', REG]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/probe@1\.0\.0 is already in the registry: versions are never replaced/);

    const first = await cli(['model', 'alias', 'champion', '1.0.0', '--registry', REG]);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    const moved = await cli(['model', 'alias', 'champion', '2.0.0', '--registry', REG]);
    expect(JSON.parse(moved.stdout)).toMatchObject({ name: 'probe', alias: 'champion', version: '2.0.0', previous: '1.0.0' });
    expect(await cli(['model', 'alias', 'challenger', '1.0.0', '--registry', REG])).toMatchObject({ code: 0 });

    const list = await cli(['model', 'list', '--registry', REG, '--json']);
    const rows = JSON.parse(list.stdout);
    expect(rows.map((r: { version: string; aliases: string[] }) => [r.version, r.aliases])).toEqual([['1.0.0', ['challenger']], ['2.0.0', ['champion']]]);
    expect(rows[0]).toMatchObject({ sha256: sha, trained: true, metrics: { accuracy: 0.91, parityMaxAbsDeltaP: 0.0004 } });
    const table = await cli(['model', 'list', '--registry', REG]);
    expect(table.stdout).toMatch(new RegExp(`probe\\t2\\.0\\.0\\tchampion\\t${sha.slice(0, 12)}`));
  }, 60_000);

  it('refuses an alias to a missing version, an untrained card and a card whose parity check failed', async () => {
    const missing = await cli(['model', 'alias', 'champion', '9.9.9', '--registry', REG, '--name', 'probe']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/probe@9\.9\.9 is not in the registry .*versions: 1\.0\.0, 2\.0\.0/);
    const untrained = await cli(['model', 'push', probeAt('3.0.0', { trained: false }), '--registry', REG]);
    expect(untrained).toMatchObject({ code: 2 });
    expect(untrained.stderr).toMatch(/trained: false; pass --allow-untrained/);
    const parity = await cli(['model', 'push', probeAt('3.0.1', { metadata: { parity: { maxAbsDeltaP: 0.2, passed: false } } }), '--registry', REG]);
    expect(parity).toMatchObject({ code: 2 });
    expect(parity.stderr).toMatch(/failed train–serve parity check \(max \|Δp\| 0\.2\)/);
  }, 60_000);

  it('fetches a version by alias into a local cache, checking its sha256', async () => {
    const ref = parseModelReference(`${REG}/models/probe@champion`);
    const registry = new ModelRegistry(s3.client, ref.registry);
    const cache = join(dir, 'cache');
    const fetched = await registry.fetch(ref.name, ref.ref, cache);
    expect(fetched).toMatchObject({ alias: 'champion', version: { version: '2.0.0' }, modelPath: join(cache, 'probe', '2.0.0', 'model.onnx') });
    expect(JSON.parse(readFileSync(join(cache, 'probe', '2.0.0', 'model.card.json'), 'utf8')).version).toBe('2.0.0');
    // A tampered object in the registry is refused, not served.
    await s3.client.send(new PutObjectCommand({ Bucket: 'registry', Key: 'ml/models/probe/1.0.0/model.onnx', Body: Buffer.from('not a model') }));
    await expect(registry.fetch('probe', '1.0.0', join(dir, 'cache2'))).rejects.toThrow(/sha256 .* its version.json says/);
  }, 60_000);
});
