/**
 * `npm run soak` — the fault-injection soak of docs/reliability.md ("The soak"): a Redis with AOF
 * (`appendfsync always`), an S3 server and worker processes of their own; one object per job
 * (photos, hostile objects and one poison image that kills every worker that decodes it); while
 * the backlog drains it kills workers with -9, restarts Redis and closes S3 at seeded random
 * moments, kills Redis with -9 once and holds it down past the job lock, and makes the verdict
 * consumer's handler throw for a stretch; then it checks from the queues themselves that nothing
 * was lost, stuck, duplicated or decided wrongly, and that the consumer received every verdict
 * exactly once. `--help` for flags. Exit 0 only when all of those are 0.
 */
import { Queue, type Job, type JobType } from 'bullmq';
import { Redis } from 'ioredis';
import { writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type RevmodConfig } from '../../src/config';
import { deletePrefix } from '../dev/redis-keys';
import { defaultModelPath, ensureModel, type ModelKind } from '../model-gen/ensure-model';
import { ModerationClient, type ModerationJobData, type SubmitRequest, type Verdict, consumeVerdicts, type VerdictConsumer } from '@revmod/client';
import { RedisServer } from '../dev/redis-server';
import { S3Server } from '../dev/s3-server';
import { SeededRandom } from '../../src/util/seeded-random';
import { verdictLedger } from '../chaos/verdict-ledger';
import { soakObjects, type SoakObject } from '../chaos/soak-objects';
import { REPO_ROOT, spawnWorker, workerEnv, type WorkerProcess, type WorkerSettings } from '../chaos/worker-process';

/** The worker with the poison pool thread: the real decode, but bytes carrying the marker kill the process. */
const POISON_WORKER = resolve(REPO_ROOT, 'tools/chaos/poison-worker.ts');

const HELP = `usage: npm run soak -- [options]

  --count N              jobs (default 3000)
  --model resnet18|probe generated model the workers run (default resnet18)
  --seed N               seed of the objects and of the fault timing (default 1)
  --workers N            worker processes (default 2)
  --chaos-interval-s A-B seconds between faults, drawn uniformly (default 4-10)
  --settle-s N           after the faults, give up when nothing moves for N s (default 120)
  --redis-kill-s N       Redis killed with -9 once (at 35 % decided) and held down N s (default 45)
  --consumer-fail-s N    the consumer's handler throws for N s (from 5 % consumed) (default 45)
  --json FILE            also write the figures as JSON
  --help                 this text
`;

const BUCKET = 'revmod-soak';
const BULK = 100;
const MAX_BYTES = 2 * 1024 * 1024;
const HOSTILE_SHARE = 0.1;
const FAULTS_UNTIL = 0.9;
const RSS_SAMPLE_MS = 250;
/** The job lock of the soak's workers; the long Redis kill must outlast it. */
const LOCK_MS = 5_000;
/** Where in the backlog the poison image sits. */
const POISON_AT = 0.2;
const REDIS_KILL_AT = 0.35;
const CONSUMER_FAIL_AT = 0.05;
/**
 * Worker deaths inside decode or inference that make a job poison. Above the default (2): the
 * soak's random kill -9s also land on jobs inside decode or inference, and the innocent jobs in a
 * batch beside the poison are inside inference at its deaths too; the figures report how many
 * deaths any innocent job was counted.
 */
const POISON_CRASHES = 3;

interface Options {
  count: number;
  model: ModelKind;
  seed: number;
  workers: number;
  intervalS: [number, number];
  settleS: number;
  redisKillS: number;
  consumerFailS: number;
  json: string | undefined;
}

function fail(message: string): never {
  process.stderr.write(`soak: ${message}\n${HELP}`);
  process.exit(2);
}

function parseOptions(): Options {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        count: { type: 'string', default: '3000' },
        model: { type: 'string', default: 'resnet18' },
        seed: { type: 'string', default: '1' },
        workers: { type: 'string', default: '2' },
        'chaos-interval-s': { type: 'string', default: '4-10' },
        'settle-s': { type: 'string', default: '120' },
        'redis-kill-s': { type: 'string', default: '45' },
        'consumer-fail-s': { type: 'string', default: '45' },
        json: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const int = (name: string, raw: string, min: number): number => {
    if (!/^\d+$/.test(raw) || Number(raw) < min) fail(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
    return Number(raw);
  };
  if (values.model !== 'resnet18' && values.model !== 'probe') fail(`--model must be resnet18 or probe, got ${JSON.stringify(values.model)}`);
  const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(values['chaos-interval-s']);
  if (!m || Number(m[1]) <= 0 || Number(m[2]) < Number(m[1])) fail(`--chaos-interval-s must be A-B seconds with 0 < A ≤ B, got ${JSON.stringify(values['chaos-interval-s'])}`);
  return {
    count: int('count', values.count, 1),
    model: values.model,
    seed: int('seed', values.seed, 0),
    workers: int('workers', values.workers, 1),
    intervalS: [Number(m[1]), Number(m[2])],
    settleS: int('settle-s', values['settle-s'], 1),
    redisKillS: int('redis-kill-s', values['redis-kill-s'], 0),
    consumerFailS: int('consumer-fail-s', values['consumer-fail-s'], 0),
    json: values.json,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Set on SIGINT: faults stop, nothing new is started, the waits end. */
let aborted = false;
/** Sleeps `ms`, or less once aborted. */
async function nap(ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!aborted && Date.now() < end) await sleep(Math.min(100, end - Date.now()));
}
/** Every worker process started, so that all are killed whatever happens. */
const fleet: WorkerProcess[] = [];
const log = (line: string) => process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

type FaultKind = 'kill' | 'redis' | 's3' | 'redis-kill' | 'poison-death';
interface FaultRecord { kind: FaultKind; atS: number; downS: number; pid?: number; activeAtKill?: string[] }

interface Figures {
  submitted: number;
  hostile: number;
  verdicts: number;
  duplicatesPublished: number;
  unexpectedVerdicts: number;
  deliveredTwice: number;
  lost: number;
  stuck: number;
  failed: number;
  failedCodes: Record<string, number>;
  wrongVerdicts: number;
  wrongExamples: string[];
  faults: { kill: number; redis: number; s3: number; s3DownS: number[]; redisKillS: number[]; list: Array<Omit<FaultRecord, 'activeAtKill'> & { activeAtKill?: number }> };
  /** Verdicts the consumer never received (its handler never returned for them). */
  undelivered: number;
  consumerFailS: number;
  /** Deliveries the failing handler refused (each came back later). */
  consumerRefusals: number;
  poison: { keys: number; deaths: number; verdicts: string[]; takenOverAfterDeath: number; innocentsCounted: number; maxInnocentCrashes: number };
  decidedOnRetry: number;
  takenOverAfterKill: number;
  peakWorkerRssMiB: number;
  elapsedS: number;
  settled: boolean;
  settings: Record<string, unknown>;
}

const ALL_STATES: JobType[] = ['completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized', 'waiting-children'];
const PENDING_STATES = ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'];

async function main(): Promise<void> {
  const o = parseOptions();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const cleanups: Teardown = { connections: [], servers: [] };
  let cleaning: Promise<void> | undefined;
  // Workers first (kill -9: nothing of theirs is needed any more), then the clients (together, at
  // most 3 s: with Redis down they would wait for it), then the servers and their directories.
  const cleanup = (): Promise<void> => (cleaning ??= (async () => {
    aborted = true;
    await Promise.all(fleet.map((w) => w.destroy()));
    await Promise.race([Promise.all(cleanups.connections.splice(0).map((c) => c().catch(() => undefined))), sleep(3_000)]);
    for (const c of cleanups.servers.splice(0).reverse()) await c().catch(() => undefined);
  })());
  process.once('SIGINT', () => {
    log('SIGINT: cleaning up');
    aborted = true;
    void cleanup().finally(() => process.exit(130));
  });

  try {
    const code = await run(o, cleanups);
    await cleanup();
    process.exit(code);
  } catch (err) {
    if (aborted) return; // SIGINT: its handler cleans up and exits
    process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
    await cleanup();
    process.exit(2);
  }
}

interface Teardown {
  /** Clients, closed together. */
  readonly connections: Array<() => Promise<unknown>>;
  /** Servers, stopped (and their directories removed) last to first. */
  readonly servers: Array<() => Promise<unknown>>;
}

async function run(o: Options, cleanups: Teardown): Promise<number> {
  const objectSeq = new SeededRandom(o.seed);
  const chaosSeq = new SeededRandom((o.seed ^ 0x5bd1e995) >>> 0);
  const objectRng = () => objectSeq.next();
  const chaosRng = () => chaosSeq.next();
  const between = (rng: () => number, a: number, b: number) => a + (b - a) * rng();
  const prefix = `revmod-soak-${process.pid}-${Date.now().toString(36)}`;

  const { modelPath } = await ensureModel({ kind: o.model, path: resolve(REPO_ROOT, 'models', basename(defaultModelPath(o.model))) });

  // `always`: a kill -9 loses no acknowledged write (docs/reliability.md, "Redis persistence").
  const redis = await RedisServer.start({ persistence: 'always' });
  cleanups.servers.push(() => redis.destroy());
  const s3 = await S3Server.start();
  cleanups.servers.push(() => s3.close());
  log(`redis-server (AOF, appendfsync always) on port ${redis.port}, S3 on ${s3.endpoint}, prefix ${prefix}, model ${o.model}, seed ${o.seed}`);

  // Objects: one per job, 90 % photos, 10 % hostile, chosen by the seeded RNG.
  const { good, hostile, poison } = await soakObjects(MAX_BYTES);
  await s3.createBucket(BUCKET);
  const plan: Array<{ key: string; object: SoakObject }> = [];
  for (let i = 0; i < o.count; i++) {
    const pool = objectRng() < HOSTILE_SHARE ? hostile : good;
    const object = pool[Math.floor(objectRng() * pool.length)]!;
    plan.push({ key: `soak/${String(i).padStart(6, '0')}-${object.name}`, object });
  }
  // One poison image, in the middle of a bulk, so that innocent jobs are in flight around it.
  const poisonAt = Math.floor(POISON_AT * o.count);
  plan[poisonAt] = { key: `soak/${String(poisonAt).padStart(6, '0')}-${poison.name}`, object: poison };
  const uploadStart = Date.now();
  for (let next = 0; next < plan.length;) {
    const slice = plan.slice(next, next + 32);
    next += slice.length;
    await Promise.all(slice.map(({ key, object }) => (object.bytes ? s3.put(BUCKET, key, object.bytes) : Promise.resolve())));
  }
  const hostileCount = plan.filter((p) => p.object.expectCode !== null && p.object !== poison).length;
  log(`uploaded ${plan.filter((p) => p.object.bytes).length} objects (${hostileCount} hostile jobs) in ${((Date.now() - uploadStart) / 1000).toFixed(1)} s`);

  const config: RevmodConfig = loadConfig({
    redis: { url: redis.url, prefix },
    s3: s3.s3Config,
    limits: { maxBytes: MAX_BYTES },
    // Verdict redelivery from 0.5 s doubling to 8 s (default 1 s to 5 min): the consumer's
    // recovery shows within seconds.
    jobs: { attempts: 8, backoffMs: 500, verdictBackoffMs: 500, verdictMaxBackoffMs: 8_000 },
  });
  // The Redis is this run's own and goes with its directory; the prefix is deleted anyway, for tidiness.
  cleanups.servers.push(async () => { if (redis.running && !aborted) await deletePrefix({ url: redis.url, prefix }); });

  // Workers.
  const settings: WorkerSettings = {
    redisUrl: redis.url, prefix, s3Env: s3.env, modelPath,
    intraOpThreads: 1, batchSize: 16, lockDurationMs: LOCK_MS, stalledIntervalMs: 2_000, maxStalledCount: 20,
    maxBytes: MAX_BYTES, logLevel: 'info', extra: { REVMOD_POISON_CRASHES: String(POISON_CRASHES) },
  };
  let workerNo = 0;
  const startWorker = (): WorkerProcess => {
    if (aborted) throw new Error('aborted');
    const w = spawnWorker({ name: `worker-${++workerNo}`, env: workerEnv(settings), entry: POISON_WORKER });
    fleet.push(w);
    return w;
  };
  let peakRssKiB = 0;
  const rssTimer = setInterval(() => {
    for (const w of fleet) peakRssKiB = Math.max(peakRssKiB, w.rssKiB() ?? 0);
  }, RSS_SAMPLE_MS);
  cleanups.servers.push(async () => clearInterval(rssTimer));
  const live: WorkerProcess[] = Array.from({ length: o.workers }, startWorker);
  await Promise.all(live.map((w) => w.ready(120_000)));
  log(`${live.length} workers ready (pids ${live.map((w) => w.pid).join(', ')})`);

  // Queues, read directly; producer; consumer.
  const qOpts = { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix };
  const moderation = new Queue<ModerationJobData, Verdict>(config.queues.moderation, qOpts);
  const results = new Queue<Verdict>(config.queues.results, qOpts);
  moderation.on('error', () => undefined); // Redis restarts are expected: the queues reconnect
  results.on('error', () => undefined);
  cleanups.connections.push(() => moderation.close(), () => results.close());
  // The consumer: it counts the verdicts its handler took; for --consumer-fail-s, from 5 % of them,
  // the handler throws instead (its database is down), and BullMQ must bring each back.
  const deliveries = new Map<string, number>();
  let consumerFailFrom: number | undefined;
  let consumerFailUntil: number | undefined;
  let consumerRefusals = 0;
  let consumerRecovered = false;
  const consumer: VerdictConsumer = consumeVerdicts({
    config, concurrency: 64,
    handler: (v) => {
      const now = Date.now();
      if (consumerFailFrom === undefined && o.consumerFailS > 0 && deliveries.size >= CONSUMER_FAIL_AT * o.count) {
        consumerFailFrom = now;
        consumerFailUntil = now + o.consumerFailS * 1000;
        log(`fault: the consumer's handler throws for ${o.consumerFailS} s`);
      }
      if (consumerFailUntil !== undefined && now < consumerFailUntil) {
        consumerRefusals += 1;
        throw new Error('soak: consumer database down');
      }
      if (consumerFailUntil !== undefined && !consumerRecovered) {
        consumerRecovered = true;
        log(`the consumer recovered after ${consumerRefusals} refused deliveries`);
      }
      deliveries.set(v.id, (deliveries.get(v.id) ?? 0) + 1);
    },
  });
  cleanups.connections.push(() => consumer.close());
  const client = new ModerationClient({ config });
  cleanups.connections.push(() => client.close());

  // Submit in bulks of 100.
  const started = Date.now();
  const expected = new Map<string, SoakObject>();
  const submitted: string[] = [];
  for (let i = 0; i < plan.length; i += BULK) {
    const part = plan.slice(i, i + BULK);
    const requests: SubmitRequest[] = part.map((p) => ({ bucket: BUCKET, key: p.key }));
    const res = await client.submitBulk(requests);
    res.forEach((r, j) => { submitted.push(r.jobId); expected.set(r.jobId, part[j]!.object); });
  }
  log(`submitted ${submitted.length} jobs in bulks of ${BULK}`);

  // Progress, read by the chaos loop (faults stop at 90 % decided) and the settle wait.
  // Decided: a verdict on the results queue (whether or not the consumer has it yet) or a dead letter.
  let failedNow = 0;
  let publishedNow = 0;
  const decided = () => publishedNow + failedNow;
  let chaosDone = false;
  const faults: FaultRecord[] = [];
  const sinceStart = () => (Date.now() - started) / 1000;

  // The orchestrator's part: a worker that died by itself (the poison image) is replaced at once.
  // Workers killed by the chaos loop leave `live` before the kill, so they are not counted here.
  let supervisorError: unknown;
  const supervisor = setInterval(() => {
    for (const w of live.filter((x) => !x.alive)) {
      if (aborted) return;
      live.splice(live.indexOf(w), 1);
      const record: FaultRecord = { kind: 'poison-death', atS: sinceStart(), downS: 0, pid: w.pid };
      faults.push(record);
      // The jobs it held are still active (their locks outlive it): read them for "taken over".
      void moderation.getActive(0, -1).then((jobs) => { record.activeAtKill = jobs.map((j) => j.id!); }, () => undefined);
      log(`${w.name} (pid ${w.pid}) died by itself (the poison image, or a crash): replaced`);
      const replacement = startWorker();
      live.push(replacement);
      replacement.ready(120_000).catch((err: unknown) => { supervisorError = err; });
    }
  }, 250);
  cleanups.servers.push(async () => clearInterval(supervisor));

  const chaos = (async () => {
    const stopFaults = () => decided() >= FAULTS_UNTIL * o.count;
    /** Waits `ms`, or less once the faults should stop; true when they should. */
    const pause = async (ms: number): Promise<boolean> => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (aborted || stopFaults()) return true;
        await sleep(Math.min(100, end - Date.now()));
      }
      return aborted || stopFaults();
    };
    let round: FaultKind[] = [];
    let redisKilled = o.redisKillS === 0;
    for (;;) {
      if (await pause(between(chaosRng, o.intervalS[0], o.intervalS[1]) * 1000)) break;
      if (!redisKilled && decided() >= REDIS_KILL_AT * o.count) {
        // Once: kill -9 (nothing flushed but what `always` fsynced) and held down past the lock, so
        // that every held job looks stalled when it returns.
        redisKilled = true;
        const atS = sinceStart();
        log(`fault: Redis killed with -9 and held down ${o.redisKillS} s (job lock ${LOCK_MS / 1000} s)`);
        await redis.signal('SIGKILL');
        await nap(o.redisKillS * 1000);
        if (aborted) break;
        await redis.start();
        faults.push({ kind: 'redis-kill', atS, downS: o.redisKillS });
        log('Redis back after the long kill');
        continue;
      }
      if (round.length === 0) {
        round = ['kill', 'redis', 's3'];
        for (let i = round.length - 1; i > 0; i--) {
          const j = Math.floor(chaosRng() * (i + 1));
          [round[i], round[j]] = [round[j]!, round[i]!];
        }
      }
      const kind = round.shift()!;
      const atS = sinceStart();
      if (kind === 'kill') {
        const alive = live.filter((w) => w.alive);
        if (alive.length === 0) continue;
        const victim = alive[Math.floor(chaosRng() * alive.length)]!;
        const downMs = between(chaosRng, 0.5, 3) * 1000;
        const activeAtKill = (await moderation.getActive(0, -1)).map((j) => j.id!);
        if (!victim.alive) continue; // died by itself meanwhile: the supervisor replaces it
        live.splice(live.indexOf(victim), 1);
        victim.kill('SIGKILL');
        await victim.waitExit(10_000);
        log(`fault: kill -9 ${victim.name} (pid ${victim.pid}) with ${activeAtKill.length} jobs active; replaced in ${(downMs / 1000).toFixed(1)} s`);
        faults.push({ kind, atS, downS: downMs / 1000, pid: victim.pid, activeAtKill });
        await nap(downMs);
        const replacement = startWorker();
        live.push(replacement);
        await replacement.ready(120_000);
      } else if (kind === 'redis') {
        const downMs = between(chaosRng, 0.5, 3) * 1000;
        log(`fault: Redis stopped (SIGTERM) for ${(downMs / 1000).toFixed(1)} s`);
        await redis.stop();
        await nap(downMs);
        if (aborted) break;
        await redis.start();
        faults.push({ kind, atS, downS: downMs / 1000 });
      } else {
        const downMs = between(chaosRng, 2, 8) * 1000;
        log(`fault: S3 closed for ${(downMs / 1000).toFixed(1)} s`);
        await s3.stop();
        await nap(downMs);
        if (aborted) break;
        await s3.restart();
        faults.push({ kind, atS, downS: downMs / 1000 });
      }
    }
    chaosDone = true;
    log(`faults stopped at ${decided()}/${o.count} decided (${faults.length} injected)`);
  })();
  // If a fault fails (a worker that never gets ready, ...), stop the soak with its error.
  let chaosError: unknown;
  chaos.catch((err: unknown) => { chaosError = err; chaosDone = true; });
  cleanups.servers.push(() => chaos.catch(() => undefined)); // runs first of the servers: a fault in progress ends before

  // Wait until every job is decided and nothing moves, or no progress for --settle-s after the faults.
  let lastProgress = Date.now();
  let lastMark = -1;
  let lastLog = 0;
  let settled = false;
  let allDecidedAt: number | undefined;
  for (;;) {
    if (aborted) throw new Error('aborted');
    if (chaosError) throw chaosError;
    if (supervisorError) throw supervisorError;
    const counts = await moderation.getJobCounts('completed', 'failed', ...PENDING_STATES as JobType[]);
    const resultCounts = await results.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed', 'prioritized');
    failedNow = counts.failed ?? 0;
    publishedNow = Object.values(resultCounts).reduce((a, b) => a + b, 0);
    if (allDecidedAt === undefined && decided() >= o.count) allDecidedAt = Date.now();
    const pendingResults = publishedNow - (resultCounts.completed ?? 0) - (resultCounts.failed ?? 0);
    const busy = PENDING_STATES.reduce((a, s) => a + (counts[s] ?? 0), 0) + pendingResults;
    const mark = decided() + deliveries.size + (counts.completed ?? 0);
    if (mark !== lastMark) { lastMark = mark; lastProgress = Date.now(); }
    if (Date.now() - lastLog > 5_000) {
      lastLog = Date.now();
      log(`${publishedNow}/${o.count} verdicts (${deliveries.size} consumed), ${failedNow} failed; waiting ${counts.waiting ?? 0}, active ${counts.active ?? 0}, delayed ${counts.delayed ?? 0}; peak worker RSS ${(peakRssKiB / 1024).toFixed(0)} MiB`);
    }
    // Every job decided and every verdict consumed (so "delivered twice" is final).
    if (chaosDone && busy === 0 && decided() >= o.count) { settled = true; break; }
    if (chaosDone && Date.now() - lastProgress > o.settleS * 1000) {
      log(`no progress for ${o.settleS} s: giving up waiting`);
      break;
    }
    await sleep(250);
  }
  await chaos.catch(() => undefined);
  // Submit → every job decided (or → giving up).
  const elapsedS = ((allDecidedAt ?? Date.now()) - started) / 1000;
  clearInterval(rssTimer);

  // The figures, from the queues.
  const resultJobs: Array<Job<Verdict>> = await results.getJobs(ALL_STATES, 0, -1);
  const verdictById = new Map<string, Verdict>(resultJobs.map((j) => [j.id!, j.data]));
  const ledger = verdictLedger(submitted, resultJobs.map((j) => j.id!), [...deliveries].flatMap(([id, n]) => Array<string>(n).fill(id)));
  const duplicatesPublished = ledger.duplicateResultJobs.length;
  const unexpectedVerdicts = ledger.unexpected.length;

  const stateOf = new Map<string, string>();
  const stalledOf = new Map<string, number>();
  const failedCodes: Record<string, number> = {};
  for (const state of ALL_STATES) {
    const jobs = await moderation.getJobs([state], 0, -1);
    for (const j of jobs) {
      stateOf.set(j.id!, state);
      stalledOf.set(j.id!, j.stalledCounter ?? 0);
      if (state === 'failed') {
        const code = /^([A-Z_]+):/.exec(j.failedReason ?? '')?.[1] ?? (j.failedReason || 'unknown');
        failedCodes[code] = (failedCodes[code] ?? 0) + 1;
      }
    }
  }
  let lost = 0;
  let stuck = 0;
  let failed = 0;
  let wrongVerdicts = 0;
  let decidedOnRetry = 0;
  const wrongExamples: string[] = [];
  for (const id of submitted) {
    const state = stateOf.get(id);
    const verdict = verdictById.get(id);
    if (state === 'failed') failed++;
    else if (state !== undefined && PENDING_STATES.includes(state)) stuck++;
    else if (!verdict) lost++;
    if (!verdict) continue;
    if (verdict.attempt > 1) decidedOnRetry++;
    const want = expected.get(id)!.expectCode;
    const got = verdict.error?.code ?? null;
    const ok = want === null ? got === null && verdict.scores !== null : got === want;
    if (!ok) {
      wrongVerdicts++;
      if (wrongExamples.length < 10) wrongExamples.push(`${verdict.key}: expected ${want ?? 'a scored verdict'}, got ${got ?? 'a scored verdict'}${verdict.error ? ` (${verdict.error.message})` : ''}`);
    }
  }
  const deliveredTwice = ledger.duplicateDeliveries.length;
  const undelivered = [...verdictById.keys()].filter((id) => !deliveries.has(id)).length;
  // Jobs active at a worker's death, decided elsewhere after a takeover (kill -9s and poison deaths apart).
  const takenOver = (kind: FaultKind): number => {
    const counted = new Set<string>();
    for (const f of faults) {
      if (f.kind !== kind) continue;
      for (const id of f.activeAtKill ?? []) {
        const v = verdictById.get(id);
        if (!v || counted.has(id) || v.worker.endsWith(`:${f.pid}`) || (stalledOf.get(id) ?? 0) < 1) continue;
        counted.add(id);
      }
    }
    return counted.size;
  };
  const takenOverAfterKill = takenOver('kill');
  const s3Down = faults.filter((f) => f.kind === 's3').map((f) => Math.round(f.downS * 10) / 10);
  const redisKills = faults.filter((f) => f.kind === 'redis-kill').map((f) => f.downS);
  // The poison: its verdicts, and how close innocent jobs came to being judged poison (the crash
  // guard's counts in Redis, kept after their verdicts).
  const poisonIds = submitted.filter((id) => expected.get(id) === poison);
  const innocentCrashes: number[] = [];
  {
    const redisClient = new Redis(redis.url, { maxRetriesPerRequest: 3 });
    cleanups.connections.push(async () => redisClient.disconnect());
    const keyPrefix = `${prefix}:revmod:crashes:`;
    let cursor = '0';
    do {
      const [next, keys] = await redisClient.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        if (poisonIds.includes(key.slice(keyPrefix.length))) continue;
        innocentCrashes.push(Number(await redisClient.get(key) ?? 0));
      }
    } while (cursor !== '0');
  }

  const figures: Figures = {
    submitted: submitted.length,
    hostile: hostileCount,
    verdicts: verdictById.size,
    duplicatesPublished,
    unexpectedVerdicts,
    deliveredTwice,
    lost,
    stuck,
    failed,
    failedCodes,
    wrongVerdicts,
    wrongExamples,
    faults: {
      kill: faults.filter((f) => f.kind === 'kill').length,
      redis: faults.filter((f) => f.kind === 'redis').length,
      s3: s3Down.length,
      s3DownS: s3Down,
      redisKillS: redisKills,
      list: faults.map(({ activeAtKill, ...rest }) => (activeAtKill ? { ...rest, activeAtKill: activeAtKill.length } : rest)),
    },
    undelivered,
    consumerFailS: consumerFailFrom !== undefined ? o.consumerFailS : 0,
    consumerRefusals,
    poison: {
      keys: poisonIds.length,
      deaths: faults.filter((f) => f.kind === 'poison-death').length,
      verdicts: poisonIds.map((id) => verdictById.get(id)?.error?.code ?? (verdictById.has(id) ? 'scored' : 'none')),
      takenOverAfterDeath: takenOver('poison-death'),
      innocentsCounted: innocentCrashes.length,
      maxInnocentCrashes: Math.max(0, ...innocentCrashes),
    },
    decidedOnRetry,
    takenOverAfterKill,
    peakWorkerRssMiB: Math.round(peakRssKiB / 1024),
    elapsedS: Math.round(elapsedS * 10) / 10,
    settled,
    settings: {
      count: o.count, model: o.model, seed: o.seed, workers: o.workers, chaosIntervalS: o.intervalS, settleS: o.settleS,
      batchSize: 16, lockDurationMs: LOCK_MS, stalledIntervalMs: 2_000, maxStalledCount: 20, poisonCrashes: POISON_CRASHES, attempts: 8, backoffMs: 500, maxBytes: MAX_BYTES,
      redisKillS: o.redisKillS, consumerFailS: o.consumerFailS, verdictBackoffMs: 500, verdictMaxBackoffMs: 8_000, redisAppendfsync: 'always',
    },
  };

  const codes = Object.entries(failedCodes).map(([c, n]) => `${n} ${c}`).join(', ');
  const lines = [
    '',
    `soak: ${o.count} jobs, ${o.model}, ${o.workers} workers, seed ${o.seed}`,
    `  submitted              ${figures.submitted} (${hostileCount} hostile)`,
    `  verdicts               ${figures.verdicts}${unexpectedVerdicts ? ` (${unexpectedVerdicts} for ids never submitted)` : ''}`,
    `  duplicates published   ${duplicatesPublished}`,
    `  delivered twice        ${deliveredTwice}`,
    `  undelivered            ${undelivered}`,
    `  lost                   ${lost}`,
    `  stuck                  ${stuck}`,
    `  failed                 ${failed}${codes ? ` (${codes})` : ''}`,
    `  wrong verdicts         ${wrongVerdicts}`,
    ...wrongExamples.map((w) => `    ${w}`),
    `  faults injected        ${figures.faults.kill} kill -9, ${figures.faults.redis} Redis restarts, ${figures.faults.s3} S3 pauses${s3Down.length ? ` (${s3Down.map((s) => `${s.toFixed(1)} s`).join(', ')})` : ''}`,
    `                         ${redisKills.length} Redis kill -9 held down ${redisKills.map((s) => `${s} s`).join(', ') || '-'} (lock ${LOCK_MS / 1000} s, appendfsync always)`,
    `                         consumer failing ${figures.consumerFailS} s (${consumerRefusals} deliveries refused)`,
    `  poison image           ${figures.poison.keys} key, ${figures.poison.deaths} worker deaths, verdict ${figures.poison.verdicts.join(', ')}; ${figures.poison.takenOverAfterDeath} jobs in flight at its deaths decided elsewhere`,
    `  innocents counted      ${figures.poison.innocentsCounted} jobs inside decode/inference at a death, at most ${figures.poison.maxInnocentCrashes} deaths each (poison at ${POISON_CRASHES})`,
    `  decided on a retry     ${decidedOnRetry}`,
    `  taken over after kill  ${takenOverAfterKill}`,
    `  peak worker RSS        ${figures.peakWorkerRssMiB} MiB`,
    `  elapsed                ${figures.elapsedS.toFixed(1)} s${settled ? '' : ' (did not settle)'}`,
  ];
  const pass = lost === 0 && stuck === 0 && duplicatesPublished === 0 && wrongVerdicts === 0 && undelivered === 0 && deliveredTwice === 0;
  lines.push(pass ? 'PASS: nothing lost, stuck, duplicated or decided wrongly; every verdict consumed exactly once' : 'FAIL: see the figures above');
  process.stdout.write(`${lines.join('\n')}\n`);
  if (!pass) {
    for (const w of fleet) process.stdout.write(`--- ${w.name} (pid ${w.pid}, ${w.alive ? 'alive' : 'exited'})\n${w.tail(10)}\n`);
  }
  if (o.json) writeFileSync(o.json, `${JSON.stringify(figures, null, 2)}\n`);
  return pass ? 0 : 1;
}

void main();
