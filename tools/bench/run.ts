/**
 * `npm run bench` — end-to-end throughput and latency of the worker on this machine, the stage
 * bounds, preprocessing parity, and the tutorial's reference server side by side; writes
 * docs/benchmarks.md. `npm run bench:soak` (or `--soak`) — a long run watching RSS. `--help` for flags.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadConfig, type RevmodConfig } from '../../src/config';
import { ensureModel } from '../model-gen/ensure-model';
import { loadModel } from '../../src/model/load-model';
import { cardInputGeometry } from '../../src/model/model-card';
import { preprocessImage } from '../../src/preprocess';
import { Harness, type BurstResult } from './end-to-end';
import { SIZE_CLASSES, loadImages, type BenchImage, type SizeClass } from './images';
import { CleanupStack } from '../dev/cleanup-stack';
import { ensureRedis } from '../dev/redis-server';
import { deletePrefix, uniquePrefix } from '../dev/redis-keys';
import { S3Server } from '../dev/s3-server';
import { machineInfo } from './infra';
import { mib } from './measure';
import { ensureReferenceOnnx, linkFolder, pythonHasTorch, referenceCacheDir, revmodCardForReference, runLoad, startReferenceServer, type LoadResult, type ReferenceServer } from './reference';
import { medianRun, previousSoakSummary, renderBench, renderSoak, writeReport, type BenchResults, type ReferenceResults, type RunSettings, type SoakResults } from './report';
import { benchInference, benchPreprocess, measureParity, stageBound, type InferenceResult, type PreprocessResult } from './stages';
import { benchDecodeFloor } from './decode-floor';
import { benchFeedRate, type FeedRun } from './feed-rate';
import { benchInt8, type Int8Report } from './int8';
import { renderPerf, type PerfResults } from './report-perf';
import { quantizeModel } from '../../src/quantize/quantize-model';
import { benchFrameCost, renderFrameCost, type FrameCostResult } from './frame-cost';

// The pinned AWS SDK's notice about future Node versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const REPO_ROOT = resolve(__dirname, '../..');
const SHARED = resolve(REPO_ROOT, '../shared');
const BUCKET = 'revmod-bench';

const HELP = `usage: npm run bench -- [options]        (npm run bench:soak -- [options] for the soak)

  --images DIR            photos to use (default ../shared/images, else samples/), cycled in name order
  --count N               images per end-to-end burst (default 300)
  --repeat N              end-to-end bursts, each followed by a turn of the reference (default 3)
  --class-count N         images per size-class burst, 0 to skip (default 96)
  --low-load-count N      one-at-a-time submits of ~1 MP photos, 0 to skip (default 40)
  --other-mode-count N    one more burst with the other preprocess mode, 0 to skip (default 300)
  --reference / --no-reference
                          run the reference server side by side (default: on when /usr/bin/python3 imports torch);
                          revmod then loads the reference's seed-0 ONNX export (like for like)
  --reference-count N     requests per load.py run (default 150)
  --reference-threads N   TORCH_THREADS for the reference (default: unset, as the tutorial runs it)
  --model PATH            ONNX model with its card (default: the reference export, else the generated seed-0 ResNet18)
  --batch N  --max-wait MS  --concurrency N  --intra-op N  --mode torchvision|fast
                          worker settings (default: the worker's config: REVMOD_* variables, then defaults)
  --stage-seconds S       minimum time per stage measurement (default 1.5)
  --no-int8               skip the int8 model (quantised from the fp32 one with \`revmod model quantize\`,
                          calibrated on the bench images): its bursts beside fp32's, and npm run bench:int8's check
  --no-detectors          skip the detector cost rows (npm run bench:frame: the frame, the cheap detectors by size
                          class, OCR per text image, animated frames)
  --feed-count N          images per GPU stand-in feed-rate run (probe model, taskset 1 and 2 cores, 2 processes), 0 to skip (default 300)
  --e2e-only              only the end-to-end bursts and the low-load run, summary lines, no report (for tuning)
  --soak                  soak instead: --soak-count images (default 20000), RSS over time
  --out FILE              report file (default docs/benchmarks.md); --no-write to only print
`;

class UsageError extends Error {}

function parse() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        images: { type: 'string' },
        count: { type: 'string', default: '300' },
        repeat: { type: 'string', default: '3' },
        'class-count': { type: 'string', default: '96' },
        'low-load-count': { type: 'string', default: '40' },
        'other-mode-count': { type: 'string', default: '300' },
        reference: { type: 'boolean' },
        'no-reference': { type: 'boolean' },
        'reference-count': { type: 'string', default: '150' },
        'reference-threads': { type: 'string' },
        model: { type: 'string' },
        batch: { type: 'string' },
        'max-wait': { type: 'string' },
        concurrency: { type: 'string' },
        'intra-op': { type: 'string' },
        mode: { type: 'string' },
        'stage-seconds': { type: 'string', default: '1.5' },
        'no-int8': { type: 'boolean', default: false },
        'no-detectors': { type: 'boolean', default: false },
        'feed-count': { type: 'string', default: '300' },
        soak: { type: 'boolean', default: false },
        'e2e-only': { type: 'boolean', default: false },
        'soak-count': { type: 'string', default: '20000' },
        out: { type: 'string' },
        'no-write': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values } = parsed;
  const int = (name: string, v: string | undefined, min = 0): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${v}`);
    return n;
  };
  const stageSeconds = Number(values['stage-seconds']);
  if (!(stageSeconds > 0)) throw new UsageError(`--stage-seconds must be a positive number, got ${values['stage-seconds']}`);
  const mode = values.mode;
  if (mode !== undefined && mode !== 'torchvision' && mode !== 'fast') throw new UsageError(`--mode must be torchvision or fast, got ${mode}`);
  return {
    help: values.help,
    // ../shared/images beside the checkout when present, else the photos shipped in samples/.
    imagesDir: resolve(values.images ?? (existsSync(resolve(SHARED, 'images')) ? resolve(SHARED, 'images') : resolve(REPO_ROOT, 'samples'))),
    count: int('count', values.count, 1)!,
    repeat: int('repeat', values.repeat, 1)!,
    classCount: int('class-count', values['class-count'])!,
    lowLoadCount: int('low-load-count', values['low-load-count'])!,
    otherModeCount: int('other-mode-count', values['other-mode-count'])!,
    reference: values['no-reference'] ? false : values.reference,
    referenceCount: int('reference-count', values['reference-count'], 1)!,
    referenceThreads: int('reference-threads', values['reference-threads'], 1),
    model: values.model,
    batch: int('batch', values.batch, 1),
    maxWait: int('max-wait', values['max-wait']),
    concurrency: int('concurrency', values.concurrency),
    intraOp: int('intra-op', values['intra-op']),
    mode: mode as 'torchvision' | 'fast' | undefined,
    stageSeconds,
    int8: !values['no-int8'],
    detectors: !values['no-detectors'],
    feedCount: int('feed-count', values['feed-count'])!,
    soak: values.soak,
    e2eOnly: values['e2e-only'],
    soakCount: int('soak-count', values['soak-count'], 1)!,
    out: resolve(REPO_ROOT, values.out ?? 'docs/benchmarks.md'),
    write: !values['no-write'],
  };
}

type Options = ReturnType<typeof parse>;

function commandLine(): string {
  const event = process.env.npm_lifecycle_event;
  // bench/soak.ts adds --soak itself.
  const args = process.argv.slice(event === 'soak' && process.argv[2] === '--soak' ? 3 : 2);
  const env = Object.entries(process.env)
    .filter(([k]) => /^(UV_THREADPOOL_SIZE|VIPS_CONCURRENCY|MALLOC_ARENA_MAX|REVMOD_[A-Z_]+|REDIS_URL)$/.test(k))
    .map(([k, v]) => `${k}=${v}`);
  const cmd = event === 'bench' || event === 'soak' ? `npm run ${event}${args.length > 0 ? ` -- ${args.join(' ')}` : ''}` : `npx tsx bench/run.ts ${args.join(' ')}`.trim();
  return [...env, cmd].join(' ');
}

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};

function describeMix(images: readonly BenchImage[]): string {
  return SIZE_CLASSES.map((c) => [c, images.filter((i) => i.sizeClass === c).length] as const)
    .filter(([, n]) => n > 0).map(([c, n]) => `${n} × ${c}`).join(', ');
}

async function chooseModel(o: Options, cleanups: CleanupStack): Promise<{ modelPath: string; reference: boolean; skipped?: string }> {
  let reference = o.reference;
  let skipped: string | undefined;
  if (reference === undefined) {
    reference = pythonHasTorch();
    if (!reference) skipped = '/usr/bin/python3 cannot import torch';
  } else if (!reference) {
    skipped = '--no-reference';
  }
  if (o.model) return { modelPath: resolve(o.model), reference, ...(skipped ? { skipped } : {}) };
  if (reference) {
    try {
      const onnx = ensureReferenceOnnx(resolve(SHARED, 'reference'));
      return { modelPath: revmodCardForReference(onnx, cleanups), reference };
    } catch (err) {
      skipped = `its ONNX export failed: ${(err as Error).message}`;
      reference = false;
    }
  }
  return { modelPath: (await ensureModel({ kind: 'resnet18' })).modelPath, reference, ...(skipped ? { skipped } : {}) };
}

function settingsOf(config: RevmodConfig, harness: Harness, images: readonly BenchImage[], imagesDir: string): RunSettings {
  return {
    command: commandLine(),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: machineInfo(),
    model: harness.modelName,
    modelSha: harness.modelSha,
    provider: harness.provider,
    batchSize: config.batch.size,
    maxWaitMs: config.batch.maxWaitMs,
    concurrency: config.worker.concurrency > 0 ? config.worker.concurrency : 2 * config.batch.size,
    intraOpThreads: config.model.intraOpThreads,
    preprocessMode: config.model.preprocessMode,
    uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    sharpConcurrency: sharp.concurrency(),
    imagesDir,
    imageCount: images.length,
    imageMix: describeMix(images),
  };
}

async function main(): Promise<void> {
  const o = parse();
  if (o.help) {
    process.stdout.write(HELP);
    return;
  }
  const cleanups = new CleanupStack();
  cleanups.installSignalHandlers('the benchmark');
  try {
    await (o.soak ? soak(o, cleanups) : bench(o, cleanups));
  } finally {
    await cleanups.run();
  }
}

/** Redis, the S3 server with the photos uploaded, and the worker's config. */
async function setUp(o: Options, cleanups: CleanupStack, modelPath: string, images: readonly BenchImage[]): Promise<{ config: RevmodConfig; s3Pid: number | undefined }> {
  const redis = await ensureRedis();
  cleanups.add('redis-server', () => redis.stop());
  log(`redis ${redis.url}${redis.started ? ' (started for this run)' : ''}`);
  const prefix = uniquePrefix('bench');
  cleanups.add('redis keys', async () => { await deletePrefix({ url: redis.url, prefix }); });
  const s3 = await S3Server.start({ inChildProcess: true, buckets: [BUCKET] });
  cleanups.add('s3 server', () => s3.close());
  for (const img of images) await s3.put(BUCKET, `images/${img.name}`, img.bytes);
  log(`s3rver ${s3.endpoint} (child pid ${s3.pid}), ${images.length} photos uploaded`);
  const base = loadConfig({}, process.env);
  const config = loadConfig({
    redis: { url: redis.url, prefix },
    s3: s3.s3Config,
    requests: { allowedBuckets: [BUCKET] },
    model: {
      path: modelPath,
      // The generated ResNet18 is untrained: speed is what is measured here.
      allowUntrained: true,
      executionProvider: base.model.executionProvider,
      intraOpThreads: o.intraOp ?? base.model.intraOpThreads,
      preprocessMode: o.mode ?? base.model.preprocessMode,
    },
    batch: { size: o.batch ?? base.batch.size, maxWaitMs: o.maxWait ?? base.batch.maxWaitMs },
    worker: { concurrency: o.concurrency ?? base.worker.concurrency },
    log: { level: 'error' },
  }, process.env);
  return { config, s3Pid: s3.pid };
}

async function bench(o: Options, cleanups: CleanupStack): Promise<void> {
  const t0 = Date.now();
  const loadAtStart = loadavg()[0]!;
  const images = await loadImages(o.imagesDir);
  log(`${images.length} photos from ${o.imagesDir}: ${describeMix(images)}`);
  const model = await chooseModel(o, cleanups);
  log(`model ${model.modelPath}; reference ${model.reference ? 'on' : `off (${model.skipped})`}`);
  const { config, s3Pid } = await setUp(o, cleanups, model.modelPath, images);
  const geometry = cardInputGeometry((await loadModel(model.modelPath)).card);
  const prepOptions = { maxPixels: config.limits.maxPixels, allowSvg: config.limits.allowSvg, mode: config.model.preprocessMode, ...geometry };
  const present = SIZE_CLASSES.filter((c) => images.some((i) => i.sizeClass === c));
  const ofClass = (c: SizeClass) => images.filter((i) => i.sizeClass === c);

  if (o.e2eOnly) return e2eOnly(o, cleanups, config, s3Pid, images);

  // Stage bounds, with nothing else running in this process.
  log('stage: inference alone');
  const crops = await Promise.all(images.map(async (i) => (await preprocessImage(i.bytes, prepOptions)).rgb));
  const inference = await benchInference(crops, {
    modelPath: config.model.path, executionProvider: config.model.executionProvider, intraOpThreads: config.model.intraOpThreads,
    batchSizes: [...new Set([1, config.batch.size])], minSeconds: o.stageSeconds,
  });
  log('stage: preprocessing alone');
  const preprocess: PreprocessResult[] = [];
  for (const c of present) {
    for (const mode of ['torchvision', 'fast'] as const) {
      for (const inFlight of [1, 2]) preprocess.push(await benchPreprocess(ofClass(c), { ...prepOptions, mode }, inFlight, o.stageSeconds, c));
    }
  }
  const mix = await benchPreprocess(images, prepOptions, 2, o.stageSeconds * 2, 'mix');
  const inferAtBatch = inference.find((i) => i.batch === config.batch.size) ?? inference[inference.length - 1]!;
  const bound = stageBound(machineInfo().cores, inferAtBatch, mix);
  log('stage: decode floor');
  const floor = await benchDecodeFloor(images, present.filter((c) => c !== 'small'), 2);
  for (const x of floor) log(`floor ${x.sizeClass} ${x.path}: ${x.cpuMsPerImage.toFixed(1)} ms CPU/img`);
  // The int8 model: the fp32 one quantised as a user would, calibrated on the bench's photos (speed is what this run measures of it).
  let int8Path: string | undefined;
  let inferenceInt8: InferenceResult | undefined;
  if (o.int8) {
    int8Path = join(mkdtempSync(join(tmpdir(), 'revmod-bench-int8-')), 'model-int8.onnx');
    const q = await quantizeModel(config.model.path, int8Path, { calibrateDir: o.imagesDir });
    log(`int8 model ${int8Path}: ${q.bytesOut} bytes; calibration check ${q.check.sameTopClass}/${q.check.images} top class equal`);
    inferenceInt8 = (await benchInference(crops, {
      modelPath: int8Path, executionProvider: config.model.executionProvider, intraOpThreads: config.model.intraOpThreads,
      batchSizes: [config.batch.size], minSeconds: o.stageSeconds,
    }))[0];
  }
  log('parity');
  const parity = await measureParity(resolve(SHARED, 'parity'), o.imagesDir, prepOptions);

  // End to end, and the reference server in turns with it: each burst is followed by the
  // reference's load runs, so that both see the same moment of a shared machine. Neither does any
  // work while the other runs (an idle worker waits in a blocking Redis call; Flask waits in accept).
  const harness = new Harness({ config, bucket: BUCKET, s3Pid });
  cleanups.add('worker', () => harness.close());
  await harness.start();
  log(`worker ready (${harness.modelName} on ${harness.provider}); warm-up`);
  await harness.burst('warm-up', images, 2 * config.batch.size);
  let harness8: Harness | undefined;
  if (int8Path) {
    const prefix8 = `${config.redis.prefix}-int8`;
    cleanups.add('redis keys (int8)', async () => { await deletePrefix({ url: config.redis.url, prefix: prefix8 }); });
    harness8 = new Harness({ config: { ...config, redis: { ...config.redis, prefix: prefix8 }, model: { ...config.model, path: int8Path } }, bucket: BUCKET, s3Pid });
    cleanups.add('worker (int8)', () => harness8!.close());
    await harness8.start();
    await harness8.burst('warm-up', images, 2 * config.batch.size);
  }
  const referenceDir = resolve(SHARED, 'reference');
  let server: ReferenceServer | undefined;
  let referenceSkipped = model.skipped;
  if (model.reference) {
    try {
      log(`reference server: starting ${resolve(referenceDir, 'serve-seed.sh')} (model in ${referenceCacheDir()})`);
      server = await startReferenceServer(referenceDir, cleanups, o.referenceThreads);
    } catch (err) {
      referenceSkipped = `failed to start: ${(err as Error).message}`;
      log(`reference ${referenceSkipped}`);
    }
  }
  const referenceTurns: LoadResult[] = [];
  const referenceTurn = async (label: string, dir: string, count: number, concurrency: readonly number[], warmup: number): Promise<LoadResult | undefined> => {
    if (!server) return undefined;
    try {
      const r = await runLoad(referenceDir, server, dir, { count, concurrency, warmup });
      log(`reference ${label}: ${r.runs.map((x) => `c=${x.concurrency} ${x.images_per_s.toFixed(1)} img/s p50 ${x.p50_ms.toFixed(0)} ms`).join(', ')}`);
      return r;
    } catch (err) {
      referenceSkipped = `load.py failed: ${(err as Error).message}`;
      log(`reference ${referenceSkipped}`);
      await server.stop();
      server = undefined;
      return undefined;
    }
  };
  const e2e: BurstResult[] = [];
  const perfTurns: Array<PerfResults['turns'][number]> = [];
  for (let i = 0; i < o.repeat; i++) {
    const r = await harness.burst(`burst ${i + 1}`, images, o.count);
    log(`end to end ${i + 1}/${o.repeat}: ${r.imagesPerS.toFixed(1)} img/s, mean batch ${r.meanBatch.toFixed(1)}, errors ${r.errors}, cores elsewhere ${r.coresElsewhere.toFixed(2)}`);
    if (r.errors > 0) log(`  errors: ${r.errorSamples.join('; ')}`);
    e2e.push(r);
    const r8 = harness8 ? await harness8.burst(`int8 burst ${i + 1}`, images, o.count) : undefined;
    if (r8) log(`int8 end to end ${i + 1}/${o.repeat}: ${r8.imagesPerS.toFixed(1)} img/s, CPU ${r8.cpuMsPerImage.toFixed(1)} ms/img (inference ${r8.inferCpuMsPerImage.toFixed(1)}), errors ${r8.errors}, cores elsewhere ${r8.coresElsewhere.toFixed(2)}`);
    const ref = await referenceTurn(`turn ${i + 1}/${o.repeat}`, o.imagesDir, o.referenceCount, [1, 4], i === 0 ? 4 : 0);
    if (ref) referenceTurns.push(ref);
    perfTurns.push({ fp32: r, int8: r8, reference: ref });
  }
  const byClass: BurstResult[] = [];
  if (o.classCount > 0) {
    for (const c of present) {
      const r = await harness.burst(c, ofClass(c), o.classCount);
      log(`size class ${c}: ${r.imagesPerS.toFixed(1)} img/s, CPU outside inference ${r.outsideCpuMsPerImage.toFixed(1)} ms/img`);
      byClass.push(r);
    }
  }
  const lowLoadSet = ofClass('~1 MP').length > 0 ? ofClass('~1 MP') : images;
  let lowLoad: BurstResult | undefined;
  let referenceLow: LoadResult | undefined;
  if (o.lowLoadCount > 0) {
    lowLoad = await harness.oneAtATime('low load', lowLoadSet, o.lowLoadCount);
    log(`low load: p50 ${lowLoad.receivedMs.p50.toFixed(0)} ms, p95 ${lowLoad.receivedMs.p95.toFixed(0)} ms`);
    if (server) referenceLow = await referenceTurn('low load', linkFolder(o.imagesDir, lowLoadSet.map((i) => i.name), cleanups), o.lowLoadCount, [1], 2);
  }
  const settings = settingsOf(config, harness, images, o.imagesDir);
  const peakRssMiB = harness.peakRssMiB;
  await harness.close();
  await harness8?.close();
  await server?.stop();

  // The other preprocess mode, end to end (a worker of its own, same queues).
  let otherMode: BurstResult | undefined;
  if (o.otherModeCount > 0) {
    const mode = config.model.preprocessMode === 'torchvision' ? 'fast' : 'torchvision';
    const other = new Harness({ config: { ...config, model: { ...config.model, preprocessMode: mode } }, bucket: BUCKET, s3Pid });
    cleanups.add(`worker (${mode})`, () => other.close());
    await other.start();
    await other.burst('warm-up', images, 2 * config.batch.size);
    otherMode = await other.burst(`'${mode}' mode`, images, o.otherModeCount);
    log(`'${mode}' mode end to end: ${otherMode.imagesPerS.toFixed(1)} img/s, CPU outside inference ${otherMode.outsideCpuMsPerImage.toFixed(1)} ms/img, cores elsewhere ${otherMode.coresElsewhere.toFixed(2)}`);
    await other.close();
  }
  const reference: ReferenceResults | undefined = referenceTurns.length > 0
    ? {
      turns: referenceTurns,
      runs: referenceTurns.flatMap((t) => t.runs),
      lowLoad: referenceLow?.runs ?? [],
      torchThreads: o.referenceThreads !== undefined ? String(o.referenceThreads) : 'default (TORCH_THREADS unset)',
    }
    : undefined;

  let feed: FeedRun[] = [];
  if (o.feedCount > 0) {
    log('GPU stand-in feed rate');
    feed = await benchFeedRate({ images, redisUrl: config.redis.url, count: o.feedCount, log });
  }
  let int8Check: Int8Report | undefined;
  if (o.int8) {
    log('int8 agreement and speed (bench:int8)');
    int8Check = await benchInt8({ useShared: true, seconds: o.stageSeconds * 2, log });
  }
  let frameCost: FrameCostResult | undefined;
  if (o.detectors) {
    log('detectors on against off (bench:frame)');
    frameCost = await benchFrameCost({ imagesDir: o.imagesDir, minMs: o.stageSeconds * 2000 });
  }
  const results: BenchResults = {
    settings, e2e, byClass, lowLoad, lowLoadImages: lowLoadSet.map((i) => `${i.width}×${i.height}`).filter((v, i, a) => a.indexOf(v) === i).join(', '),
    peakRssMiB, inference, preprocess, mix, bound, parity, reference, otherMode, ...(referenceSkipped ? { referenceSkipped } : {}),
    soakSummary: previousSoakSummary(o.out),
  };
  const soakSummary = results.soakSummary;
  const perf = renderPerf({
    cores: machineInfo().cores, loadAverage: [loadAtStart, loadavg()[0]!], floor, byClass, turns: perfTurns, inferenceFp32: inferAtBatch, inferenceInt8, mix, lowLoad,
    referenceLowLoad: referenceLow?.runs ?? [], feed, int8Check,
    parityWorstMax: parity && parity.length > 0 ? Math.max(...parity.map((p) => p.torchvision.max)) : undefined,
    soak: soakSummary ? { growthPct: soakSummary.growthPct, date: soakSummary.date } : undefined,
  });
  const text = `${renderBench(results)}\n\n${perf}${frameCost ? `\n\n${renderFrameCost(frameCost)}` : ''}`;
  if (o.write) {
    // The figures behind the performance section, so that it can be rendered again without a run.
    mkdirSync(resolve(REPO_ROOT, '.tmp'), { recursive: true });
    writeFileSync(resolve(REPO_ROOT, '.tmp/bench-perf.json'), JSON.stringify({ floor, byClass, turns: perfTurns, inferenceFp32: inferAtBatch, inferenceInt8, mix, lowLoad, feed, int8Check }, null, 1));
  }
  process.stdout.write(`\n${text}\n`);
  if (o.write) {
    writeReport(o.out, { bench: text });
    log(`wrote ${o.out}`);
  }
  log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s; median end to end ${medianRun(e2e).imagesPerS.toFixed(1)} img/s`);
}

async function e2eOnly(o: Options, cleanups: CleanupStack, config: RevmodConfig, s3Pid: number | undefined, images: readonly BenchImage[]): Promise<void> {
  const harness = new Harness({ config, bucket: BUCKET, s3Pid });
  cleanups.add('worker', () => harness.close());
  await harness.start();
  await harness.burst('warm-up', images, 2 * config.batch.size);
  const runs: BurstResult[] = [];
  for (let i = 0; i < o.repeat; i++) {
    const r = await harness.burst(`burst ${i + 1}`, images, o.count);
    runs.push(r);
    log(`burst ${i + 1}: ${r.imagesPerS.toFixed(1)} img/s, batch ${r.meanBatch.toFixed(1)}, CPU ms/img: infer ${r.inferCpuMsPerImage.toFixed(1)} outside ${r.outsideCpuMsPerImage.toFixed(1)} s3 ${r.s3CpuMsPerImage.toFixed(1)} redis ${r.redisCpuMsPerImage.toFixed(1)}; main ${r.mainThreadCpuMsPerImage.toFixed(1)} ELU ${r.eventLoopUtilization.toFixed(2)}; cores here ${r.coresThisProcess.toFixed(2)} elsewhere ${r.coresElsewhere.toFixed(2)}; fetch ${r.stages.fetchMs.toFixed(0)} decode ${r.stages.decodeMs.toFixed(0)} wait ${r.stages.batchWaitMs.toFixed(0)} infer/batch ${r.stages.inferMsPerBatch.toFixed(0)}`);
  }
  const ll = images.filter((i) => i.sizeClass === '~1 MP');
  if (o.lowLoadCount > 0) {
    const l = await harness.oneAtATime('low load', ll.length > 0 ? ll : images, o.lowLoadCount);
    log(`low load: p50 ${l.receivedMs.p50.toFixed(0)} p95 ${l.receivedMs.p95.toFixed(0)} ms; fetch ${l.stages.fetchMs.toFixed(1)} decode ${l.stages.decodeMs.toFixed(1)} wait ${l.stages.batchWaitMs.toFixed(1)} infer ${l.stages.inferMsPerBatch.toFixed(1)} publish ${l.stages.publishMsPerBatch.toFixed(1)} queue ${l.stages.queueMs.toFixed(1)}`);
  }
  const m = medianRun(runs);
  process.stdout.write(`E2E median ${m.imagesPerS.toFixed(1)} img/s of [${runs.map((r) => r.imagesPerS.toFixed(1)).join(', ')}] (batch ${config.batch.size}, wait ${config.batch.maxWaitMs}, intraOp ${config.model.intraOpThreads}, mode ${config.model.preprocessMode}, UV ${process.env.UV_THREADPOOL_SIZE ?? 4})\n`);
}

async function soak(o: Options, cleanups: CleanupStack): Promise<void> {
  const images = await loadImages(o.imagesDir);
  const model = o.model ? resolve(o.model) : (await ensureModel({ kind: 'resnet18' })).modelPath;
  if (!existsSync(model)) throw new Error(`model ${model} not found`);
  const { config, s3Pid } = await setUp(o, cleanups, model, images);
  const harness = new Harness({ config, bucket: BUCKET, s3Pid });
  cleanups.add('worker', () => harness.close());
  await harness.start();
  const warmupDone = Math.min(1000, Math.floor(o.soakCount / 10));
  const every = Math.max(100, Math.floor(o.soakCount / 20));
  const points: SoakResults['points'] = [];
  const point = (done: number, imagesPerS: number) => {
    const m = process.memoryUsage();
    points.push({ done, rssMiB: mib(m.rss), heapMiB: mib(m.heapUsed), imagesPerS });
    log(`soak ${done}/${o.soakCount}: RSS ${mib(m.rss).toFixed(0)} MiB, heap ${mib(m.heapUsed).toFixed(0)} MiB, ${imagesPerS.toFixed(1)} img/s`);
  };
  let lastAt = performance.now();
  let lastDone = 0;
  const { wallS, errors } = await harness.soak(images, o.soakCount, 8 * config.batch.size, (done) => {
    if (done === warmupDone || done % every === 0 || done === o.soakCount) {
      const now = performance.now();
      point(done, ((done - lastDone) * 1000) / (now - lastAt));
      lastAt = now;
      lastDone = done;
    }
  });
  const settings = settingsOf(config, harness, images, o.imagesDir);
  await harness.close();
  const text = renderSoak({ settings, count: o.soakCount, wallS, errors, points, warmupDone });
  process.stdout.write(`\n${text}\n`);
  if (o.write) {
    writeReport(o.out, { soak: text });
    log(`wrote ${o.out}`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n(npm run bench -- --help for the options)\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
