/**
 * `npm run bench:sick-worker`: fleet throughput with one sick worker. The same backlog of photos is
 * decided by one healthy worker process alone, then by that healthy worker beside a sick one whose
 * S3 endpoint is dead (a closed port, as with broken pod networking). The sick worker's storage
 * breaker must pause only its own intake (docs/reliability.md, "One sick worker"), so the fleet's
 * rate with it should stay that of the healthy worker alone. Worker settings are the defaults
 * (breaker at 5 failures, 5 s pause, 5 attempts from 2 s) but for the model's one intra-op thread.
 * `--help` for flags.
 */
import { consumeVerdicts, ModerationClient, type Verdict } from '@revmod/client';
import { clientConfigOf, loadConfig } from '../../src/config';
import { soakObjects } from '../chaos/soak-objects';
import { spawnWorker, workerEnv, type WorkerProcess } from '../chaos/worker-process';
import { freePort } from '../dev/free-port';
import { ensureRedis } from '../dev/redis-server';
import { deletePrefix, uniquePrefix } from '../dev/redis-keys';
import { S3Server } from '../dev/s3-server';
import { ensureModel, type ModelKind } from '../model-gen/ensure-model';
import { toolArgs } from './tool-args';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const HELP = `usage: npm run bench:sick-worker -- [options]

  --count N              jobs per run (default 400)
  --model resnet18|probe generated model the workers run (default resnet18)
  --rounds N             alternate the two runs N times (default 1)
  --help                 this text
`;

const BUCKET = 'sick-worker-bench';
const MAX_BYTES = 2 * 1024 * 1024;

interface RunResult {
  readonly label: string;
  readonly seconds: number;
  readonly jobsPerS: number;
  readonly byHealthy: number;
  readonly bySick: number;
  readonly errors: number;
  readonly maxAttempt: number;
  /** Whether the sick worker's /readyz answered 503 during the run (undefined: no sick worker). */
  readonly sickNotReady: boolean | undefined;
  readonly sickPauses: number | undefined;
}

function options(): { count: number; model: ModelKind; rounds: number } {
  const { values, int, model } = toolArgs('bench:sick-worker', HELP, {
    count: { type: 'string', default: '400' },
    model: { type: 'string', default: 'resnet18' },
    rounds: { type: 'string', default: '1' },
  });
  return { count: int('count', values.count, 1), model: model(values.model), rounds: int('rounds', values.rounds, 1) };
}

async function run(label: string, withSick: boolean, keys: readonly string[], s3: S3Server, redisUrl: string, modelPath: string): Promise<RunResult> {
  const prefix = uniquePrefix('sick-bench');
  const base = { redisUrl, prefix, s3Env: s3.env, modelPath, intraOpThreads: 1, maxBytes: MAX_BYTES, logLevel: 'info' };
  const workers: WorkerProcess[] = [];
  const config = loadConfig({ redis: { url: redisUrl, prefix } }, {});
  const client = new ModerationClient({ config: clientConfigOf(config) });
  const verdicts: Verdict[] = [];
  const consumer = consumeVerdicts({ config: clientConfigOf(config), concurrency: 64, handler: (v) => { verdicts.push(v); } });
  let probe: NodeJS.Timeout | undefined;
  try {
    const healthy = spawnWorker({ name: `${label}-healthy`, env: workerEnv(base) });
    workers.push(healthy);
    let sick: WorkerProcess | undefined;
    let sickNotReady = false;
    if (withSick) {
      const readyPort = await freePort();
      const deadPort = await freePort();
      sick = spawnWorker({
        name: `${label}-sick`,
        env: workerEnv({
          ...base, s3Env: { ...s3.env, S3_ENDPOINT: `http://127.0.0.1:${deadPort}` },
          extra: { REVMOD_METRICS_PORT: String(readyPort), REVMOD_METRICS_HOST: '127.0.0.1' },
        }),
      });
      workers.push(sick);
      probe = setInterval(() => {
        void fetch(`http://127.0.0.1:${readyPort}/readyz`).then((r) => { if (r.status === 503) sickNotReady = true; }, () => undefined);
      }, 250);
    }
    await Promise.all(workers.map((w) => w.ready(180_000)));
    const t0 = Date.now();
    await client.submitBulk(keys.map((key) => ({ bucket: BUCKET, key })));
    while (verdicts.length < keys.length) {
      if (Date.now() - t0 > 900_000) throw new Error(`${label}: only ${verdicts.length}/${keys.length} verdicts after 15 min`);
      if (workers.some((w) => !w.alive)) throw new Error(`${label}: a worker exited:\n${workers.map((w) => w.tail(10)).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (Date.now() - t0) / 1000;
    const of = (w: WorkerProcess | undefined) => (w ? verdicts.filter((v) => v.worker.endsWith(`:${w.pid}`)).length : 0);
    return {
      label, seconds, jobsPerS: keys.length / seconds,
      byHealthy: of(healthy), bySick: of(sick),
      errors: verdicts.filter((v) => v.error !== undefined).length,
      maxAttempt: Math.max(...verdicts.map((v) => v.attempt)),
      sickNotReady: sick ? sickNotReady : undefined,
      sickPauses: sick ? sick.grep("pausing this worker's intake").length : undefined,
    };
  } finally {
    clearInterval(probe);
    await Promise.all(workers.map((w) => w.destroy()));
    await consumer.close();
    await client.close();
    await deletePrefix({ url: redisUrl, prefix });
  }
}

async function main(): Promise<void> {
  const o = options();
  const { modelPath } = await ensureModel({ kind: o.model });
  const redis = await ensureRedis();
  const s3 = await S3Server.start({ buckets: [BUCKET], inChildProcess: true });
  try {
    const { good } = await soakObjects(MAX_BYTES);
    const keys = Array.from({ length: o.count }, (_, i) => `photos/${String(i).padStart(5, '0')}-${good[i % good.length]!.name}`);
    for (const [i, key] of keys.entries()) await s3.put(BUCKET, key, good[i % good.length]!.bytes!);
    const results: RunResult[] = [];
    for (let round = 0; round < o.rounds; round++) {
      results.push(await run(`alone-${round + 1}`, false, keys, s3, redis.url, modelPath));
      process.stdout.write(`healthy alone: ${results.at(-1)!.jobsPerS.toFixed(1)} jobs/s\n`);
      results.push(await run(`with-sick-${round + 1}`, true, keys, s3, redis.url, modelPath));
      process.stdout.write(`healthy + sick: ${results.at(-1)!.jobsPerS.toFixed(1)} jobs/s\n`);
    }
    process.stdout.write(report(results, o.count, o.model));
  } finally {
    await s3.close();
    await redis.stop();
  }
}

/** The figures as a markdown table, and the ratio of the fleet's rate with the sick worker to the healthy one's alone. */
function report(results: readonly RunResult[], count: number, model: ModelKind): string {
  const mean = (withSick: boolean) => {
    const rs = results.filter((r) => (r.sickNotReady !== undefined) === withSick);
    return rs.reduce((a, r) => a + r.jobsPerS, 0) / rs.length;
  };
  const row = (r: RunResult) => `| ${r.label} | ${r.sickNotReady === undefined ? '1 healthy' : '1 healthy + 1 sick'} | ${r.seconds.toFixed(1)} s | ${r.jobsPerS.toFixed(1)} | ${r.byHealthy} | ${r.bySick} | ${r.errors} | ${r.maxAttempt} | ${r.sickNotReady === undefined ? '-' : r.sickNotReady ? 'yes' : 'no'} | ${r.sickPauses ?? '-'} |`;
  return `
${count} jobs per run, ${model}, one intra-op thread per worker
| run | workers | time | jobs/s | decided by healthy | by sick | error verdicts | max attempt | sick /readyz 503 seen | sick intake pauses |
|---|---|---:|---:|---:|---:|---:|---:|---|---:|
${results.map(row).join('\n')}

fleet with one sick worker / healthy worker alone: ${(mean(true) / mean(false)).toFixed(2)}
`;
}

void main().catch((err: Error) => { process.stderr.write(`${err.stack ?? err.message}\n`); process.exit(1); });
