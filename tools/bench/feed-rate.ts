/**
 * The GPU stand-in feed rate: worker processes running a near-zero-cost probe model (what a GPU
 * makes of inference), so that what is measured is the CPU work around inference. Each run starts
 * its worker processes pinned with `taskset` (1 core, 2 cores, or two processes on one core each,
 * on one Redis), submits a burst through the SDK and counts the verdicts. The bench process
 * (producer, consumer) and the S3 server run outside the pinning, so only the worker's own CPU is
 * counted: process CPU and main-thread CPU from /proc, event-loop utilisation from the worker's
 * own report (feed-worker.ts), RSS from VmHWM.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { ModerationClient, consumeVerdicts, type SubmitRequest } from '@revmod/client';
import { configEnv, loadConfig } from '../../src/config';
import { spawnWorker, workerEnv, type WorkerProcess } from '../chaos/worker-process';
import { deletePrefix, uniquePrefix } from '../dev/redis-keys';
import { S3Server } from '../dev/s3-server';
import { ensureModel } from '../model-gen/ensure-model';
import { cycled, type BenchImage } from './images';

const BUCKET = 'revmod-feed';
const ENTRY = resolve(__dirname, 'feed-worker.ts');
const CLK_TCK = 100;

export interface FeedRun {
  readonly label: string;
  /** CPU list of each worker process (taskset -c). */
  readonly cpus: readonly string[];
  readonly images: number;
  readonly imagesPerS: number;
  /** All worker processes together, per image. */
  readonly workerCpuMsPerImage: number;
  readonly mainThreadCpuMsPerImage: number;
  /** Main-thread event-loop utilisation over the run (mean of the processes). */
  readonly eventLoopUtilization: number;
  /** Cores the worker processes kept busy (CPU / wall). */
  readonly coresUsed: number;
  readonly peakRssMiB: number;
  /** redis-server (INFO cpu: includes other clients of a shared Redis) and the S3 server, per image. */
  readonly redisCpuMsPerImage: number;
  readonly s3CpuMsPerImage: number;
  readonly errors: number;
}

function ticksOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

interface Snapshot { readonly proc: number; readonly main: number; readonly elu: { idle: number; active: number } }

function lastElu(w: WorkerProcess): { idle: number; active: number } {
  const line = w.grep('ELU {').pop();
  return line ? (JSON.parse(line.slice(line.indexOf('{'))) as { idle: number; active: number }) : { idle: 0, active: 0 };
}

function snapshot(w: WorkerProcess): Snapshot {
  return { proc: ticksOf(`/proc/${w.pid}/stat`), main: ticksOf(`/proc/${w.pid}/task/${w.pid}/stat`), elu: lastElu(w) };
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  return (Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1])) * 1000;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface FeedOptions {
  readonly images: readonly BenchImage[];
  readonly redisUrl: string;
  /** Measured images per run (a warm-up of 64 comes first). */
  readonly count: number;
  readonly log: (line: string) => void;
}

export async function benchFeedRate(o: FeedOptions): Promise<FeedRun[]> {
  const { modelPath } = await ensureModel({ kind: 'probe' });
  const s3 = await S3Server.start({ inChildProcess: true, buckets: [BUCKET] });
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  const warm = 64;
  try {
    const keys = Array.from({ length: warm + o.count }, (_, i) => `feed/${String(i).padStart(5, '0')}-${cycled(o.images, i).name}`);
    for (let i = 0; i < keys.length; i += 16) await Promise.all(keys.slice(i, i + 16).map((k, j) => s3.put(BUCKET, k, cycled(o.images, i + j).bytes)));
    o.log(`feed rate: ${keys.length} objects uploaded; probe model ${modelPath}`);
    const plans: ReadonlyArray<{ label: string; cpus: string[] }> = [
      { label: '1 process, 1 core', cpus: ['0'] },
      { label: '1 process, 2 cores', cpus: ['0,1'] },
      { label: '2 processes, 1 core each', cpus: ['0', '1'] },
    ];
    const runs: FeedRun[] = [];
    for (const plan of plans) runs.push(await feedRun(o, plan, keys, warm, modelPath, s3, redis));
    return runs;
  } finally {
    redis.disconnect();
    await s3.close();
  }
}

async function feedRun(o: FeedOptions, plan: { label: string; cpus: string[] }, keys: readonly string[], warm: number, modelPath: string, s3: S3Server, redis: Redis): Promise<FeedRun> {
  const prefix = uniquePrefix('bench-feed');
  const config = loadConfig({ redis: { url: o.redisUrl, prefix }, s3: s3.s3Config, log: { level: 'error' } }, {});
  const env = { ...workerEnv({ redisUrl: o.redisUrl, prefix, s3Env: s3.env, modelPath, logLevel: 'info' }), ...configEnv({ model: { allowUntrained: true } }) };
  const workers = plan.cpus.map((cpus, i) => spawnWorker({ name: `feed-${i + 1}`, env, entry: ENTRY, keepLines: 200 }));
  const client = new ModerationClient({ config });
  let received = 0;
  let errors = 0;
  const consumer = consumeVerdicts({ config, concurrency: 64, handler: (v) => { received += 1; if (v.error) errors += 1; } });
  try {
    await Promise.all(workers.map((w) => w.ready(120_000)));
    workers.forEach((w, i) => execFileSync('taskset', ['-a', '-p', '-c', plan.cpus[i]!, String(w.pid)], { stdio: 'ignore' }));
    const submit = async (ks: readonly string[]) => {
      for (let i = 0; i < ks.length; i += 100) await client.submitBulk(ks.slice(i, i + 100).map((key): SubmitRequest => ({ bucket: BUCKET, key })));
    };
    const until = async (n: number) => {
      const deadline = Date.now() + 600_000;
      while (received < n) {
        if (Date.now() > deadline) throw new Error(`feed rate ${plan.label}: ${received}/${n} verdicts after 600 s`);
        await sleep(5);
      }
    };
    await submit(keys.slice(0, warm));
    await until(warm);
    await sleep(500); // the ELU report lines are 200 ms apart
    const a = workers.map(snapshot);
    const redis0 = await redisCpuMs(redis);
    const s30 = s3.pid ? ticksOf(`/proc/${s3.pid}/stat`) : 0;
    const t0 = performance.now();
    errors = 0;
    await submit(keys.slice(warm));
    await until(keys.length);
    const wall = performance.now() - t0;
    await sleep(450);
    const b = workers.map(snapshot);
    const n = keys.length - warm;
    const proc = b.reduce((s, x, i) => s + x.proc - a[i]!.proc, 0);
    const main = b.reduce((s, x, i) => s + x.main - a[i]!.main, 0);
    const elu = b.map((x, i) => {
      const active = x.elu.active - a[i]!.elu.active;
      const idle = x.elu.idle - a[i]!.elu.idle;
      return active + idle > 0 ? active / (active + idle) : Number.NaN;
    });
    const run: FeedRun = {
      label: plan.label, cpus: plan.cpus, images: n, imagesPerS: (n * 1000) / wall,
      workerCpuMsPerImage: proc / n, mainThreadCpuMsPerImage: main / n, eventLoopUtilization: elu.reduce((s, x) => s + x, 0) / elu.length,
      coresUsed: proc / wall, peakRssMiB: Math.max(...workers.map((w) => (w.peakRssKiB() ?? 0) / 1024)),
      redisCpuMsPerImage: ((await redisCpuMs(redis)) - redis0) / n, s3CpuMsPerImage: s3.pid ? (ticksOf(`/proc/${s3.pid}/stat`) - s30) / n : Number.NaN,
      errors,
    };
    o.log(`feed rate ${plan.label}: ${run.imagesPerS.toFixed(1)} img/s, worker CPU ${run.workerCpuMsPerImage.toFixed(1)} ms/img, main ${run.mainThreadCpuMsPerImage.toFixed(2)} ms/img, ELU ${run.eventLoopUtilization.toFixed(2)}, cores ${run.coresUsed.toFixed(2)}, RSS ${run.peakRssMiB.toFixed(0)} MiB, redis ${run.redisCpuMsPerImage.toFixed(2)} ms/img, errors ${errors}`);
    return run;
  } finally {
    await consumer.close();
    await client.close();
    await Promise.all(workers.map((w) => w.destroy()));
    await deletePrefix({ url: o.redisUrl, prefix });
  }
}
