import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { clientConfigOf, loadConfig, type RevmodConfig } from '../../src/config';
import { ensureModel, type ModelKind } from '../model-gen/ensure-model';
import { ensureNsfwModel } from '../../src/model-import/ensure-nsfw-model';
import { DEFAULT_NSFWJS_VARIANT } from '../../src/model-import/nsfwjs';
import { ModerationClient, type Verdict, consumeVerdicts, createRedisConnection } from '@revmod/client';
import { formatShadowReport, shadowReport } from '../../src/eval/shadow-eval';
import { cardPathFor } from '../../src/model/model-card';
import { ModelRegistry } from '../../src/model/model-registry';
import { ShadowLog, type ShadowRecord } from '../../src/shadow/shadow-log';
import { ModerationWorker } from '../../src/worker/moderation-worker';
import { gpuDeviceNodes } from '../../src/model/execution-providers';
import { maskSignalForLog } from '../../src/detectors/text/mask';
import { deletePrefix } from '../dev/redis-keys';
import { ensureRedis } from '../dev/redis-server';
import { S3Server } from '../dev/s3-server';
import { runReviewDemo } from './review-demo';

export interface DemoOptions {
  /** Folder of photos to moderate. Default `samples/`. */
  readonly imagesDir: string;
  /** Each photo is uploaded this many times under distinct keys. Default 4. */
  readonly copies: number;
  /** Model to use when REVMOD_MODEL_PATH is unset: the bundled trained one, or a generated one. Default nsfwjs. */
  readonly model: DemoModel;
  readonly logger: Logger;
  /** Where the demo prints its verdict table. */
  readonly print: (line: string) => void;
  /** Then serve the review console over the review items until Ctrl-C (port, dataset folder). */
  readonly review?: { readonly port: number; readonly exportDir: string };
  /**
   * A model (.onnx, card beside it) to score in shadow: both go into a registry on the local S3,
   * the worker serves `@champion` and shadows `@challenger`, and the comparison is printed.
   */
  readonly challenger?: string;
}

export type DemoModel = 'nsfwjs' | ModelKind;
export const DEMO_MODELS: readonly DemoModel[] = ['nsfwjs', 'resnet18', 'probe'];
export const DEFAULT_DEMO_OPTIONS = { imagesDir: resolve('samples'), copies: 4, model: 'nsfwjs' as DemoModel };

const BUCKET = 'revmod-demo';

/** One line of what the detectors found, masked as in the logs (phone numbers and ids are personal data). */
function findings(v: Verdict): string {
  const parts: string[] = [];
  for (const [reason, evidence] of Object.entries(v.evidence ?? {})) {
    const signal = maskSignalForLog({ reason, evidence }).evidence as Record<string, unknown>;
    if (Array.isArray(signal.matches)) parts.push(`${reason}: ${(signal.matches as Array<{ kind: string; value: string }>).map((m) => `${m.kind} ${m.value}`).join(', ')}`);
    else if (typeof signal.host === 'string') parts.push(`${reason}: ${signal.host}`);
    else if (typeof signal.sharpness === 'number') parts.push(`${reason}: sharpness ${signal.sharpness} < ${String(signal.threshold)}`);
  }
  return parts.length > 0 ? ` [${parts.join('; ')}]` : '';
}

function row(v: Verdict): string {
  const score = typeof v.violate === 'number' ? v.violate.toFixed(3) : '  -  ';
  const extra = v.error ? `${v.error.code}: ${v.error.message}` : `${v.reasons.join(',') || 'ok'}; batch of ${v.batch?.size}${findings(v)}`;
  return `${v.decision.padEnd(6)} ${(v.label ?? '-').padEnd(7)} violate=${score}  ${String(Math.round(v.timings.totalMs)).padStart(5)} ms  ${v.key}  (${extra})`;
}

/**
 * The main job on embedded defaults: a local Redis (started if none answers), a local S3 server with
 * the sample photos, the generated model, one worker; submits every photo through the producer SDK,
 * prints each verdict as it arrives, then shuts everything down.
 */
const REGISTRY_BUCKET = 'revmod-demo-registry';

/** Pushes the champion and the challenger into a registry on the local S3; returns the champion's reference. */
async function demoRegistry(s3: S3Server, championPath: string, challengerPath: string, print: (line: string) => void): Promise<string> {
  await s3.createBucket(REGISTRY_BUCKET);
  const registry = new ModelRegistry(s3.client, { bucket: REGISTRY_BUCKET, prefix: '' });
  const push = async (path: string, alias: string) => {
    const card = JSON.parse(await readFile(cardPathFor(path), 'utf8')) as Record<string, unknown>;
    // Versions of one registry model: named after each card, so that two cards at 1.0.0 do not collide.
    const version = `${String(card.name)}-${String(card.version)}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 128);
    await registry.push(path, card, 'demo', version);
    await registry.setAlias('demo', alias, version);
    print(`registry s3://${REGISTRY_BUCKET}/models/demo: ${alias} = ${version}`);
  };
  await push(championPath, 'champion');
  await push(challengerPath, 'challenger');
  return `s3://${REGISTRY_BUCKET}/models/demo@champion`;
}

/** Waits for the challenger's last comparisons, then prints them as `revmod eval shadow` does. */
async function printShadow(worker: ModerationWorker, config: RevmodConfig, print: (line: string) => void): Promise<void> {
  const redis = createRedisConnection(config, 'producer');
  try {
    const log = new ShadowLog(redis, config.redis.prefix, config.shadow.logMaxEntries);
    let records: ShadowRecord[] = [];
    // Done when nothing waits for the challenger and every comparison it made is in the log.
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      records = [];
      for await (const r of log.read()) records.push(r);
      const s = worker.status().shadow;
      if (!s || (s.pending === 0 && records.length >= s.compared)) break;
    }
    const status = worker.status().shadow;
    if (status?.state !== 'scoring') print(`shadow scoring did not run: ${status?.state ?? 'off'}${status?.lastError ? ` (${status.lastError.message})` : ''}`);
    print(formatShadowReport(shadowReport(records)));
  } finally {
    redis.disconnect();
  }
}

export async function runDemo(options: DemoOptions): Promise<{ verdicts: Verdict[]; imagesPerSecond: number }> {
  const { print, logger } = options;
  const base = loadConfig();
  const redis = await ensureRedis(base.redis.url);
  print(redis.started ? `started redis-server at ${redis.url}` : `using the Redis at ${redis.url}`);
  const s3 = await S3Server.start({ buckets: [BUCKET] });
  print(`started a local S3 server (s3rver) at ${s3.endpoint}`);
  // The bundled trained model by default (converted from nsfwjs on first use, no network); the
  // generated ones on request.
  const modelPath = process.env.REVMOD_MODEL_PATH
    ?? (options.model === 'nsfwjs'
      ? (await ensureNsfwModel(DEFAULT_NSFWJS_VARIANT, undefined, { log: print })).modelPath
      : (await ensureModel({ kind: options.model })).modelPath);
  // Mesa's software Vulkan runs a MobileNet image in seconds and compiles its shaders for minutes:
  // small batches, no run deadline, time to load.
  const softwareVulkan = base.model.executionProvider === 'webgpu' && gpuDeviceNodes().length === 0;
  if (softwareVulkan) print('webgpu without a GPU device node: Dawn runs on a software Vulkan device (slow by design: seconds per image, minutes to compile shaders); batches of 4');
  const prefix = `revmod-demo-${process.pid}`;
  const served = options.challenger !== undefined ? await demoRegistry(s3, modelPath, options.challenger, print) : modelPath;
  const config: RevmodConfig = loadConfig({
    redis: { prefix },
    s3: s3.s3Config,
    ...(options.challenger !== undefined ? { shadow: { share: 1, reviewRate: options.review ? 1 : 0 } } : {}),
    // The generated models are untrained; a model given through REVMOD_MODEL_PATH is checked as usual.
    model: {
      path: served, allowUntrained: (process.env.REVMOD_MODEL_PATH === undefined && options.model !== 'nsfwjs') || base.model.allowUntrained,
      ...(softwareVulkan ? { inferenceTimeoutMs: 0, loadTimeoutMs: 900_000 } : {}),
    },
    ...(softwareVulkan ? { batch: { size: 4 } } : {}),
    // With the console, auto-passed photos are also sent to review as blind QC samples, so that there is work to show.
    ...(options.review ? { review: { sampleRate: 1 } } : {}),
  });
  let worker: ModerationWorker | undefined;
  let client: ModerationClient | undefined;
  let consumer: ReturnType<typeof consumeVerdicts> | undefined;
  try {
    const names = (await readdir(options.imagesDir)).filter((f) => /\.(jpe?g|png|webp|gif|avif|tiff?)$/i.test(f)).sort();
    if (names.length === 0) throw new Error(`no images in ${options.imagesDir}`);
    const keys: string[] = [];
    for (let copy = 0; copy < options.copies; copy++) {
      for (const name of names) {
        const key = `reviews/${copy}/${name}`;
        await s3.put(BUCKET, key, await readFile(join(options.imagesDir, name)));
        keys.push(key);
      }
    }
    // Photos the detectors catch (contact text, a QR code, a blurred photo), once each.
    const detectorDir = join(options.imagesDir, 'detectors');
    const detectorNames = existsSync(detectorDir) ? (await readdir(detectorDir)).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort() : [];
    for (const name of detectorNames) {
      const key = `reviews/detectors/${name}`;
      await s3.put(BUCKET, key, await readFile(join(detectorDir, name)));
      keys.push(key);
    }
    // Two items that must get error verdicts without disturbing their batch-mates.
    const first = await readFile(join(options.imagesDir, names[0]!));
    await s3.put(BUCKET, 'reviews/broken/truncated.jpg', first.subarray(0, Math.floor(first.length / 3)));
    keys.push('reviews/broken/truncated.jpg', 'reviews/broken/never-uploaded.jpg');
    print(`uploaded ${keys.length - 1} objects to s3://${BUCKET} (${detectorNames.length} for the detectors; one truncated; one key is missing on purpose)`);

    worker = new ModerationWorker(config, { logger });
    await worker.start();
    const { model, executionProvider } = worker.status();
    print(`worker ready: model ${model!.name}@${model!.version} (${model!.trained ? 'trained' : 'UNTRAINED demo weights'}) on ${executionProvider}, batches of ≤ ${config.batch.size}`);
    if (options.challenger !== undefined) {
      // The challenger loads in the background (the champion never waits for it); the demo does, so that every photo is shadowed.
      const w = worker;
      for (const deadline = Date.now() + 120_000; Date.now() < deadline && !['scoring', 'failed'].includes(w.status().shadow?.state ?? ''); ) await new Promise((r) => setTimeout(r, 50));
      const shadow = w.status().shadow;
      print(shadow?.state === 'scoring' ? `shadow scoring with ${shadow.challenger} (at most ${Math.round(shadow.share * 100)} % of the time)` : `no shadow scoring: ${shadow?.state ?? 'off'}${shadow?.lastError ? ` (${shadow.lastError.message})` : ''}`);
    }

    const verdicts: Verdict[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => { done = r; });
    consumer = consumeVerdicts({
      config: clientConfigOf(config),
      handler: (v) => {
        verdicts.push(v);
        print(row(v));
        if (verdicts.length === keys.length) done();
      },
    });
    client = new ModerationClient({ config: clientConfigOf(config) });
    const t0 = performance.now();
    await client.submitBulk(keys.map((key) => ({ bucket: BUCKET, key, meta: { source: 'demo' } })));
    const waitS = softwareVulkan ? 900 : 120;
    await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${verdicts.length}/${keys.length} verdicts after ${waitS} s`)), waitS * 1000))]);
    const seconds = (performance.now() - t0) / 1000;
    const counts = verdicts.reduce<Record<string, number>>((acc, v) => ({ ...acc, [v.decision]: (acc[v.decision] ?? 0) + 1 }), {});
    print(`${verdicts.length} verdicts in ${seconds.toFixed(2)} s (${(verdicts.length / seconds).toFixed(1)} images/s): ${JSON.stringify(counts)}; review-queue items: ${options.review ? verdicts.length : verdicts.length - (counts.pass ?? 0)}`);
    if (options.challenger !== undefined) await printShadow(worker, config, print);
    if (options.review) await runReviewDemo({ config, s3, bucket: BUCKET, port: options.review.port, exportDir: options.review.exportDir, logger, print });
    return { verdicts, imagesPerSecond: verdicts.length / seconds };
  } finally {
    await client?.close();
    await consumer?.close();
    await worker?.close(10_000);
    await deletePrefix({ url: config.redis.url, prefix: config.redis.prefix }).catch(() => undefined);
    await s3.close();
    await redis.stop();
  }
}
