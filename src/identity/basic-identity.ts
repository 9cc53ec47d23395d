import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { rateLimit, ipKeyGenerator } from 'express-rate-limit';
import { credentialsMatch } from '../ops/basic-auth';
import type { OpsCredentials } from '../ops/ops-auth';
import { addressList, listHas } from './network';
import { verifyPassword } from './password';
import { hasAnyRole, type Identity, type Role } from './roles';
import type { UsersDirectory } from './users-file';

/** Options of {@link basicIdentity}. */
export interface BasicIdentityOptions {
  /** The ops server's own credentials (REVMOD_OPS_USER / REVMOD_OPS_PASSWORD), or null. */
  readonly envCredentials: OpsCredentials | null;
  /** Roles of the env login. */
  readonly envRoles: readonly Role[];
  /** Named logins with their roles. */
  readonly users?: UsersDirectory;
  /** Roles that may sign in here (the dashboard: viewer, admin). */
  readonly allowedRoles: readonly Role[];
  readonly proxy?: { readonly header: string; readonly trusted: readonly string[] };
  readonly loginMaxFailures: number;
  readonly loginWindowSeconds: number;
  /** @defaultValue 'revmod ops' */
  readonly realm?: string;
  /** How long a checked Authorization header is remembered (scrypt per request would make every poll slow). @defaultValue 60000 */
  readonly cacheMs?: number;
}

function decodeBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  return colon > 0 ? { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : undefined;
}

/**
 * HTTP basic auth for the dashboard against the users file (viewer and admin roles) and the ops
 * server's env login, or an auth proxy's header; sets `req.identity`. Failed attempts (a wrong
 * password, not the browser's first unauthenticated request) are limited per client address.
 */
export function basicIdentity(o: BasicIdentityOptions): RequestHandler[] {
  const realm = o.realm ?? 'revmod ops';
  const cacheMs = o.cacheMs ?? 60_000;
  const trusted = o.proxy ? addressList(o.proxy.trusted, 'REVMOD_AUTH_PROXY_TRUSTED') : undefined;
  const cache = new Map<string, { identity: Identity; until: number }>();

  const keyOf = (header: string): string => createHash('sha256').update(header).digest('hex');
  const cached = (header: string | undefined): Identity | undefined => {
    const hit = header === undefined ? undefined : cache.get(keyOf(header));
    return hit && hit.until > Date.now() ? hit.identity : undefined;
  };
  const check = async (header: string): Promise<Identity | undefined> => {
    const known = cached(header);
    if (known) return known;
    let identity: Identity | undefined;
    if (o.envCredentials && credentialsMatch(header, o.envCredentials)) {
      identity = { id: o.envCredentials.user, name: o.envCredentials.user, roles: o.envRoles, via: 'ops-env' };
    } else {
      const basic = decodeBasic(header);
      const user = basic ? o.users?.get(basic.user) : undefined;
      if (basic && user?.passwordHash && hasAnyRole(user.identity, o.allowedRoles) && await verifyPassword(basic.password, user.passwordHash)) {
        identity = { ...user.identity, via: 'password' };
      }
    }
    if (identity) {
      if (cache.size > 1_000) cache.clear();
      cache.set(keyOf(header), { identity, until: Date.now() + cacheMs });
    }
    return identity;
  };

  const limiter = rateLimit({
    windowMs: o.loginWindowSeconds * 1_000,
    limit: o.loginMaxFailures,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? ''),
    // Only a wrong password counts: a request without credentials is how a browser learns it needs some.
    requestWasSuccessful: (req: Request, res) => res.statusCode !== 401 || req.headers.authorization === undefined,
    skipSuccessfulRequests: true,
    // Requests with credentials already checked are not counted, so a busy page never trips the limit.
    skip: (req) => req.headers.authorization === undefined || cached(req.headers.authorization) !== undefined,
    handler: (_req, res) => { res.status(429).type('text/plain').send('too many failed logins: wait and try again\n'); },
  });

  const identify: RequestHandler = (req, res, next) => {
    if (o.proxy && trusted) {
      const claimed = req.get(o.proxy.header);
      if (claimed !== undefined && listHas(trusted, req.socket.remoteAddress)) {
        const user = o.users?.get(claimed);
        if (user && hasAnyRole(user.identity, o.allowedRoles)) {
          req.identity = { ...user.identity, via: 'proxy' };
          return next();
        }
      }
    }
    const header = req.headers.authorization;
    (header ? check(header) : Promise.resolve(undefined)).then((identity) => {
      if (identity) {
        req.identity = identity;
        return next();
      }
      res.set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
      res.status(401).type('text/plain').send('authentication required\n');
    }, next);
  };
  return [limiter, identify];
}
