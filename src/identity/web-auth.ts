import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { Router, urlencoded } from 'express';
import { rateLimit, ipKeyGenerator } from 'express-rate-limit';
import session from 'express-session';
import { csrfSync } from 'csrf-sync';
import type { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { addressList, listHas } from './network';
import { burnPasswordCheck, verifyPassword } from './password';
import { RedisSessionStore } from './redis-session-store';
import { hasAnyRole, type Identity, type Role } from './roles';
import type { UsersDirectory } from './users-file';

declare module 'express-session' {
  interface SessionData {
    userId?: string;
    authAt?: number;
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    /** The signed-in person, set by the identity middleware. */
    identity?: Identity;
  }
}

/** What a login page shows. */
export interface LoginPageState {
  readonly status: number;
  readonly csrfToken: string;
  /** `bad-credentials`, `no-role`, `rate-limited`, `csrf`, or none. */
  readonly error?: 'bad-credentials' | 'no-role' | 'rate-limited' | 'csrf';
  readonly user?: string;
}

/** Options of {@link createWebAuth}. */
export interface WebAuthOptions {
  readonly users: UsersDirectory;
  readonly redis: Redis;
  /** Redis key prefix for sessions and login-failure counters, e.g. `revmod:review:`. */
  readonly keyPrefix: string;
  readonly sessionSecret: string;
  readonly sessionTtlSeconds: number;
  readonly cookieSecure: 'auto' | 'always' | 'never';
  /** @defaultValue 'revmod.sid' */
  readonly cookieName?: string;
  /** Roles that may sign in here (the console: reviewer, lead). */
  readonly allowedRoles: readonly Role[];
  readonly loginMaxFailures: number;
  readonly loginWindowSeconds: number;
  /** Trust `header` to name the user when the request comes straight from one of `trusted`. */
  readonly proxy?: { readonly header: string; readonly trusted: readonly string[] };
  readonly renderLogin: (req: Request, res: Response, state: LoginPageState) => void;
  /** Where a successful login goes. @defaultValue '/' */
  readonly home?: string;
}

export interface WebAuth {
  /** Sessions, then the identity (`req.identity`), then CSRF checks on every state change. */
  readonly middleware: readonly RequestHandler[];
  /** Answers CSRF failures (403, JSON for the API, the login page otherwise); mount after the routes. */
  readonly errorHandler: ErrorRequestHandler;
  /** GET/POST /login, POST /logout. */
  readonly router: Router;
  /** A CSRF token for this session (for pages and the API's boot data). */
  csrfToken(req: Request): string;
  /** 401 without an identity (pages redirect to /login), 403 without one of `roles`. */
  requireRole(roles: readonly Role[]): RequestHandler;
}

const isApi = (req: Request): boolean => req.path.startsWith('/api/') || (req.get('accept') ?? '').includes('application/json');

/** A JSON error body in the registry's shape. */
export function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses state changes sent from another origin, before any token is looked at: browsers mark
 * them with `Sec-Fetch-Site` (a page on another port of the same host is `same-site`, not
 * `same-origin`) and `Origin`.
 */
export function sameOriginOnly(): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const site = req.get('sec-fetch-site');
    const origin = req.get('origin');
    const expected = `${req.protocol}://${req.get('host') ?? ''}`;
    if ((site !== undefined && site !== 'same-origin' && site !== 'none') || (origin !== undefined && origin !== expected)) {
      return sendError(res, 403, 'CSRF_REJECTED', `state changes must come from this console's own pages (origin ${JSON.stringify(origin ?? site)} refused)`);
    }
    next();
  };
}

/**
 * Logins for a browser app: users from the users file with scrypt hashes, sessions in Redis behind
 * a signed HttpOnly cookie, a synchronizer CSRF token on every state change, failed logins limited
 * per user and client address, and optionally an auth proxy's identity header.
 */
export function createWebAuth(o: WebAuthOptions): WebAuth {
  const home = o.home ?? '/';
  const trusted = o.proxy ? addressList(o.proxy.trusted, 'REVMOD_AUTH_PROXY_TRUSTED') : undefined;
  const sessions = session({
    name: o.cookieName ?? 'revmod.sid',
    secret: o.sessionSecret,
    store: new RedisSessionStore(o.redis, `${o.keyPrefix}sess:`, o.sessionTtlSeconds),
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: o.cookieSecure === 'auto' ? 'auto' : o.cookieSecure === 'always',
      maxAge: o.sessionTtlSeconds * 1_000,
      path: '/',
    },
  });

  const { csrfSynchronisedProtection, generateToken } = csrfSync({
    getTokenFromRequest: (req) => req.get('x-csrf-token') ?? (req.body as { _csrf?: string } | undefined)?._csrf,
    errorConfig: { statusCode: 403, message: 'invalid CSRF token', code: 'CSRF_REJECTED' },
  });

  const identify: RequestHandler = (req, res, next) => {
    if (o.proxy && trusted) {
      const claimed = req.get(o.proxy.header);
      if (claimed !== undefined && listHas(trusted, req.socket.remoteAddress)) {
        const user = o.users.get(claimed);
        if (user && hasAnyRole(user.identity, o.allowedRoles)) req.identity = { ...user.identity, via: 'proxy' };
        return next();
      }
    }
    const id = req.session.userId;
    if (id !== undefined) {
      // Roles are read from the file on every request: a removed or demoted user loses access at once.
      const user = o.users.get(id);
      if (user && hasAnyRole(user.identity, o.allowedRoles)) req.identity = { ...user.identity, via: 'password' };
      else return req.session.destroy(() => next());
    }
    next();
  };

  const errorHandler: ErrorRequestHandler = (err, req, res, next) => {
    if ((err as { code?: string }).code !== 'CSRF_REJECTED') return next(err);
    if (isApi(req)) return sendError(res, 403, 'CSRF_REJECTED', 'missing or invalid CSRF token: reload the page');
    o.renderLogin(req, res, { status: 403, csrfToken: generateToken(req, true), error: 'csrf' });
  };

  const limiterStore = (name: string) => new RedisStore({
    prefix: `${o.keyPrefix}login-failures:${name}:`,
    sendCommand: (command: string, ...args: string[]) => o.redis.call(command, ...args) as Promise<RedisReply>,
  });
  const userOf = (req: Request): string => String((req.body as { user?: unknown } | undefined)?.user ?? '').trim().toLowerCase().slice(0, 64);
  const limited = (req: Request, res: Response): void => o.renderLogin(req, res, { status: 429, csrfToken: generateToken(req), error: 'rate-limited', user: userOf(req) });
  const common = { windowMs: o.loginWindowSeconds * 1_000, skipSuccessfulRequests: true, standardHeaders: 'draft-8' as const, legacyHeaders: false, handler: limited };
  // Per user and address, and per address across users (one client trying many names).
  const perUser = rateLimit({ ...common, limit: o.loginMaxFailures, store: limiterStore('user'), keyGenerator: (req) => `${ipKeyGenerator(req.ip ?? '')}|${userOf(req)}` });
  const perAddress = rateLimit({ ...common, limit: o.loginMaxFailures * 10, store: limiterStore('addr'), keyGenerator: (req) => ipKeyGenerator(req.ip ?? '') });

  const router = Router();
  router.get('/login', (req, res) => {
    if (req.identity) return res.redirect(303, home);
    o.renderLogin(req, res, { status: 200, csrfToken: generateToken(req) });
  });
  router.post('/login', urlencoded({ extended: false, limit: '4kb' }), perAddress, perUser, csrfSynchronisedProtection, async (req, res, next) => {
    try {
      const id = userOf(req);
      const password = String((req.body as { password?: unknown }).password ?? '');
      const user = o.users.get(id);
      const ok = user?.passwordHash !== undefined ? await verifyPassword(password, user.passwordHash) : await burnPasswordCheck(password);
      if (!ok || !user) return o.renderLogin(req, res, { status: 401, csrfToken: generateToken(req), error: 'bad-credentials', user: id });
      if (!hasAnyRole(user.identity, o.allowedRoles)) return o.renderLogin(req, res, { status: 403, csrfToken: generateToken(req), error: 'no-role', user: id });
      // A new session id at login: a session id planted before login (fixation) is worthless.
      req.session.regenerate((err) => {
        if (err) return next(err);
        req.session.userId = user.identity.id;
        req.session.authAt = Date.now();
        req.session.save((saveErr) => (saveErr ? next(saveErr) : res.redirect(303, home)));
      });
    } catch (err) {
      next(err);
    }
  });
  router.post('/logout', csrfSynchronisedProtection, (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.redirect(303, '/login')));
  });

  const csrfUnlessLogin: RequestHandler = (req, res, next) => (req.path === '/login' || req.path === '/logout' ? next() : csrfSynchronisedProtection(req, res, next));

  return {
    middleware: [sessions, identify, sameOriginOnly(), csrfUnlessLogin],
    errorHandler,
    router,
    csrfToken: (req) => generateToken(req),
    requireRole(roles) {
      return (req, res, next) => {
        if (!req.identity) {
          if (isApi(req)) return sendError(res, 401, 'UNAUTHENTICATED', 'sign in first');
          return res.redirect(303, '/login');
        }
        if (!hasAnyRole(req.identity, roles)) return sendError(res, 403, 'FORBIDDEN', `this needs the ${roles.join(' or ')} role; ${req.identity.id} has ${req.identity.roles.join(', ')}`);
        next();
      };
    },
  };
}
