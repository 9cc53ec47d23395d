import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { RevmodConfig } from '../config';
import { createRedisConnection } from '@revmod/client';
import { basicIdentity, hasRole, loopbackHostOnly, OPS_ROLES, securityHeaders, type Role, type UsersDirectory } from '../identity';
import { boardPolicy } from './board-policy';
import type { OpsCredentials } from './ops-auth';
import { registerQueueDepthMetrics } from './queue-depth-metrics';

/** Options of {@link createOpsApp}; defaults in OPS_APP_DEFAULTS. */
export interface OpsAppOptions {
  readonly config: Pick<RevmodConfig, 'redis' | 'queues'>;
  /**
   * The ops server's env login (REVMOD_OPS_USER/PASSWORD): an admin, or a viewer with `readOnly`.
   * `null` with no `users` serves the dashboard without auth (loopback only, see resolveOpsCredentials).
   */
  readonly credentials: OpsCredentials | null;
  /** Named logins from the users file; their viewer/admin roles apply. Default none. */
  readonly users?: UsersDirectory;
  /** Trust an auth proxy's identity header (roles from `users`). Default none. */
  readonly proxy?: { readonly header: string; readonly trusted: readonly string[] };
  /** Everyone is a viewer: jobs can be looked at, not retried, removed or cleaned. Default false. */
  readonly readOnly?: boolean;
  /** Wrong passwords per client address and window before 429. Defaults 5 per 900 s. */
  readonly loginMaxFailures?: number;
  readonly loginWindowSeconds?: number;
  /** Node.js process metrics on /metrics. Default true. */
  readonly defaultMetrics?: boolean;
  /** Deadline for Redis in /readyz (PING) and /metrics (job counts). Default 2000. */
  readonly redisTimeoutMs?: number;
}

export const OPS_APP_DEFAULTS = { readOnly: false, defaultMetrics: true, redisTimeoutMs: 2_000, loginMaxFailures: 5, loginWindowSeconds: 900 } as const;

export interface OpsApp {
  /** Mount or listen on it: /healthz, /readyz, /metrics unauthenticated; everything else is the dashboard. */
  readonly app: Express;
  readonly registry: Registry;
  /** The moderation, results, review, decisions and appeals queues, in that order. */
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
 * The ops server's express app: Bull Board over revmod's queues behind basic auth with roles,
 * queue-depth metrics for Prometheus, and health endpoints. Probes and scrapes stay unauthenticated
 * so that kubelet and Prometheus need no dashboard password; they expose counts, never job data.
 * Only the moderation queue can be acted on, by an admin; the others are read-only for everyone,
 * enforced on the server (boardPolicy) as well as in the UI.
 */
export function createOpsApp(options: OpsAppOptions): OpsApp {
  const o = { ...OPS_APP_DEFAULTS, ...options };
  const { config } = o;
  const connection = createRedisConnection(config, 'producer');
  // Errors surface through /readyz and queue_metrics_up; without a listener ioredis would print each one.
  connection.on('error', () => undefined);
  const names = [config.queues.moderation, config.queues.results, config.queues.review, config.queues.decisions, config.queues.appeals];
  const queues = names.map((name) => new Queue(name, { connection, prefix: config.redis.prefix }));

  const registry = new Registry();
  if (o.defaultMetrics) collectDefaultMetrics({ register: registry });
  registerQueueDepthMetrics({ registry, queues, timeoutMs: o.redisTimeoutMs });

  // One board per role, so that the UI offers what the server allows; the policy below is what holds.
  const board = (actionable: boolean, title: string) => {
    const adapter = new ExpressAdapter();
    createBullBoard({
      queues: queues.map((q) => {
        const canAct = actionable && q.name === config.queues.moderation;
        return new BullMQAdapter(q, { readOnlyMode: !canAct, allowRetries: canAct });
      }),
      serverAdapter: adapter,
      options: { uiConfig: { boardTitle: title } },
    });
    return adapter.getRouter() as express.Router;
  };
  const adminBoard = o.readOnly ? undefined : board(true, 'revmod');
  const viewerBoard = board(false, 'revmod (read-only)');

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
  app.use(securityHeaders({ inlineStyles: true }));
  const envRoles: readonly Role[] = o.readOnly ? ['viewer'] : ['admin'];
  if (o.credentials || o.users || o.proxy) {
    app.use(...basicIdentity({
      envCredentials: o.credentials, envRoles, allowedRoles: OPS_ROLES,
      ...(o.users ? { users: o.users } : {}), ...(o.proxy ? { proxy: o.proxy } : {}),
      loginMaxFailures: o.loginMaxFailures, loginWindowSeconds: o.loginWindowSeconds,
    }));
  } else {
    // No auth (development, loopback only): refuse other Host names against DNS rebinding.
    app.use(loopbackHostOnly());
    app.use((req, _res, next) => { req.identity = { id: 'local', name: 'local', roles: envRoles, via: 'ops-env' }; next(); });
  }
  app.use(boardPolicy(config.queues.moderation));
  app.use('/', (req, res, next) => {
    const canAct = !o.readOnly && req.identity !== undefined && hasRole(req.identity, 'admin');
    (canAct && adminBoard ? adminBoard : viewerBoard)(req, res, next);
  });

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
