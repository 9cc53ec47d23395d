import express from 'express';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebAuth, hashPassword, securityHeaders, UsersDirectory, writeUsersFile, CONSOLE_ROLES } from '../../src/identity';
import { listen, type RunningHttpServer } from '../../src/ops/listen';
import { ConsoleSession } from '../helpers/console-harness';
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';

describe('web logins (real Redis): the auth proxy header, session fixation, headers', () => {
  const prefix = uniquePrefix('web-auth');
  let redis: Redis;
  let dir: string;
  let users: UsersDirectory;
  const servers: RunningHttpServer[] = [];

  /** A tiny app behind the identity module: GET /whoami answers the signed-in user. */
  async function app(trusted: readonly string[]): Promise<RunningHttpServer> {
    const auth = createWebAuth({
      users, redis, keyPrefix: `${prefix}:`, sessionSecret: 'x'.repeat(40), sessionTtlSeconds: 600, cookieSecure: 'never',
      allowedRoles: CONSOLE_ROLES, loginMaxFailures: 5, loginWindowSeconds: 60, proxy: { header: 'X-Forwarded-User', trusted },
      renderLogin: (_req, res, state) => { res.status(state.status).type('html').send(`<form><input type="hidden" name="_csrf" value="${state.csrfToken}"></form>`); },
    });
    const a = express();
    a.use(securityHeaders());
    a.use(...auth.middleware);
    a.use(auth.router);
    a.get('/', auth.requireRole(CONSOLE_ROLES), (req, res) => { res.send(`<script type="application/json" id="boot">${JSON.stringify({ csrf: auth.csrfToken(req) })}</script>`); });
    a.get('/api/whoami', auth.requireRole(CONSOLE_ROLES), (req, res) => { res.json({ id: req.identity!.id, via: req.identity!.via }); });
    a.use(auth.errorHandler);
    const s = await listen(createServer(a), 0, '127.0.0.1');
    servers.push(s);
    return s;
  }

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    dir = mkdtempSync(join(tmpdir(), 'revmod-web-auth-'));
    const file = join(dir, 'users.json');
    await writeUsersFile(file, { users: [
      { id: 'sso.user', roles: ['reviewer'] },
      { id: 'dash', roles: ['viewer'], password: await hashPassword('dash-password-1') },
      { id: 'rev', roles: ['reviewer'], password: await hashPassword('rev-password-12') },
    ] });
    users = new UsersDirectory(file);
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    redis.disconnect();
    await deletePrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('believes the identity header only from a trusted proxy, and only for users of the file with a console role', async () => {
    const trusting = await app(['127.0.0.1']);
    const distrusting = await app(['10.9.9.9']);
    const who = (s: RunningHttpServer, user: string) => fetch(`${s.url}/api/whoami`, { headers: { 'x-forwarded-user': user, accept: 'application/json' } });
    const ok = await who(trusting, 'sso.user');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id: 'sso.user', via: 'proxy' });
    expect((await who(distrusting, 'sso.user')).status).toBe(401);
    expect((await who(trusting, 'nobody')).status).toBe(401);
    expect((await who(trusting, 'dash')).status).toBe(401);
  });

  it('gives a new session id at login (a planted one is worthless) and sends the no-framing CSP', async () => {
    const s = await app([]);
    const form = await fetch(`${s.url}/login`);
    expect(form.headers.get('x-frame-options')).toBe('DENY');
    expect(form.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'.*|script-src 'self'/);
    const planted = (form.headers.get('set-cookie') ?? '').split(';')[0]!;
    const r = await ConsoleSession.tryLogin(s.url, 'rev', 'rev-password-12');
    expect(r.status).toBe(303);
    expect(r.cookie).not.toBe(planted);
    expect(r.cookie.startsWith('revmod.sid=')).toBe(true);
    const me = await fetch(`${s.url}/api/whoami`, { headers: { cookie: r.cookie, accept: 'application/json' } });
    expect(await me.json()).toEqual({ id: 'rev', via: 'password' });
    expect((await fetch(`${s.url}/api/whoami`, { headers: { cookie: planted, accept: 'application/json' } })).status).toBe(401);
  });
});
