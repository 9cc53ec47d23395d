import { Queue, type Job, type JobType } from 'bullmq';
import type { RevmodConfig } from '../../src/config';
import { ModerationClient, type ModerationJobData, type Verdict } from '@revmod/client';
import { VerdictCollector } from './worker-harness';
import { verdictLedger, type VerdictLedger } from '../../tools/chaos/verdict-ledger';
import { spawnWorker, workerEnv, type WorkerProcess, type WorkerProcessOptions, type WorkerSettings } from '../../tools/chaos/worker-process';

/** Polls `probe` until it returns a value (not undefined); throws after `timeoutMs` naming `what`. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const ALL_STATES: JobType[] = ['completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized', 'waiting-children'];

/** The moderation and results queues of a config, read directly (what ops would look at). */
export class QueueInspector {
  readonly moderation: Queue<ModerationJobData, Verdict>;
  readonly results: Queue<Verdict>;

  constructor(config: RevmodConfig) {
    const opts = { connection: { url: config.redis.url, maxRetriesPerRequest: null }, prefix: config.redis.prefix };
    this.moderation = new Queue<ModerationJobData, Verdict>(config.queues.moderation, opts);
    this.results = new Queue<Verdict>(config.queues.results, opts);
    // Connection errors during a Redis restart are expected: the queues reconnect.
    this.moderation.on('error', () => undefined);
    this.results.on('error', () => undefined);
  }

  counts(): Promise<Record<string, number>> {
    return this.moderation.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized');
  }

  /**
   * Counts once nothing moves any more: no moderation job waiting, delayed or active (so no verdict
   * can still be published) and no verdict waiting for the consumer (so none can still be delivered).
   * After `timeoutMs` it returns the counts as they are, for the assertion to show.
   */
  async settledCounts(timeoutMs = 15_000): Promise<Record<string, number>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await this.counts();
      const pending = await this.results.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      const busy = (counts.active ?? 0) + (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0) +
        Object.values(pending).reduce((a, b) => a + b, 0);
      if (busy === 0 || Date.now() > deadline) return counts;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async activeIds(): Promise<string[]> {
    return (await this.moderation.getActive(0, -1)).map((j) => j.id!);
  }

  async resultJobs(): Promise<Array<Job<Verdict>>> {
    return this.results.getJobs(ALL_STATES, 0, -1);
  }

  /** The exactly-once ledger of `submittedIds` (see verdictLedger). */
  async ledger(submittedIds: readonly string[], delivered: readonly Verdict[]): Promise<VerdictLedger> {
    const jobs = await this.resultJobs();
    return verdictLedger(submittedIds, jobs.map((j) => j.id!), delivered.map((v) => v.id));
  }

  async close(): Promise<void> {
    await Promise.all([this.moderation.close(), this.results.close()]);
  }
}

/** What a fault test talks to its workers through: the SDK, the verdicts as delivered, and the queues. */
export class FleetClients {
  readonly client: ModerationClient;
  readonly collector: VerdictCollector;
  readonly inspector: QueueInspector;

  constructor(config: RevmodConfig) {
    this.collector = new VerdictCollector(config);
    this.client = new ModerationClient({ config });
    this.inspector = new QueueInspector(config);
  }

  async close(): Promise<void> {
    await this.client.close();
    await this.collector.close();
    await this.inspector.close();
  }
}

/** Worker processes started by a test file; `destroyAll` in afterAll kills whatever is left. */
export class WorkerFleet {
  readonly all: WorkerProcess[] = [];

  constructor(private readonly base: WorkerSettings) {}

  /** `spawn.entry` substitutes the process entry; `spawn.onLine` sees every log line (`tail` keeps the last ones only). */
  start(name: string, overrides: Partial<WorkerSettings> = {}, spawn: Pick<WorkerProcessOptions, 'entry' | 'onLine'> = {}): WorkerProcess {
    // Detectors off unless a test's `extra` turns them on: these tests are about faults, and OCR's
    // threads would only slow every worker start (testConfig does the same in process).
    const env = { REVMOD_DETECT_BLUR: 'false', REVMOD_DETECT_QR: 'false', REVMOD_DETECT_TEXT: 'false', ...workerEnv({ ...this.base, ...overrides }) };
    const worker = spawnWorker({ name, env, ...spawn });
    this.all.push(worker);
    return worker;
  }

  async destroyAll(): Promise<void> {
    await Promise.all(this.all.map((w) => w.destroy()));
  }

  /** The last output of every worker, for a failure message. */
  tails(n = 15): string {
    return this.all.map((w) => `--- ${w.name} (pid ${w.pid}, ${w.alive ? 'alive' : 'exited'})\n${w.tail(n)}`).join('\n');
  }
}

/** `host:pid` as verdicts name their worker. */
export function workerIdOf(worker: WorkerProcess): RegExp {
  return new RegExp(`:${worker.pid}$`);
}
