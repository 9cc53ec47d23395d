/**
 * Shadow scoring: a worker serving `@champion` also scores images with `@challenger`, off the
 * decision path (real Redis, real S3, real models). The challenger reuses the champion's tensor
 * when the two cards preprocess alike and builds its own when they differ; the two are compared
 * on decisions and top groups; disagreements are logged, counted, sampled into review and read
 * back by `revmod eval shadow` against people's decisions. A broken challenger changes nothing
 * for the champion, and verdicts only ever name the champion.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { ModerationClient, type ReviewDecision, type Verdict } from '@revmod/client';
import { runCli, type CliContext } from '../../src/cli';
import { configEnv } from '../../src/config';
import type { ShadowReport } from '../../src/eval/shadow-eval';
import { cardPathFor, type ModelCardInput } from '../../src/model/model-card';
import { ModelRegistry } from '../../src/model/model-registry';
import { createWorkerMetrics } from '../../src/ops/metrics';
import { DecisionLog } from '../../src/review/decision-log';
import { SHADOW_SAMPLE_JOB_NAME } from '../../src/review/sampling';
import { ShadowLog, type ShadowRecord } from '../../src/shadow/shadow-log';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { S3Server } from '../../tools/dev/s3-server';
import { defaultModelPath, generatedModelCard } from '../../tools/model-gen/ensure-model';
import { deletePrefix, testConfig, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';
import { startTestWorker, until, VerdictCollector } from '../helpers/worker-harness';

const PHOTOS = 'shadow-photos';
const LOGS = 'shadow-decisions';
/** Solid images from blue-ish to red-ish: the probe's violate score runs from ~0.06 to ~0.94 across them. */
const IMAGES = 30;
// A name of its own: the workers' download cache is keyed by name and version.
const MODEL = `shadow-probe-${randomBytes(3).toString('hex')}`;


describe('shadow scoring with the challenger alias', () => {
  let s3: S3Server;
  let dir: string;
  const photos: Buffer[] = [];
  const prefix = uniquePrefix('shadow');
  const out: string[] = [];
  const errs: string[] = [];
  const cli: Omit<CliContext, 'env'> = { out: (s) => out.push(s), err: (s) => errs.push(s), exit: (c) => { throw new Error(`exit(${c})`); } };

  beforeAll(async () => {
    s3 = await S3Server.start({ buckets: [PHOTOS, 'registry', LOGS] });
    dir = mkdtempSync(join(tmpdir(), 'revmod-shadow-'));
    for (let i = 0; i < IMAGES; i++) {
      const d = -0.6 + (1.2 * i) / (IMAGES - 1);
      photos.push(await sharp({ create: { width: 48, height: 48, channels: 3, background: { r: Math.round(128 + 127 * d), g: 100, b: Math.round(128 - 127 * d) } } }).png().toBuffer());
    }
    const registry = new ModelRegistry(s3.client, { bucket: 'registry', prefix: 'ml/' });
    // 1.0.0 reviews at violate ≥ 0.7, 2.0.0 at ≥ 0.3 (same preprocessing: its tensor is the
    // champion's, copied), 3.0.0 squashes the image instead of cropping it (its own tensor).
    const versions: Array<[string, Partial<ModelCardInput>]> = [
      ['1.0.0', { thresholds: { violate: 0.7, confidence: 0.5 } }],
      ['2.0.0', { thresholds: { violate: 0.3, confidence: 0.5 } }],
      ['3.0.0', { thresholds: { violate: 0.3, confidence: 0.5 }, preprocessing: { resize: 'squash', cropSize: 224 } }],
    ];
    for (const [version, extra] of versions) {
      const path = join(dir, `probe-${version}.onnx`);
      copyFileSync(defaultModelPath('probe'), path);
      const { thresholds: _t, preprocessing, ...base } = generatedModelCard('probe');
      const card = { ...base, ...(extra.preprocessing ? {} : { preprocessing }), ...extra, name: MODEL, version, trained: true };
      writeFileSync(cardPathFor(path), JSON.stringify(card));
      await registry.push(path, card, MODEL, version);
    }
    // 4.0.0: its record and card are in order, its model file is not an ONNX model.
    const junk = Buffer.from('not an onnx model');
    const put = (key: string, body: string | Buffer) => s3.client.send(new PutObjectCommand({ Bucket: 'registry', Key: `ml/models/${MODEL}/4.0.0/${key}`, Body: body }));
    await put('model.onnx', junk);
    await put('card.json', JSON.stringify({ ...generatedModelCard('probe'), name: MODEL, version: '4.0.0', trained: true }));
    await put('version.json', JSON.stringify({ name: MODEL, version: '4.0.0', sha256: createHash('sha256').update(junk).digest('hex'), bytes: junk.length, pushedAt: new Date().toISOString() }));
    await registry.setAlias(MODEL, 'champion', '1.0.0');
  }, 60_000);

  afterAll(async () => {
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(tmpdir(), 'revmod-models', MODEL), { recursive: true, force: true });
    await deletePrefix(prefix);
  });

  it('scores beside the champion, reuses or builds tensors, compares, samples disagreements, and survives a broken challenger', async () => {
    const config = testConfig({
      redis: { prefix }, s3: s3.s3Config, batch: { size: 8, maxWaitMs: 10 },
      model: { path: `s3://registry/ml/models/${MODEL}@champion`, executionProvider: 'cpu', allowUntrained: false, intraOpThreads: 1, reloadPollMs: 0 },
      shadow: { share: 1, reviewRate: 1 },
      review: { logBucket: LOGS },
    });
    const env = { ...configEnv({ s3: s3.s3Config, redis: { url: TEST_REDIS_URL, prefix }, review: { logBucket: LOGS } }) };
    const revmod = async (...args: string[]) => {
      out.length = 0;
      const code = await runCli(args, { ...cli, env });
      return { code, out: out.join('\n') };
    };
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const collector = new VerdictCollector(config);
    const client = new ModerationClient({ config });
    const review = new Queue<Verdict>(config.queues.review, { connection: { url: TEST_REDIS_URL }, prefix });
    const redis = new Redis(TEST_REDIS_URL);
    const shadowLog = new ShadowLog(redis, prefix, 1_000);
    const records = async (): Promise<ShadowRecord[]> => { const rs: ShadowRecord[] = []; for await (const r of shadowLog.read()) rs.push(r); return rs; };
    // Every comparison of the challenger scoring now is done and logged.
    const settled = async (w: ModerationWorker, challenger: string) => {
      const s = w.status().shadow!;
      return s.challenger === challenger && s.pending === 0 && (await records()).filter((r) => r.challenger.model === challenger).length === s.compared;
    };
    let worker: ModerationWorker | undefined;
    let submitted = 0;
    // Each round uploads the photos under keys of its own (the same key and version is the same job).
    const submitAll = async (round: string) => {
      for (let i = 0; i < IMAGES; i++) await s3.put(PHOTOS, `${round}/img-${i}.png`, photos[i]!);
      for (let i = 0; i < IMAGES; i++) await client.submit({ bucket: PHOTOS, key: `${round}/img-${i}.png` });
      submitted += IMAGES;
      return collector.waitFor(submitted, 60_000);
    };
    try {
      worker = await startTestWorker(config, metrics.observer);
      const w = worker;
      // No challenger yet: nothing is shadowed.
      await until('the lane to look the alias up', () => w.status().shadow?.state === 'unset');
      await submitAll('no-challenger');
      expect(await records()).toEqual([]);

      // 2.0.0 as challenger: same preprocessing, so its tensors are copies of the champion's.
      expect((await revmod('model', 'alias', 'challenger', '2.0.0', '--registry', 's3://registry/ml')).code).toBe(0);
      await until('challenger 2.0.0 scoring', () => w.status().shadow?.challenger === `${MODEL}@2.0.0`);
      const verdicts2 = (await submitAll('copy')).slice(-IMAGES);
      const series = (text: string, outcome: string) => Number(new RegExp(`revmod_shadow_images_total\\{champion="${MODEL}@1.0.0",challenger="${MODEL}@2.0.0",outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
      const counted = (text: string) => series(text, 'agree') + series(text, 'label_differs') + series(text, 'decision_differs');
      // Settled: every comparison made is logged and counted.
      let copyRecords: ShadowRecord[] = [];
      let text = '';
      await until('the comparisons of the round', async () => {
        text = await metrics.registry.metrics();
        copyRecords = await records();
        return copyRecords.length >= IMAGES - 2 && await settled(w, `${MODEL}@2.0.0`) && counted(text) === copyRecords.length;
      });
      expect(new Set(copyRecords.map((r) => r.build))).toEqual(new Set(['copy']));
      const byJob = new Map(verdicts2.map((v) => [v.jobId, v]));
      let disagreements = 0;
      for (const r of copyRecords) {
        const v = byJob.get(r.jobId)!;
        // The champion's side is the verdict as published; the challenger saw the very same tensor.
        expect(r.champion).toEqual(expect.objectContaining({ model: `${MODEL}@1.0.0`, decision: v.decision, label: v.label, violate: v.violate }));
        expect(Math.abs(r.challenger.violate - v.violate!)).toBeLessThan(1e-6);
        expect(r.challenger.decision).toBe(r.challenger.violate >= 0.3 ? 'review' : 'pass');
        if (r.champion.decision !== r.challenger.decision) {
          disagreements += 1;
          expect(r.champion.decision).toBe('pass');
          // REVMOD_SHADOW_REVIEW_RATE=1: every such disagreement goes to people, filed blind.
          expect(r.sampled).toBe(true);
          expect((await review.getJob(r.jobId))?.name).toBe(SHADOW_SAMPLE_JOB_NAME);
        } else {
          expect(r.sampled).toBe(false);
        }
      }
      expect(disagreements).toBeGreaterThanOrEqual(5);
      expect(disagreements).toBeLessThan(copyRecords.length);
      // The verdicts are the champion's alone.
      expect(collector.verdicts.every((v) => v.model.version === '1.0.0' && v.error === undefined)).toBe(true);

      expect(series(text, 'decision_differs')).toBe(disagreements);
      expect(series(text, 'agree') + series(text, 'label_differs')).toBe(copyRecords.length - disagreements);
      expect(text).toMatch(new RegExp(`revmod_shadow_seconds_total\\{challenger="${MODEL}@2.0.0",stage="infer"\\} [0-9.e-]+`));
      metrics.attachWorker(w);
      expect(await metrics.registry.metrics()).toContain(`revmod_shadow_state{alias="challenger",challenger="${MODEL}@2.0.0",state="scoring"} 1`);

      // People settle two disagreements and one agreement; eval shadow says who was right.
      const differing = copyRecords.filter((r) => r.champion.decision !== r.challenger.decision);
      const agreeing = copyRecords.find((r) => r.champion.decision === r.challenger.decision && r.champion.decision === 'pass')!;
      const log = new DecisionLog({ s3: s3.client, bucket: LOGS, prefix: config.review.logPrefix });
      const decide = (r: ShadowRecord, outcome: 'pass' | 'block'): ReviewDecision => {
        const v = byJob.get(r.jobId)!;
        return {
          schemaVersion: 1, id: `${v.jobId}-r1`, jobId: v.jobId, bucket: v.bucket, key: v.key, sha256: null, round: 1, kind: 'sample', outcome, previousOutcome: null,
          reasons: outcome === 'block' ? ['contact_info'] : [], reviewer: { id: 'rev', role: 'reviewer' }, escalated: false, enqueuedAt: v.decidedAt, claimedAt: v.decidedAt,
          decidedAt: new Date().toISOString(), modelDecision: v.decision, overturned: outcome !== 'pass', model: v.model, meta: v.meta, verdict: v,
        };
      };
      await Promise.all([log.append(decide(differing[0]!, 'block')), log.append(decide(differing[1]!, 'pass')), log.append(decide(agreeing, 'pass'))]);
      const evalRun = await revmod('eval', 'shadow', '--since', '1h', '--json');
      expect(evalRun.code).toBe(0);
      const report = JSON.parse(evalRun.out) as ShadowReport;
      const pair = report.pairs.find((p) => p.challenger === `${MODEL}@2.0.0`)!;
      expect(pair.images).toBe(copyRecords.length);
      expect(pair.agreement.decision).toBeCloseTo((copyRecords.length - disagreements) / copyRecords.length, 5);
      expect(pair.decisions.pass.review).toBe(disagreements);
      expect(pair.sampled).toBe(disagreements);
      expect(pair.builds).toEqual({ copy: copyRecords.length });
      expect(pair.reviewed!.all).toEqual(expect.objectContaining({ images: 3, championCorrect: 2, challengerCorrect: 2 }));
      expect(pair.reviewed!.disagreements).toEqual(expect.objectContaining({ images: 2, championCorrect: 1, challengerCorrect: 1 }));
      // The challenger, which decided nothing, calibrated from its shadow scores and those decisions:
      // the two disagreements were shadow samples (weight 1 at REVMOD_SHADOW_REVIEW_RATE=1), the
      // agreeing pass reached people by no sampling and is left out.
      const cal = await revmod('eval', 'calibrate', '--shadow', `${MODEL}@2.0.0`, '--since', '1h', '--model', join(dir, 'probe-2.0.0.onnx'), '--target-review-rate', '0.5', '--shadow-review-rate', '1', '--dry-run');
      expect(cal.code).toBe(0);
      const calibrated = JSON.parse(cal.out) as { source: string; skipped: number; models: Record<string, number>; calibration: { images: number } };
      expect(calibrated.source).toBe(`shadow log (${MODEL}@2.0.0)`);
      expect(calibrated.models).toEqual({ [`${MODEL}@2.0.0`]: 2 });
      expect(calibrated.skipped).toBe(1);
      const human = await revmod('eval', 'shadow', '--since', '1h');
      expect(human.out).toContain(`${MODEL}@2.0.0 in shadow of ${MODEL}@1.0.0`);

      // 3.0.0 squashes instead of cropping: it gets tensors of its own (a second decode).
      expect((await revmod('model', 'alias', 'challenger', '3.0.0', '--registry', 's3://registry/ml')).code).toBe(0);
      await until('challenger 3.0.0 scoring', () => w.status().shadow?.challenger === `${MODEL}@3.0.0`);
      await submitAll('decode');
      await until('comparisons with 3.0.0', async () => (await records()).filter((r) => r.challenger.model === `${MODEL}@3.0.0`).length >= IMAGES - 2 && await settled(w, `${MODEL}@3.0.0`));
      const own = (await records()).filter((r) => r.challenger.model === `${MODEL}@3.0.0`);
      expect(new Set(own.map((r) => r.build))).toEqual(new Set(['decode']));
      // A solid image is the same squashed or cropped: the scores agree to float rounding.
      for (const r of own) expect(Math.abs(r.challenger.violate - r.champion.violate)).toBeLessThan(1e-3);

      // A broken challenger: reported, no comparisons, the champion serves on.
      expect((await revmod('model', 'alias', 'challenger', '4.0.0', '--registry', 's3://registry/ml')).code).toBe(0);
      await until('the failed challenger reported', () => w.status().shadow?.state === 'failed');
      expect(w.status().shadow!.lastError).toEqual(expect.objectContaining({ version: '4.0.0' }));
      const before = (await records()).length;
      const after = await submitAll('broken');
      expect(after.slice(-IMAGES).every((v) => v.error === undefined && v.model.version === '1.0.0')).toBe(true);
      expect(w.ready).toBe(true);
      expect((await records()).length).toBe(before);

      // Promoting the challenger's version pauses shadow scoring (nothing to compare).
      expect((await revmod('model', 'alias', 'challenger', '2.0.0', '--registry', 's3://registry/ml')).code).toBe(0);
      await until('challenger 2.0.0 again', () => w.status().shadow?.state === 'scoring');
      expect((await revmod('model', 'alias', 'champion', '2.0.0', '--registry', 's3://registry/ml')).code).toBe(0);
      await until('same as the champion', () => w.status().shadow?.state === 'same-as-champion');
      // Removing the alias ends it.
      expect((await revmod('model', 'unalias', 'challenger', '--registry', 's3://registry/ml')).code).toBe(0);
      await until('no challenger', () => w.status().shadow?.state === 'unset');
      expect((await revmod('model', 'unalias', 'champion', '--registry', 's3://registry/ml')).code).not.toBe(0);

      // Every job got exactly one verdict.
      expect(collector.verdicts).toHaveLength(submitted);
      expect(new Set(collector.verdicts.map((v) => v.jobId)).size).toBe(submitted);
    } finally {
      await client.close();
      await collector.close();
      await review.close();
      await worker?.close(10_000);
      redis.disconnect();
    }
  }, 180_000);
});
