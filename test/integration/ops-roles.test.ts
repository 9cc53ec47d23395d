import { Queue } from 'bullmq';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appRoutes } from '@bull-board/api/dist/routes.js';
import { hashPassword, UsersDirectory, writeUsersFile } from '../../src/identity';
import { ADMIN_MODERATION_ROUTES } from '../../src/ops/board-policy';
import { listen, type RunningHttpServer } from '../../src/ops/listen';
import { createOpsApp, type OpsApp } from '../../src/ops/ops-app';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';

const LOGINS = {
  viewer: { user: 'vera', password: 'vera-password-1' },
  admin: { user: 'adam', password: 'adam-password-2' },
  reviewer: { user: 'rita', password: 'rita-password-3' },
} as const;
const ENV = { user: 'oncall', password: 'env-password-4' };
const basic = (l: { user: string; password: string }) => `Basic ${Buffer.from(`${l.user}:${l.password}`).toString('base64')}`;

/** Every state-changing route of this Bull Board release, read from the board itself, so that none can be missed. */
const MUTATING = (appRoutes.api as ReadonlyArray<{ method: string | string[]; route: string | string[] }>)
  .flatMap((r) => (Array.isArray(r.route) ? r.route : [r.route]).flatMap((route) => (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({ method, route }))))
  .filter((r) => r.method !== 'get');

describe('dashboard roles, enforced on the server for every mutating Bull Board route', () => {
  const prefix = uniquePrefix('ops-roles');
  const config = testConfig({ redis: { prefix } });
  const names = [config.queues.moderation, config.queues.results, config.queues.review, config.queues.decisions, config.queues.appeals];
  let dir: string;
  let ops: OpsApp;
  let server: RunningHttpServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'revmod-ops-roles-'));
    const file = join(dir, 'users.json');
    await writeUsersFile(file, { users: [
      { id: LOGINS.viewer.user, roles: ['viewer'], password: await hashPassword(LOGINS.viewer.password) },
      { id: LOGINS.admin.user, roles: ['admin'], password: await hashPassword(LOGINS.admin.password) },
      { id: LOGINS.reviewer.user, roles: ['reviewer'], password: await hashPassword(LOGINS.reviewer.password) },
    ] });
    ops = createOpsApp({ config, credentials: ENV, users: new UsersDirectory(file), defaultMetrics: false, loginMaxFailures: 1_000 });
    server = await listen(createServer(ops.app), 0, '127.0.0.1');
    for (const q of ops.queues) await q.add('x', { n: 1 }, { jobId: 'job-1' });
  });
  afterAll(async () => {
    await server?.close();
    await ops?.close();
    await deletePrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (method: string, path: string, auth?: string) => fetch(`${server.url}${path}`, {
    method: method.toUpperCase(), headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    ...(method === 'get' ? {} : { body: JSON.stringify({ name: 'forged', data: { decision: 'pass' }, options: { jobId: 'forged' }, concurrency: 1, max: 1, duration: 1000 }) }),
  });
  const fill = (route: string, queue: string) => route.replace(':queueName', encodeURIComponent(queue)).replace(':jobId', 'job-1').replace(':queueStatus', 'completed').replace(':schedulerId', 's1');

  it('found the mutating routes', () => {
    expect(MUTATING.length).toBeGreaterThanOrEqual(20);
  });

  it('refuses every mutating route to viewers and to console logins, and all but the allowed moderation actions to admins', async () => {
    const outcomes: string[] = [];
    for (const { method, route } of MUTATING) {
      for (const queue of route.includes(':queueName') ? names : ['-']) {
        const path = fill(route, queue);
        const allowed = queue === config.queues.moderation && ADMIN_MODERATION_ROUTES.some((r) => r.method === method && r.route === route);
        const results = {
          anonymous: (await call(method, path)).status,
          reviewer: (await call(method, path, basic(LOGINS.reviewer))).status,
          viewer: (await call(method, path, basic(LOGINS.viewer))).status,
          admin: (await call(method, path, basic(LOGINS.admin))).status,
          envAdmin: (await call(method, path, basic(ENV))).status,
        };
        const ok = results.anonymous === 401 && results.reviewer === 401 && results.viewer === 403
          && (allowed ? results.admin !== 403 && results.envAdmin !== 403 : results.admin === 403 && results.envAdmin === 403);
        if (!ok) outcomes.push(`${method} ${path}: ${JSON.stringify(results)} (admin allowed: ${allowed})`);
      }
    }
    expect(outcomes).toEqual([]);
  });

  it('kept the results and review queues unforged, and lets an admin pause and resume the moderation queue', async () => {
    const results = ops.queues[1] as Queue;
    expect(await results.getJob('forged')).toBeUndefined();
    expect((await call('put', `/api/queues/${config.queues.moderation}/pause`, basic(LOGINS.admin))).status).toBe(200);
    expect(await (ops.queues[0] as Queue).isPaused()).toBe(true);
    expect((await call('put', `/api/queues/${config.queues.moderation}/resume`, basic(LOGINS.admin))).status).toBe(200);
    expect(await (ops.queues[0] as Queue).isPaused()).toBe(false);
  });

  it("shows each role the board it may use: the admin's moderation queue is actionable, everything else read-only", async () => {
    const flags = async (auth: string) => ((await (await call('get', '/api/queues', auth)).json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> }).queues
      .map((q) => `${q.name}:${q.readOnlyMode ? 'ro' : 'rw'}`).sort();
    expect(await flags(basic(LOGINS.viewer))).toEqual(names.map((n) => `${n}:ro`).sort());
    expect(await flags(basic(LOGINS.admin))).toEqual(names.map((n) => `${n}:${n === config.queues.moderation ? 'rw' : 'ro'}`).sort());
  });

  it('sends no-framing and CSP headers with the dashboard', async () => {
    const res = await call('get', '/', basic(LOGINS.viewer));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
  });
});

describe('dashboard exposure', () => {
  const prefix = uniquePrefix('ops-exposure');
  const config = testConfig({ redis: { prefix } });
  afterAll(() => deletePrefix(prefix));

  it('without auth (loopback), answers only to a loopback Host: a rebound DNS name is refused', async () => {
    const ops = createOpsApp({ config, credentials: null, defaultMetrics: false });
    const server = await listen(createServer(ops.app), 0, '127.0.0.1');
    try {
      const get = (host: string) => new Promise<number>((resolve, reject) => {
        // fetch() does not let a page set Host; a raw request does, as a rebinding browser would send it.
        const req = request({ host: '127.0.0.1', port: server.port, path: '/api/queues', headers: { host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
        req.on('error', reject);
        req.end();
      });
      expect(await get(`127.0.0.1:${server.port}`)).toBe(200);
      expect(await get(`localhost:${server.port}`)).toBe(200);
      expect(await get(`attacker.example:${server.port}`)).toBe(421);
      expect(await get('attacker.example')).toBe(421);
      // Probes and scrapes are answered whatever the Host (kubelet and Prometheus use the pod IP).
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
      await ops.close();
    }
  });

  it('limits wrong dashboard passwords per client address (429)', async () => {
    const ops = createOpsApp({ config, credentials: ENV, defaultMetrics: false, loginMaxFailures: 3 });
    const server = await listen(createServer(ops.app), 0, '127.0.0.1');
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await fetch(`${server.url}/api/queues`, { headers: { authorization: basic({ user: 'oncall', password: `guess-${i}` }) } })).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
      // Locked out, even with the right password; a request without credentials still gets its challenge.
      expect((await fetch(`${server.url}/api/queues`, { headers: { authorization: basic(ENV) } })).status).toBe(429);
      expect((await fetch(`${server.url}/api/queues`)).status).toBe(401);
    } finally {
      await server.close();
      await ops.close();
    }
  });
});
