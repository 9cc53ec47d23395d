import { Queue } from 'bullmq';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { listen, type RunningHttpServer } from '../../src/ops/listen';
import { createOpsApp, type OpsApp } from '../../src/ops/ops-app';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';

/** Debian's `chromium` package; CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Headless in a container without a GPU, a sandbox or network access beyond loopback.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = resolve(__dirname, '../artifacts');
const CREDENTIALS = { user: 'oncall', password: 'correct horse battery staple' };
/** Waiting jobs put on each queue: distinct numbers, so a count cannot be read off the wrong card. */
const JOBS = { moderation: 5, 'moderation-results': 3, 'moderation-review': 2 } as const;

describe('dashboard in a real browser (headless Chromium, Bull Board behind basic auth)', () => {
  const prefix = uniquePrefix('dashboard');
  const config = testConfig({ redis: { prefix } });
  let ops: OpsApp;
  let server: RunningHttpServer;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH`);
    }
    ops = createOpsApp({ config, credentials: CREDENTIALS, defaultMetrics: false });
    server = await listen(createServer(ops.app), 0, '127.0.0.1');
    const [moderation, results, review] = ops.queues as [Queue, Queue, Queue];
    await moderation.addBulk(Array.from({ length: JOBS.moderation }, (_, i) => ({ name: 'moderate', data: { bucket: 'b', key: `k${i}.jpg` } })));
    await results.addBulk(Array.from({ length: JOBS['moderation-results'] }, (_, i) => ({ name: 'verdict', data: { i } })));
    await review.addBulk(Array.from({ length: JOBS['moderation-review'] }, (_, i) => ({ name: 'verdict', data: { i } })));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await ops?.close();
    await deletePrefix(prefix);
  });

  it('shows the three queues and their job counts to a signed-in user', async () => {
    const context = await browser.newContext({ httpCredentials: { username: CREDENTIALS.user, password: CREDENTIALS.password }, viewport: { width: 1280, height: 720 } });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${server.url}/`);
      expect(response?.status()).toBe(200);
      // The board renders client-side from its API: wait for the last card's count to appear.
      await page.getByText(`${JOBS['moderation-review']} Jobs`, { exact: true }).waitFor({ timeout: 20_000 });
      const text = await page.innerText('body');
      for (const [name, count] of Object.entries(JOBS)) {
        // A queue card reads "<name>", a workers line, then "<n> Jobs".
        expect(text).toMatch(new RegExp(`^${name}\\n(?:[^\\n]*\\n){0,2}${count} Jobs$`, 'm'));
      }
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
      expect(existsSync(join(ARTIFACTS, 'dashboard.png'))).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('answers 401 with a Basic challenge without credentials or with wrong ones', async () => {
    for (const httpCredentials of [undefined, { username: CREDENTIALS.user, password: 'wrong' }]) {
      const context = await browser.newContext(httpCredentials ? { httpCredentials } : {});
      try {
        const page = await context.newPage();
        const statuses: number[] = [];
        page.on('response', (r) => { if (r.url() === `${server.url}/`) statuses.push(r.status()); });
        // Without credentials the page is the 401; with wrong ones Chromium gives up with
        // ERR_INVALID_AUTH_CREDENTIALS after the server's 401.
        const response = await page.goto(`${server.url}/`).catch((err: Error) => {
          expect(err.message).toContain('ERR_INVALID_AUTH_CREDENTIALS');
          return null;
        });
        if (response) {
          expect(response.status()).toBe(401);
          expect(await page.innerText('body')).not.toContain('moderation');
        }
        expect(statuses.length).toBeGreaterThan(0);
        expect(statuses.every((s) => s === 401)).toBe(true);
      } finally {
        await context.close();
      }
    }
    const api = await fetch(`${server.url}/api/queues`);
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    // Probes and scrapes need no dashboard password.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
  });

  it('serves a read-only board when asked', async () => {
    const readOnly = createOpsApp({ config, credentials: CREDENTIALS, readOnly: true, defaultMetrics: false });
    const ro = await listen(createServer(readOnly.app), 0, '127.0.0.1');
    try {
      const auth = `Basic ${Buffer.from(`${CREDENTIALS.user}:${CREDENTIALS.password}`).toString('base64')}`;
      const res = await fetch(`${ro.url}/api/queues`, { headers: { authorization: auth } });
      expect(res.status).toBe(200);
      const body = await res.json() as { queues: Array<{ name: string; readOnlyMode: boolean; allowRetries: boolean }> };
      expect(body.queues.map((q) => q.name).sort()).toEqual([...Object.keys(JOBS), 'moderation-decisions', 'moderation-appeals'].sort());
      for (const q of body.queues) expect([q.readOnlyMode, q.allowRetries]).toEqual([true, false]);
    } finally {
      await ro.close();
      await readOnly.close();
    }
  });
});
