import type { RequestHandler } from 'express';
import { hasRole, type Identity } from '../identity';
import { sendError } from '../identity/web-auth';

/**
 * Bull Board routes an admin may call on the moderation (input) queue: retry, promote, clean (a
 * state or one job) and pause/resume. Everything else that changes state is refused for everyone:
 * adding or editing jobs (which could forge verdicts on the results and review queues, or put
 * bytes under another job's id), emptying and obliterating queues, concurrency, rate limits,
 * schedulers, and the all-queues pause/resume.
 */
export const ADMIN_MODERATION_ROUTES: ReadonlyArray<{ readonly method: string; readonly route: string }> = [
  { method: 'put', route: '/api/queues/:queueName/retry/:queueStatus' },
  { method: 'put', route: '/api/queues/:queueName/promote' },
  { method: 'put', route: '/api/queues/:queueName/clean/:queueStatus' },
  { method: 'put', route: '/api/queues/:queueName/pause' },
  { method: 'put', route: '/api/queues/:queueName/resume' },
  { method: 'put', route: '/api/queues/:queueName/:jobId/retry' },
  { method: 'put', route: '/api/queues/:queueName/:jobId/clean' },
  { method: 'put', route: '/api/queues/:queueName/:jobId/promote' },
];

/** The parameters of `path` under an express-style `route` (`:name` segments), or undefined when it does not match. */
export function matchRoute(route: string, path: string): Record<string, string> | undefined {
  const want = route.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(':')) {
      if (g === '') return undefined;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return undefined;
      }
    } else if (w !== g) return undefined;
  }
  return params;
}

/** Whether `identity` may send `method path` to the board; reads are open to every signed-in role. */
export function boardAllows(identity: Identity | undefined, method: string, path: string, moderationQueue: string): boolean {
  const m = method.toLowerCase();
  if (m === 'get' || m === 'head') return true;
  if (!identity || !hasRole(identity, 'admin')) return false;
  return ADMIN_MODERATION_ROUTES.some((r) => r.method === m && matchRoute(r.route, path)?.queueName === moderationQueue);
}

/**
 * Enforces {@link boardAllows} on the server, in front of Bull Board: the UI's read-only flags only
 * hide buttons, and a request can be sent without the UI.
 */
export function boardPolicy(moderationQueue: string): RequestHandler {
  return (req, res, next) => {
    if (boardAllows(req.identity, req.method, req.path, moderationQueue)) return next();
    const who = req.identity ? `${req.identity.id} (${req.identity.roles.join(', ')})` : 'this login';
    sendError(res, 403, 'FORBIDDEN', `${req.method} ${req.path} is not allowed for ${who}: results, review and decisions are read-only, and moderation-queue actions need the admin role`);
  };
}
