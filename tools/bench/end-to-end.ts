/**
 * The real path: ModerationClient.submitBulk → Redis (BullMQ) → ModerationWorker (S3 GetObject,
 * sharp, micro-batches on the inference thread) → results queue → consumeVerdicts.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import type { RevmodConfig } from '../../src/config';
import type { BatchStats, PipelineObserver } from '../../src/pipeline/pipeline-observer';
import { ModerationClient, type Verdict, consumeVerdicts, type VerdictConsumer } from '@revmod/client';
import { S3ObjectStore } from '../../src/storage';
import { ModerationWorker, type WorkerStatus } from '../../src/worker/moderation-worker';
import { aliasKey, AliasingStore, cycled, type BenchImage } from './images';
import { machineBusyMs, mainThreadCpuMs, mean, mib, percentile, pidCpuMs, processCpuMs, RssSampler, ThreadGroup } from './measure';
import { performance as perf, type EventLoopUtilization } from 'node:perf_hooks';

interface Received {
  readonly verdict: Verdict;
  /** Consumer receipt − submit, ms (client clock, both in this process). */
  readonly receivedMs: number;
}

export interface BurstResult {
  readonly label: string;
  readonly images: number;
  readonly wallS: number;
  readonly imagesPerS: number;
  /** verdict.timings.totalMs: submit → verdict decided (worker side). */
  readonly totalMs: { p50: number; p95: number; p99: number };
  /** Submit → verdict received by consumeVerdicts. */
  readonly receivedMs: { p50: number; p95: number; p99: number };
  readonly meanBatch: number;
  readonly batches: number;
  /** Means per image: fetch, decode+preprocess, batch wait, and per batch: tensor write, inference, publish. */
  readonly stages: { queueMs: number; fetchMs: number; decodeMs: number; batchWaitMs: number; tensorMsPerBatch: number; inferMsPerBatch: number; inferMsPerImage: number; publishMsPerBatch: number };
  /** Process CPU per image, all threads. */
  readonly cpuMsPerImage: number;
  /** CPU of the inference threads (the engine's worker thread and onnxruntime's pool) per image. */
  readonly inferCpuMsPerImage: number;
  /** Everything else: event loop (BullMQ, S3 client, verdicts, this benchmark's producer and consumer), libuv and libvips threads. */
  readonly outsideCpuMsPerImage: number;
  /** The S3 server (child process) and redis-server (INFO cpu: includes other clients' work), per image. */
  readonly s3CpuMsPerImage: number;
  readonly redisCpuMsPerImage: number;
  /** Cores kept busy during the burst: by this process, and by everything else on the machine (S3, Redis, other work). */
  readonly coresThisProcess: number;
  readonly coresElsewhere: number;
  /** The main thread (event loop: BullMQ, S3 client, JS parts of preprocessing) per image, and its utilization (0–1). */
  readonly mainThreadCpuMsPerImage: number;
  readonly eventLoopUtilization: number;
  readonly errors: number;
  readonly errorSamples: string[];
}

export interface HarnessOptions {
  readonly config: RevmodConfig;
  readonly bucket: string;
  /** The S3 server's pid, to count its CPU. */
  readonly s3Pid?: number;
  /** More hooks for the worker (e.g. its metrics), beside the harness's own batch log. */
  readonly observer?: PipelineObserver;
}

interface CpuSnapshot {
  readonly at: number;
  readonly proc: number;
  readonly infer: number;
  readonly s3: number;
  readonly redis: number;
  readonly machine: number;
  readonly main: number;
  readonly elu: EventLoopUtilization;
}

interface CpuDelta {
  readonly wallMs: number;
  readonly proc: number;
  readonly infer: number;
  readonly s3: number;
  readonly redis: number;
  readonly machine: number;
  readonly main: number;
  readonly elu: number;
}

/** Keys (hence job ids) must never repeat within a run: a repeated one would be deduplicated. */
let runCounter = 0;

/** No verdict for this long means something is wrong: fail instead of hanging. */
const STALL_MS = 120_000;

/** A worker, a producer and a verdict consumer in this process (S3 and Redis are other processes). */
export class Harness {
  private readonly waiting = new Map<string, (r: Received) => void>();
  private readonly submittedAt = new Map<string, number>();
  private batchLog: BatchStats[] = [];
  readonly inferenceThreads = new ThreadGroup();
  readonly rss = new RssSampler();
  private worker!: ModerationWorker;
  private client!: ModerationClient;
  private consumer!: VerdictConsumer;
  private redis: Redis | undefined;

  constructor(private readonly o: HarnessOptions) {}

  async start(): Promise<void> {
    const { config } = this.o;
    const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'error' });
    this.rss.start();
    this.inferenceThreads.markBefore();
    this.worker = new ModerationWorker(config, {
      logger,
      store: new AliasingStore(new S3ObjectStore(config.s3)),
      observer: { ...this.o.observer, onBatch: (b) => { this.batchLog.push(b); this.o.observer?.onBatch?.(b); } },
    });
    await this.worker.start();
    this.inferenceThreads.markAfter();
    this.client = new ModerationClient({ config });
    this.consumer = consumeVerdicts({
      config,
      concurrency: 64,
      handler: (verdict) => {
        const at = Date.now();
        const resolve = this.waiting.get(verdict.id);
        if (!resolve) return; // a duplicate, or another run's
        this.waiting.delete(verdict.id);
        const submitted = this.submittedAt.get(verdict.id) ?? at;
        this.submittedAt.delete(verdict.id);
        resolve({ verdict, receivedMs: at - submitted });
      },
    });
    await this.consumer.worker.waitUntilReady();
    this.redis = new Redis(config.redis.url, { maxRetriesPerRequest: 3 });
  }

  private async redisCpuMs(): Promise<number> {
    try {
      const info = (await this.redis?.info('cpu')) ?? '';
      const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
      const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
      return (sys + user) * 1000;
    } catch {
      return Number.NaN;
    }
  }

  private async snapshot(): Promise<CpuSnapshot> {
    const redis = await this.redisCpuMs();
    return {
      at: performance.now(), proc: processCpuMs(), infer: this.inferenceThreads.cpuMs(), s3: pidCpuMs(this.o.s3Pid), redis,
      machine: machineBusyMs(), main: mainThreadCpuMs(), elu: perf.eventLoopUtilization(),
    };
  }

  private async since(a: CpuSnapshot): Promise<CpuDelta> {
    const b = await this.snapshot();
    return {
      wallMs: b.at - a.at, proc: b.proc - a.proc, infer: b.infer - a.infer, s3: b.s3 - a.s3, redis: b.redis - a.redis,
      machine: b.machine - a.machine, main: b.main - a.main, elu: perf.eventLoopUtilization(b.elu, a.elu).utilization,
    };
  }

  /** The worker's status (model, shadow lane, …). */
  status(): WorkerStatus {
    return this.worker.status();
  }

  get provider(): string {
    return this.worker.status().executionProvider ?? 'unknown';
  }

  get modelName(): string {
    const model = this.worker.status().model;
    return model ? `${model.name}@${model.version}` : 'unknown';
  }

  get modelSha(): string {
    return this.worker.status().model?.sha256 ?? '';
  }

  private requests(images: readonly BenchImage[], count: number, offset: number): Array<{ bucket: string; key: string }> {
    const run = `run-${process.pid}-${++runCounter}`;
    return Array.from({ length: count }, (_, i) => ({ bucket: this.o.bucket, key: aliasKey(run, i, cycled(images, offset + i)) }));
  }

  /** Submits the requests (bulk, in chunks) and resolves with each verdict as it is received. */
  private async submitAll(requests: ReadonlyArray<{ bucket: string; key: string }>, chunk = 500): Promise<Array<Promise<Received>>> {
    const out: Array<Promise<Received>> = [];
    for (let i = 0; i < requests.length; i += chunk) {
      const part = requests.slice(i, i + chunk);
      const at = Date.now();
      const results = await this.client.submitBulk(part);
      for (const r of results) {
        this.submittedAt.set(r.jobId, at);
        out.push(new Promise<Received>((resolve) => this.waiting.set(r.jobId, resolve)));
      }
    }
    return out;
  }

  /** All verdicts; rejects when none arrives for STALL_MS. */
  private watch(label: string, pending: ReadonlyArray<Promise<Received>>): Promise<Received[]> {
    let done = 0;
    let last = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        if (Date.now() - last > STALL_MS) reject(new Error(`${label}: no verdict for ${STALL_MS / 1000} s (${done}/${pending.length} received)`));
      }, 1_000);
    });
    const all = Promise.all(pending.map((p) => p.then((r) => { done += 1; last = Date.now(); return r; })));
    return Promise.race([all, stalled]).finally(() => clearInterval(timer));
  }

  /** N images submitted at once; timed from the first submit to the last verdict received. */
  async burst(label: string, images: readonly BenchImage[], count: number): Promise<BurstResult> {
    this.batchLog = [];
    const requests = this.requests(images, count, 0);
    const cpu0 = await this.snapshot();
    const t0 = performance.now();
    const received = await this.watch(label, await this.submitAll(requests));
    const wall = (performance.now() - t0) / 1000;
    return summarize(label, received, this.batchLog, wall, await this.since(cpu0));
  }

  /** One image at a time, each submitted when the previous verdict arrived. */
  async oneAtATime(label: string, images: readonly BenchImage[], count: number): Promise<BurstResult> {
    this.batchLog = [];
    const requests = this.requests(images, count, 0);
    const received: Received[] = [];
    const cpu0 = await this.snapshot();
    const t0 = performance.now();
    for (const request of requests) {
      received.push(...(await this.watch(label, await this.submitAll([request]))));
    }
    const wall = (performance.now() - t0) / 1000;
    return summarize(label, received, this.batchLog, wall, await this.since(cpu0));
  }

  /**
   * Long run with a bounded backlog: submits in chunks of 256 while fewer than `backlog` are
   * outstanding; calls `onDone` after each verdict with the count so far.
   */
  async soak(images: readonly BenchImage[], count: number, backlog: number, onDone: (done: number) => void): Promise<{ wallS: number; errors: number }> {
    const requests = this.requests(images, count, 0);
    let done = 0;
    let errors = 0;
    let submitted = 0;
    let wake: (() => void) | undefined;
    const t0 = performance.now();
    while (done < count) {
      while (submitted < count && submitted - done < backlog) {
        const part = requests.slice(submitted, Math.min(count, submitted + 256));
        submitted += part.length;
        for (const p of await this.submitAll(part)) {
          void p.then((r) => {
            done += 1;
            if (r.verdict.error) errors += 1;
            onDone(done);
            wake?.();
          });
        }
      }
      if (done < count) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve, reject) => {
          wake = resolve;
          timer = setTimeout(() => reject(new Error(`soak: no verdict for ${STALL_MS / 1000} s (${done}/${count} received)`)), STALL_MS);
        }).finally(() => clearTimeout(timer));
      }
    }
    return { wallS: (performance.now() - t0) / 1000, errors };
  }

  async close(): Promise<void> {
    await this.client?.close();
    await this.consumer?.close();
    await this.worker?.close(10_000);
    this.redis?.disconnect();
    this.rss.stop();
  }

  get peakRssMiB(): number {
    return mib(this.rss.peak);
  }
}

function pct(values: readonly number[]): { p50: number; p95: number; p99: number } {
  return { p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99) };
}

function summarize(label: string, received: readonly Received[], batches: readonly BatchStats[], wallS: number, cpu: CpuDelta): BurstResult {
  const verdicts = received.map((r) => r.verdict);
  const ok = verdicts.filter((v) => !v.error);
  const n = received.length;
  const batchImages = batches.reduce((a, b) => a + b.size, 0);
  const errors = verdicts.filter((v) => v.error);
  return {
    label,
    images: n,
    wallS,
    imagesPerS: n / wallS,
    totalMs: pct(verdicts.map((v) => v.timings.totalMs)),
    receivedMs: pct(received.map((r) => r.receivedMs)),
    meanBatch: batches.length > 0 ? batchImages / batches.length : Number.NaN,
    batches: batches.length,
    stages: {
      queueMs: mean(verdicts.map((v) => v.timings.queueMs)),
      fetchMs: mean(verdicts.map((v) => v.timings.fetchMs)),
      decodeMs: mean(verdicts.map((v) => v.timings.decodeMs)),
      batchWaitMs: mean(ok.map((v) => v.timings.batchWaitMs)),
      tensorMsPerBatch: 0,
      inferMsPerBatch: mean(batches.map((b) => b.inferMs)),
      inferMsPerImage: batchImages > 0 ? batches.reduce((a, b) => a + b.inferMs, 0) / batchImages : Number.NaN,
      publishMsPerBatch: 0,
    },
    cpuMsPerImage: cpu.proc / n,
    inferCpuMsPerImage: cpu.infer / n,
    outsideCpuMsPerImage: (cpu.proc - cpu.infer) / n,
    s3CpuMsPerImage: cpu.s3 / n,
    redisCpuMsPerImage: cpu.redis / n,
    coresThisProcess: cpu.proc / cpu.wallMs,
    coresElsewhere: (cpu.machine - cpu.proc) / cpu.wallMs,
    mainThreadCpuMsPerImage: cpu.main / n,
    eventLoopUtilization: cpu.elu,
    errors: errors.length,
    errorSamples: errors.slice(0, 3).map((v) => `${v.key}: ${v.error?.code} ${v.error?.message}`),
  };
}
