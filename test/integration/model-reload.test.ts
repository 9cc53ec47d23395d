/**
 * Workers that load their model by registry alias follow it while jobs keep coming: two workers
 * (real Redis, real S3) swap on the announcement of `revmod model alias`, one of them also by
 * polling; a rollback is the same command; a broken version keeps the old model serving. Every
 * job gets exactly one verdict, on its first attempt, naming the one model version that judged it.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { ModerationClient, type Verdict } from '@revmod/client';
import { runCli, type CliContext } from '../../src/cli';
import { configEnv } from '../../src/config';
import { cardPathFor } from '../../src/model/model-card';
import { ModelRegistry } from '../../src/model/model-registry';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { S3Server } from '../../tools/dev/s3-server';
import { defaultModelPath, generatedModelCard } from '../../tools/model-gen/ensure-model';
import { deletePrefix, testConfig, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';
import { startTestWorker, until, VerdictCollector } from '../helpers/worker-harness';

const PHOTOS = 'reload-photos';
/** Uploaded; the load submits them as fast as the workers keep up, until it is stopped. */
const IMAGES = 300;

const quiet: Omit<CliContext, 'env'> = { out: () => undefined, err: () => undefined, exit: (c) => { throw new Error(`exit(${c})`); } };


describe('hot reload by registry alias, two workers under load', () => {
  let s3: S3Server;
  let dir: string;
  const prefix = uniquePrefix('reload');

  beforeAll(async () => {
    s3 = await S3Server.start({ buckets: [PHOTOS, 'registry'] });
    dir = mkdtempSync(join(tmpdir(), 'revmod-reload-'));
    for (let i = 0; i < IMAGES; i++) {
      const png = await sharp({ create: { width: 48, height: 48, channels: 3, background: { r: (i * 37) % 256, g: 90, b: (i * 53) % 256 } } }).png().toBuffer();
      await s3.put(PHOTOS, `img-${i}.png`, png);
    }
    const registry = new ModelRegistry(s3.client, { bucket: 'registry', prefix: 'ml/' });
    for (const version of ['1.0.0', '2.0.0']) {
      const path = join(dir, `probe-${version}.onnx`);
      copyFileSync(defaultModelPath('probe'), path);
      const card = { ...generatedModelCard('probe'), name: 'probe', version, trained: true };
      writeFileSync(cardPathFor(path), JSON.stringify(card));
      await registry.push(path, card, 'probe', version);
    }
    // A version whose model file is not an ONNX model (its record and card are in order).
    const junk = Buffer.from('this is not an onnx model');
    const put = (key: string, body: string | Buffer) => s3.client.send(new PutObjectCommand({ Bucket: 'registry', Key: `ml/models/probe/3.0.0/${key}`, Body: body }));
    await put('model.onnx', junk);
    await put('card.json', JSON.stringify({ ...generatedModelCard('probe'), name: 'probe', version: '3.0.0', trained: true }));
    await put('version.json', JSON.stringify({ name: 'probe', version: '3.0.0', sha256: createHash('sha256').update(junk).digest('hex'), bytes: junk.length, pushedAt: new Date().toISOString() }));
    await registry.setAlias('probe', 'champion', '1.0.0');
  }, 60_000);

  afterAll(async () => {
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(prefix);
  });

  it('follows champion → 2.0.0, back to 1.0.0, refuses a broken 3.0.0, and loses or repeats nothing', async () => {
    const base = {
      redis: { prefix }, s3: s3.s3Config, batch: { size: 4, maxWaitMs: 10 },
      model: { path: 's3://registry/ml/models/probe@champion', executionProvider: 'cpu' as const, allowUntrained: false, intraOpThreads: 1 },
    };
    // a: announcements only; b: announcements and polling every 300 ms.
    const configA = testConfig({ ...base, model: { ...base.model, reloadPollMs: 0 } });
    const configB = testConfig({ ...base, model: { ...base.model, reloadPollMs: 300 } });
    const env = { ...configEnv({ s3: s3.s3Config, redis: { url: TEST_REDIS_URL, prefix } }) };
    const alias = (version: string) => runCli(['model', 'alias', 'champion', version, '--registry', 's3://registry/ml'], { ...quiet, env });
    const workers: ModerationWorker[] = [];
    const collector = new VerdictCollector(configA);
    const client = new ModerationClient({ config: configA });
    try {
      workers.push(await startTestWorker(configA), await startTestWorker(configB));
      const [a, b] = workers as [ModerationWorker, ModerationWorker];
      const versions = () => workers.map((w) => w.status().model!.version);
      expect(versions()).toEqual(['1.0.0', '1.0.0']);
      expect(a.status().modelReference).toBe('s3://registry/ml/models/probe@champion');

      // Jobs keep arriving while the alias moves: up to 8 in flight at any time.
      let submitted = 0;
      let loadRunning = true;
      const load = (async () => {
        while (loadRunning && submitted < IMAGES) {
          if (submitted - collector.verdicts.length < 8) await client.submit({ bucket: PHOTOS, key: `img-${submitted++}.png` });
          else await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const judgedBy = (version: string) => collector.verdicts.filter((v) => v.model.version === version).length;

      await until('some verdicts', () => collector.verdicts.length >= 10);
      expect(await alias('2.0.0')).toBe(0);
      await until('both workers on 2.0.0', () => versions().every((v) => v === '2.0.0'));
      await until('verdicts by 2.0.0', () => judgedBy('2.0.0') >= 10);

      // Moved without an announcement: only the polling worker notices.
      await new ModelRegistry(s3.client, { bucket: 'registry', prefix: 'ml/' }).setAlias('probe', 'champion', '1.0.0');
      await until('b back on 1.0.0 by polling', () => b.status().model!.version === '1.0.0');
      expect(a.status().model!.version).toBe('2.0.0');

      // The rollback command: every worker follows.
      expect(await alias('1.0.0')).toBe(0);
      await until('a back on 1.0.0', () => a.status().model!.version === '1.0.0');

      // A broken version: the reload fails, 1.0.0 keeps serving, and the workers say why.
      expect(await alias('3.0.0')).toBe(0);
      await until('both workers report the failed reload', () => workers.every((w) => w.status().lastReloadError?.version === '3.0.0'));
      expect(versions()).toEqual(['1.0.0', '1.0.0']);
      expect(a.status().lastReloadError!.message.length).toBeGreaterThan(0);
      expect(workers.every((w) => w.ready)).toBe(true);

      const onOne = judgedBy('1.0.0');
      await until('more verdicts by 1.0.0 after the failed reload', () => judgedBy('1.0.0') >= onOne + 10);

      loadRunning = false;
      await load;
      expect(submitted).toBeLessThan(IMAGES); // the load never ran dry
      const verdicts: Verdict[] = await collector.waitFor(submitted, 60_000);
      await new Promise((r) => setTimeout(r, 300)); // any duplicate would arrive by now
      expect(verdicts).toHaveLength(submitted);
      expect(new Set(verdicts.map((v) => v.key)).size).toBe(submitted);
      expect(verdicts.filter((v) => v.error !== undefined)).toEqual([]);
      expect(verdicts.filter((v) => v.attempt !== 1).map((v) => v.key)).toEqual([]);
      const byVersion = new Map<string, number>();
      for (const v of verdicts) byVersion.set(v.model.version, (byVersion.get(v.model.version) ?? 0) + 1);
      expect([...byVersion.keys()].sort()).toEqual(['1.0.0', '2.0.0']);
      expect(a.status().modelReloads).toBe(2);
      expect(b.status().modelReloads).toBe(2);
    } finally {
      await client.close();
      await collector.close();
      for (const w of workers) await w.close(10_000);
    }
  }, 120_000);
});
