import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';

/** The BullMQ states reported per queue. `waiting-children` is left out: revmod uses no flows. */
export const QUEUE_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'failed', 'completed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** Options of {@link registerQueueDepthMetrics}. */
export interface QueueDepthMetricsOptions {
  readonly registry: Registry;
  /** The queues to count (each labelled with its name). */
  readonly queues: readonly Queue[];
  /** Metric name prefix. Default `revmod_`. */
  readonly prefix?: string;
  /** A scrape gives up on Redis after this long and reports `queue_metrics_up 0`. Default 2000. */
  readonly timeoutMs?: number;
}

export const QUEUE_DEPTH_DEFAULTS = { prefix: 'revmod_', timeoutMs: 2_000 } as const;

interface Snapshot {
  readonly counts: ReadonlyArray<{ readonly queue: string; readonly counts: Readonly<Record<string, number>>; readonly paused: boolean }>;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Queue depth by state, read from Redis at scrape time (Queue.getJobCounts), so the numbers are
 * those of the moment Prometheus asks, whoever processes the jobs. When Redis does not answer, the
 * depth series are dropped (stale numbers would look like a healthy queue) and `queue_metrics_up` is 0.
 */
export function registerQueueDepthMetrics(options: QueueDepthMetricsOptions): void {
  const { registry, queues } = options;
  const p = options.prefix ?? QUEUE_DEPTH_DEFAULTS.prefix;
  const timeoutMs = options.timeoutMs ?? QUEUE_DEPTH_DEFAULTS.timeoutMs;
  const registers = [registry];

  // The gauges are collected concurrently within one scrape: they share one read of Redis.
  let inFlight: Promise<Snapshot | null> | undefined;
  const snapshot = (): Promise<Snapshot | null> => {
    inFlight ??= withTimeout(
      Promise.all(queues.map(async (q) => ({ queue: q.name, counts: await q.getJobCounts(...QUEUE_STATES), paused: await q.isPaused() }))),
      timeoutMs, 'reading queue counts from Redis',
    ).then((counts) => ({ counts }), () => null).finally(() => { inFlight = undefined; });
    return inFlight;
  };

  new Gauge({
    name: `${p}queue_jobs`, registers, labelNames: ['queue', 'state'] as const,
    help: `Jobs per queue and BullMQ state (${QUEUE_STATES.join(', ')}), read from Redis at scrape time.`,
    async collect() {
      this.reset();
      const s = await snapshot();
      for (const q of s?.counts ?? []) {
        for (const state of QUEUE_STATES) this.set({ queue: q.queue, state }, q.counts[state] ?? 0);
      }
    },
  });
  new Gauge({
    name: `${p}queue_paused`, registers, labelNames: ['queue'] as const,
    help: '1 when the queue is paused (workers take no new jobs from it), e.g. from the dashboard.',
    async collect() {
      this.reset();
      const s = await snapshot();
      for (const q of s?.counts ?? []) this.set({ queue: q.queue }, q.paused ? 1 : 0);
    },
  });
  new Gauge({
    name: `${p}queue_metrics_up`, registers,
    help: '1 when this scrape read the queue counts from Redis, 0 when Redis did not answer in time.',
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
}
