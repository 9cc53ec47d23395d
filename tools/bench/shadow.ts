/**
 * `npm run bench:shadow`: what shadow scoring costs a saturated worker. One worker in this process
 * serves a registry alias (`…/models/NAME@champion`, the generated ResNet18 on CPU) with real
 * Redis and a local S3; each run starts a fresh worker with the `challenger` alias unset or at
 * another version and REVMOD_SHADOW_SHARE set, warms it up, then submits a burst of photos at once.
 * Printed per run: throughput, the share of images shadowed, the challenger's time (tensor build
 * and inference) per wall second against the configured share, skips by reason, and the build cost
 * per image. Challengers: `copy` (same card, the champion's tensor copied), `decode` (resize
 * 'squash': a second decode in the pool), `renormalize` (other mean/std: the same crops
 * normalized again). Figures, not asserts. `--help` for flags.
 */
import { existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { loadConfig, type RevmodConfig } from '../../src/config';
import { ModelRegistry } from '../../src/model/model-registry';
import { createWorkerMetrics } from '../../src/ops/metrics';
import type { PipelineObserver, ShadowSkip } from '../../src/pipeline/pipeline-observer';
import type { ShadowBuild } from '../../src/pool/decode-task';
import { CleanupStack } from '../dev/cleanup-stack';
import { deletePrefix, uniquePrefix } from '../dev/redis-keys';
import { ensureRedis } from '../dev/redis-server';
import { S3Server } from '../dev/s3-server';
import { defaultModelPath, ensureModel, generatedModelCard } from '../model-gen/ensure-model';
import { Harness, type BurstResult } from './end-to-end';
import { loadImages, sizeClassOf, type BenchImage } from './images';
import { machineInfo } from './infra';
import { toolArgs } from './tool-args';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const REPO_ROOT = resolve(__dirname, '../..');
const SHARED_IMAGES = resolve(REPO_ROOT, '../shared/images');
const PHOTOS = 'shadow-bench';
const REGISTRY = 'registry';
const DEFAULT_RUNS = 'none,copy:0.1,copy:0.25,copy:0.5,decode:0.25';

const HELP = `usage: npm run bench:shadow -- [options]

  --count N        images per measured burst, all submitted at once (default 600)
  --warm-up N      images per warm-up burst before each measured one (default 32)
  --batch N        REVMOD_BATCH_SIZE (default 32; 2 × batch jobs in flight)
  --runs LIST      runs in order, comma-separated: none (no challenger) or BUILD:SHARE with BUILD
                   copy, decode or renormalize (default ${DEFAULT_RUNS})
  --images DIR     photos (default ../shared/images, else photos generated from samples/)
  --help           this text
`;

/** The challenger's version for each way of building its tensors. */
const CHALLENGER_VERSION: Readonly<Record<ShadowBuild, string>> = { copy: '2', decode: '3', renormalize: '4' };

interface RunSpec {
  readonly label: string;
  /** undefined: the challenger alias is unset. */
  readonly build: ShadowBuild | undefined;
  readonly share: number;
}

interface Options {
  readonly count: number;
  readonly warmUp: number;
  readonly batch: number;
  readonly runs: readonly RunSpec[];
  readonly imagesDir: string | undefined;
}

function options(): Options {
  const { values, int, fail } = toolArgs('bench:shadow', HELP, {
    count: { type: 'string', default: '600' },
    'warm-up': { type: 'string', default: '32' },
    batch: { type: 'string', default: '32' },
    runs: { type: 'string', default: DEFAULT_RUNS },
    images: { type: 'string' },
  });
  const runs = values.runs.split(',').map((raw): RunSpec => {
    if (raw === 'none') return { label: 'no challenger', build: undefined, share: 0.25 };
    const m = /^(copy|decode|renormalize):(0(?:\.\d+)?|1(?:\.0+)?)$/.exec(raw);
    if (!m || !(Number(m[2]) > 0)) return fail(`--runs: each run must be none or copy|decode|renormalize:SHARE with 0 < SHARE ≤ 1, got ${JSON.stringify(raw)}`);
    return { label: `${m[1]} at ${m[2]}`, build: m[1] as ShadowBuild, share: Number(m[2]) };
  });
  return {
    count: int('count', values.count, 1), warmUp: int('warm-up', values['warm-up'], 1), batch: int('batch', values.batch, 1), runs,
    imagesDir: values.images ?? (existsSync(SHARED_IMAGES) ? SHARED_IMAGES : undefined),
  };
}

/** Without ../shared/images: samples/ and camera-sized copies of them (decode cost grows with pixels). */
async function generatedPhotos(): Promise<BenchImage[]> {
  const out: BenchImage[] = [];
  for (const img of await loadImages(join(REPO_ROOT, 'samples'))) {
    out.push(img);
    for (const [width, height] of [[1440, 1080], [4032, 3024]] as const) {
      const bytes = await sharp(img.bytes).rotate().resize(width, height, { fit: 'cover' }).jpeg({ quality: 88 }).toBuffer();
      out.push({ name: `${img.name.replace(/\.\w+$/, '')}_${width}x${height}.jpg`, bytes, width, height, format: 'jpeg', sizeClass: sizeClassOf(width, height) });
    }
  }
  return out;
}

/** The shadow hooks' running totals, as the worker reported them. */
interface Totals {
  readonly atMs: number;
  readonly verdicts: number;
  readonly builds: number;
  readonly buildMs: number;
  readonly inferMs: number;
  readonly compared: number;
  readonly skipped: Readonly<Record<ShadowSkip, number>>;
}

/**
 * Counts what the worker reports through its observer and forwards every hook to the worker's
 * metrics (whose exported counters are read back at the end as a check).
 */
class ShadowTally {
  private t = { verdicts: 0, builds: 0, buildMs: 0, inferMs: 0, compared: 0, skipped: { budget: 0, backlog: 0, failed: 0 } };
  private markAtVerdicts = -1;
  marked: Totals | undefined;
  /** When each cost was reported (ms, performance.now) and how much it was. */
  readonly costs: Array<readonly [number, number]> = [];

  observer(inner: PipelineObserver): PipelineObserver {
    return {
      ...inner,
      onVerdict: (v) => {
        this.t.verdicts += 1;
        if (this.t.verdicts === this.markAtVerdicts) this.marked = this.now();
        inner.onVerdict?.(v);
      },
      onShadow: (o) => { this.t.compared += 1; inner.onShadow?.(o); },
      onShadowSkipped: (reason, challenger) => { this.t.skipped[reason] += 1; inner.onShadowSkipped?.(reason, challenger); },
      onShadowCost: (stage, ms, challenger) => {
        this.costs.push([performance.now(), ms]);
        if (stage === 'build') {
          this.t.builds += 1;
          this.t.buildMs += ms;
        } else {
          this.t.inferMs += ms;
        }
        inner.onShadowCost?.(stage, ms, challenger);
      },
    };
  }

  now(): Totals {
    return { atMs: performance.now(), ...this.t, skipped: { ...this.t.skipped } };
  }

  /** Takes a snapshot when the worker has published `n` more verdicts than now. */
  markAfter(n: number): void {
    this.marked = undefined;
    this.markAtVerdicts = this.t.verdicts + n;
  }

  /** Images handed to the challenger and not yet compared (or failed). */
  get pending(): number {
    return this.t.builds - this.t.compared - this.t.skipped.failed;
  }
}

interface RunResult {
  readonly spec: RunSpec;
  readonly challenger: string | undefined;
  readonly burst: BurstResult;
  /** Over the burst: from the first submit to the last verdict received. */
  readonly window: { readonly wallMs: number; readonly buildMs: number; readonly inferMs: number };
  /** Over its second half: from the worker's (count/2)-th verdict to the end. */
  readonly secondHalf: { readonly wallMs: number; readonly buildMs: number; readonly inferMs: number } | undefined;
  /** The burst's images, after the challenger finished them. */
  readonly shadowed: number;
  readonly builds: number;
  readonly buildMs: number;
  readonly inferMs: number;
  readonly skipped: Readonly<Record<ShadowSkip, number>>;
  /** Challenger seconds reported per wall second, in bins of BIN_MS from the first submit to the last verdict. */
  readonly bins: readonly number[];
  /** Seconds the challenger went on after the last verdict. */
  readonly drainS: number;
  /** A difference between the hooks' totals and revmod_shadow_seconds_total / _skipped_total. */
  readonly exportMismatch: string | undefined;
}

const BIN_MS = 5_000;

/** Cost reported per wall ms in consecutive bins of [from, to) (the last bin may be shorter). */
function binned(costs: ReadonlyArray<readonly [number, number]>, from: number, to: number): number[] {
  const bins = Array.from({ length: Math.max(1, Math.ceil((to - from) / BIN_MS)) }, () => 0);
  for (const [at, ms] of costs) if (at >= from && at < to) bins[Math.floor((at - from) / BIN_MS)]! += ms;
  return bins.map((ms, i) => ms / (Math.min(to, from + (i + 1) * BIN_MS) - (from + i * BIN_MS)));
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The exported shadow counters, summed over challengers. */
async function exported(metrics: ReturnType<typeof createWorkerMetrics>): Promise<{ seconds: Record<string, number>; skipped: Record<string, number> }> {
  const sum = async (name: string, label: string): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    const metric = metrics.registry.getSingleMetric(name);
    for (const v of (await metric?.get())?.values ?? []) {
      const key = String(v.labels[label]);
      out[key] = (out[key] ?? 0) + v.value;
    }
    return out;
  };
  return { seconds: await sum('revmod_shadow_seconds_total', 'stage'), skipped: await sum('revmod_shadow_skipped_total', 'reason') };
}

async function run(spec: RunSpec, o: Options, base: RevmodConfig, registry: ModelRegistry, model: string, images: readonly BenchImage[], s3Pid: number | undefined): Promise<RunResult> {
  if (spec.build) await registry.setAlias(model, 'challenger', CHALLENGER_VERSION[spec.build]);
  else await registry.removeAlias(model, 'challenger');
  const prefix = uniquePrefix('bench-shadow');
  const config: RevmodConfig = { ...base, redis: { ...base.redis, prefix }, shadow: { ...base.shadow, share: spec.share } };
  const metrics = createWorkerMetrics({ defaultMetrics: false });
  const tally = new ShadowTally();
  const harness = new Harness({ config, bucket: PHOTOS, ...(s3Pid !== undefined ? { s3Pid } : {}), observer: tally.observer(metrics.observer) });
  try {
    await harness.start();
    const want = spec.build ? 'scoring' : 'unset';
    await until(`the shadow lane to be ${want}`, () => harness.status().shadow?.state === want, 120_000);
    const challenger = harness.status().shadow?.challenger;
    await harness.burst('warm-up', images, o.warmUp);
    await until('the challenger to finish the warm-up', () => tally.pending === 0, 120_000);
    const before = tally.now();
    tally.markAfter(Math.ceil(o.count / 2));
    const burst = await harness.burst(spec.label, images, o.count);
    const end = tally.now();
    await until('the challenger to finish the burst', () => tally.pending === 0, 300_000);
    const drained = tally.now();
    const half = tally.marked;
    const seen = await exported(metrics);
    const mismatches = [
      ...(['build', 'infer'] as const).map((stage) => [`seconds{stage=${stage}}`, seen.seconds[stage] ?? 0, (stage === 'build' ? drained.buildMs : drained.inferMs) / 1000] as const),
      ...(['budget', 'backlog', 'failed'] as const).map((reason) => [`skipped{reason=${reason}}`, seen.skipped[reason] ?? 0, drained.skipped[reason]] as const),
    ].filter(([, a, b]) => Math.abs(a - b) > 1e-6 * Math.max(1, Math.abs(b)));
    return {
      spec, challenger, burst,
      window: { wallMs: end.atMs - before.atMs, buildMs: end.buildMs - before.buildMs, inferMs: end.inferMs - before.inferMs },
      secondHalf: half ? { wallMs: end.atMs - half.atMs, buildMs: end.buildMs - half.buildMs, inferMs: end.inferMs - half.inferMs } : undefined,
      shadowed: drained.compared - before.compared,
      builds: drained.builds - before.builds,
      buildMs: drained.buildMs - before.buildMs,
      inferMs: drained.inferMs - before.inferMs,
      skipped: { budget: drained.skipped.budget - before.skipped.budget, backlog: drained.skipped.backlog - before.skipped.backlog, failed: drained.skipped.failed - before.skipped.failed },
      bins: binned(tally.costs, before.atMs, end.atMs),
      drainS: (drained.atMs - end.atMs) / 1000,
      exportMismatch: mismatches.length > 0 ? mismatches.map(([n, a, b]) => `${n} exported ${a}, hooks ${b}`).join('; ') : undefined,
    };
  } finally {
    await harness.close();
    await deletePrefix({ url: config.redis.url, prefix });
  }
}

const f = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '–');

function report(results: readonly RunResult[], o: Options): string {
  const baseline = results.find((r) => r.spec.build === undefined)?.burst.imagesPerS;
  const share = (w: { wallMs: number; buildMs: number; inferMs: number } | undefined) =>
    w ? `${f((w.buildMs + w.inferMs) / w.wallMs, 3)} (${f(w.buildMs / w.wallMs, 3)} + ${f(w.inferMs / w.wallMs, 3)})` : '–';
  const rows = results.map((r) => {
    const shadowOn = r.spec.build !== undefined;
    return `| ${r.spec.label} | ${shadowOn ? r.spec.share : '–'} | ${f(r.burst.imagesPerS, 2)} | ${baseline && shadowOn ? f(r.burst.imagesPerS / baseline, 2) : '–'} | ` +
      `${f(r.shadowed / r.burst.images, 2)} (${r.shadowed}/${r.burst.images}) | ${shadowOn ? share(r.window) : '–'} | ${shadowOn ? share(r.secondHalf) : '–'} | ` +
      `${r.builds > 0 ? f(r.buildMs / r.builds, 2) : '–'} | ${r.shadowed > 0 ? f(r.inferMs / r.shadowed, 1) : '–'} | ` +
      `${r.skipped.budget} / ${r.skipped.backlog} / ${r.skipped.failed} | ${f(r.drainS, 1)} | ${f(r.burst.cpuMsPerImage, 1)} | ${f(r.burst.coresElsewhere, 2)} | ${r.burst.errors} |`;
  });
  const timelines = results.filter((r) => r.spec.build !== undefined).map((r) => `- ${r.spec.label}: ${r.bins.map((b) => b.toFixed(2)).join(' ')}`);
  const mismatches = results.filter((r) => r.exportMismatch).map((r) => `- ${r.spec.label}: ${r.exportMismatch}`);
  return [
    `${o.count} images per burst (after a warm-up of ${o.warmUp}), batch ${o.batch}, ${2 * o.batch} jobs in flight; a fresh worker per run`,
    '',
    '| Run | REVMOD_SHADOW_SHARE | img/s | vs no challenger | Shadowed | Realised share, burst: all (build + infer) | Realised share, second half | Build ms/img | Challenger infer ms/img | Skips budget / backlog / failed | Challenger drain after last verdict, s | CPU ms/img (process) | Cores busy elsewhere | Error verdicts |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `Challenger seconds reported per wall second, ${BIN_MS / 1000} s bins from the first submit to the last verdict (a batch's inference is reported when it ends):`,
    ...timelines,
    '',
    mismatches.length > 0 ? `Exported counters differ from the hooks:\n${mismatches.join('\n')}` : 'revmod_shadow_seconds_total and revmod_shadow_skipped_total agree with the hooks\' totals in every run.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const o = options();
  const cleanups = new CleanupStack();
  cleanups.installSignalHandlers('bench:shadow');
  const t0 = Date.now();
  try {
    const images = o.imagesDir ? await loadImages(o.imagesDir) : await generatedPhotos();
    await ensureModel({ kind: 'resnet18' });
    const redis = await ensureRedis();
    cleanups.add('redis-server', () => redis.stop());
    const s3 = await S3Server.start({ buckets: [PHOTOS, REGISTRY], inChildProcess: true });
    cleanups.add('s3 server', () => s3.close());
    for (const img of images) await s3.put(PHOTOS, `images/${img.name}`, img.bytes);

    // A name of its own: the workers' download cache is keyed by name and version.
    const model = `shadow-bench-${randomBytes(3).toString('hex')}`;
    cleanups.add('model cache', () => rmSync(join(tmpdir(), 'revmod-models', model), { recursive: true, force: true }));
    const registry = new ModelRegistry(s3.client, { bucket: REGISTRY, prefix: '' });
    const { preprocessing, ...card } = generatedModelCard('resnet18');
    // The same network each time: what differs is how the challenger's tensors are built.
    const cards: Array<[string, Record<string, unknown>]> = [
      ['1', { ...card, preprocessing }],
      [CHALLENGER_VERSION.copy, { ...card, preprocessing }],
      [CHALLENGER_VERSION.decode, { ...card, preprocessing: { resize: 'squash', cropSize: preprocessing.cropSize } }],
      [CHALLENGER_VERSION.renormalize, { ...card, preprocessing: { ...preprocessing, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } }],
    ];
    for (const [version, c] of cards) await registry.push(defaultModelPath('resnet18'), { ...c, name: model }, model, version);
    await registry.setAlias(model, 'champion', '1');

    const base = loadConfig({
      redis: { url: redis.url },
      s3: s3.s3Config,
      requests: { allowedBuckets: [PHOTOS] },
      // The generated ResNet18 is untrained: speed is what is measured here.
      model: { path: `s3://${REGISTRY}/models/${model}@champion`, executionProvider: 'cpu', allowUntrained: true, reloadPollMs: 0 },
      batch: { size: o.batch },
      log: { level: 'error' },
    }, {});
    const m = machineInfo();
    const load0 = loadavg()[0]!;
    process.stdout.write(`${m.cores} cores (nproc), ${m.cpuModel}, ${m.memGiB.toFixed(0)} GiB, ${m.os}; Node ${m.node}; load average ${load0.toFixed(2)} at start\n`);
    process.stdout.write(`${images.length} photos from ${o.imagesDir ?? 'samples/ and generated 1440×1080 and 4032×3024 copies'}; ${model}: the generated ResNet18 (${defaultModelPath('resnet18')}) as champion and challengers; intraOpThreads ${base.model.intraOpThreads} (champion), ${base.shadow.intraOpThreads} (challenger), preprocess '${base.model.preprocessMode}'\n`);
    const results: RunResult[] = [];
    for (const spec of o.runs) {
      const r = await run(spec, o, base, registry, model, images, s3.pid);
      results.push(r);
      process.stdout.write(`${spec.label}${r.challenger ? ` (${r.challenger})` : ''}: ${r.burst.imagesPerS.toFixed(2)} img/s, ${r.shadowed}/${r.burst.images} shadowed, ` +
        `challenger ${((r.window.buildMs + r.window.inferMs) / r.window.wallMs).toFixed(3)} s per wall s, load ${loadavg()[0]!.toFixed(2)}\n`);
    }
    process.stdout.write(`\n${report(results, o)}\nload average ${load0.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at the end; ${((Date.now() - t0) / 1000).toFixed(0)} s in all\n`);
  } finally {
    await cleanups.run();
  }
}

void main().catch((err: Error) => { process.stderr.write(`${err.stack ?? err.message}\n`); process.exit(1); });
