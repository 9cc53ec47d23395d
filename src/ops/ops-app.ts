import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { RevmodConfig } from '../config';
import { createRedisConnection } from '@revmod/client';
import { basicAuth } from './basic-auth';
import type { OpsCredentials } from './ops-auth';
import { registerQueueDepthMetrics } from './queue-depth-metrics';

/** Options of {@link createOpsApp}; defaults in OPS_APP_DEFAULTS. */
export interface OpsAppOptions {
  readonly config: Pick<RevmodConfig, 'redis' | 'queues'>;
  /** Dashboard credentials; `null` serves it without auth (allowed on loopback only, see resolveOpsCredentials). */
  readonly credentials: OpsCredentials | null;
  /** Bull Board read-only mode: jobs can be looked at, not retried, removed or cleaned. Default false. */
  readonly readOnly?: boolean;
  /** Node.js process metrics on /metrics. Default true. */
  readonly defaultMetrics?: boolean;
  /** Deadline for Redis in /readyz (PING) and /metrics (job counts). Default 2000. */
  readonly redisTimeoutMs?: number;
}

export const OPS_APP_DEFAULTS = { readOnly: false, defaultMetrics: true, redisTimeoutMs: 2_000 } as const;

export interface OpsApp {
  /** Mount or listen on it: /healthz, /readyz, /metrics unauthenticated; everything else is the dashboard. */
  readonly app: Express;
  readonly registry: Registry;
  /** The moderation, results and review queues, in that order. */
  readonly queues: readonly Queue[];
  /** Closes the queues and the Redis connection. The HTTP server is the caller's to close. */
  close(): Promise<void>;
}

async function redisAnswers(connection: Redis, timeoutMs: number): Promise<boolean> {
  if (connection.status !== 'ready') return false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); });
  const ping = connection.ping().then((r) => r === 'PONG', () => false);
  const ok = await Promise.race([ping, deadline]);
  clearTimeout(timer);
  return ok;
}

/**
 * The ops server's express app: Bull Board over the three queues behind basic auth, queue-depth
 * metrics for Prometheus, and health endpoints. Probes and scrapes stay unauthenticated so that
 * kubelet and Prometheus need no dashboard password; they expose counts, never job data.
 */
export function createOpsApp(options: OpsAppOptions): OpsApp {
  const o = { ...OPS_APP_DEFAULTS, ...options };
  const { config } = o;
  const connection = createRedisConnection(config, 'producer');
  // Errors surface through /readyz and queue_metrics_up; without a listener ioredis would print each one.
  connection.on('error', () => undefined);
  const names = [config.queues.moderation, config.queues.results, config.queues.review];
  const queues = names.map((name) => new Queue(name, { connection, prefix: config.redis.prefix }));

  const registry = new Registry();
  if (o.defaultMetrics) collectDefaultMetrics({ register: registry });
  registerQueueDepthMetrics({ registry, queues, timeoutMs: o.redisTimeoutMs });

  const board = new ExpressAdapter();
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: o.readOnly, allowRetries: !o.readOnly })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: o.readOnly ? 'revmod (read-only)' : 'revmod' } },
  });

  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => { res.type('text/plain').send('ok\n'); });
  app.get('/readyz', async (_req, res) => {
    const ok = await redisAnswers(connection, o.redisTimeoutMs);
    res.status(ok ? 200 : 503).type('text/plain').send(ok ? 'ready\n' : 'not ready: redis unreachable\n');
  });
  app.get('/metrics', async (_req, res) => {
    res.set('content-type', registry.contentType).send(await registry.metrics());
  });
  if (o.credentials) app.use(basicAuth(o.credentials));
  app.use('/', board.getRouter());

  return {
    app,
    registry,
    queues,
    async close() {
      await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
