import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { listen, type RunningHttpServer } from './listen';

/** What /readyz reports: `ready` decides the status code, `state` is shown to whoever looks. */
export interface WorkerReadiness {
  readonly ready: boolean;
  readonly state: string;
}

/** Options of {@link startWorkerHttpServer}. */
export interface WorkerHttpServerOptions {
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Interface to bind. Default `0.0.0.0` (kubelet probes and Prometheus come from outside the pod). */
  readonly host?: string;
  readonly registry: Registry;
  /** Asked on every /readyz: a ModerationWorker gives `{ ready: worker.ready, state: worker.state }`. */
  readonly readiness: () => WorkerReadiness;
}

export const WORKER_HTTP_DEFAULTS = { host: '0.0.0.0' } as const;

function send(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

async function handle(o: WorkerHttpServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case '/healthz':
      // Liveness: the process answers. A loading model or a Redis outage is readiness, not liveness:
      // restarting the pod would not fix either.
      return send(res, 200, 'ok\n');
    case '/readyz': {
      const r = o.readiness();
      return send(res, r.ready ? 200 : 503, `${r.ready ? 'ready' : 'not ready'}: ${r.state}\n`);
    }
    case '/metrics':
      return send(res, 200, await o.registry.metrics(), o.registry.contentType);
    default:
      return send(res, 404, 'not found: try /metrics, /healthz or /readyz\n');
  }
}

/** The worker's own small HTTP server: GET /metrics, /healthz (process up), /readyz (taking jobs). */
export function startWorkerHttpServer(options: WorkerHttpServerOptions): Promise<RunningHttpServer> {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((err: Error) => {
      if (!res.headersSent) send(res, 500, `error: ${err.message}\n`);
      else res.destroy();
    });
  });
  return listen(server, options.port, options.host ?? WORKER_HTTP_DEFAULTS.host);
}
