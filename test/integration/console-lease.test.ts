import type { Browser, Response } from 'playwright-core';
import { consolePage, launchChromium, screenshot } from '../helpers/browser';
import { ConsoleSession, startConsole, USERS, type ConsoleHarness } from '../helpers/console-harness';

const pw = (id: string): string => USERS.find((u) => u.id === id)!.password;
const TTL_MS = 2_500;

describe('claims are leases (short lease, real browser)', () => {
  let h: ConsoleHarness;
  let browser: Browser;

  beforeAll(async () => {
    h = await startConsole({ name: 'console-lease', review: { claimTtlMs: TTL_MS, claimBatch: 2 } });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('shows the lease running out, returns the items to the queue, and refuses the late decision', async () => {
    const seeded = await h.seed([{ key: 'lease/a.jpg', decision: 'review', ageMs: 60_000 }, { key: 'lease/b.jpg', decision: 'review', ageMs: 30_000 }]);
    let claimed: Promise<Response> | undefined;
    const { context, page } = await consolePage(browser, h.url, 'alice', pw('alice'), (p) => { claimed = p.waitForResponse((r) => r.url().endsWith('/api/claim')); });
    try {
      const { items } = (await (await claimed!).json()) as { items: Array<{ id: string; token: string }> };
      expect(items.map((i) => i.id)).toEqual(seeded.map((v) => v.id));
      expect(await page.textContent('#timer')).toMatch(/认领剩余 \ds/);
      // No activity: the lease lapses, the page says so.
      await page.waitForSelector('article.tile[data-state="expired"]', { timeout: TTL_MS + 5_000 });
      expect(await page.textContent('#timer')).toBe('认领已过期');
      await page.waitForSelector('.toast.bad');
      expect(await page.textContent('.toast')).toContain('本次决定未生效');
      await screenshot(page, 'console-expired-zh.png');
      const late = await page.evaluate(async ({ id, token }) => {
        const csrf = (JSON.parse(document.getElementById('boot')!.textContent!) as { csrf: string }).csrf;
        const r = await fetch(`/api/items/${id}/decision`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, accept: 'application/json' }, body: JSON.stringify({ token, outcome: 'pass' }) });
        return { status: r.status, body: await r.json() as { error: { code: string; message: string } } };
      }, items[0]!);
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('CLAIM_EXPIRED');
      expect(late.body.error.message).toMatch(/expired: the item went back to the queue and this decision was not applied/);
      // Back in the queue, oldest first, for the next reviewer; nothing was decided.
      const bob = await ConsoleSession.login(h.url, 'bob', pw('bob'));
      const taken = await bob.call<{ items: Array<{ id: string }> }>('POST', '/api/claim', { lane: 'decide', want: 2 });
      expect(taken.body.items.map((i) => i.id)).toEqual(seeded.map((v) => v.id));
      expect((await h.console.store.get(seeded[0]!.id))?.round).toBe(0);
      expect((await h.console.store.history(seeded[0]!.id)).map((e) => e.t)).toEqual(['queued', 'claimed', 'expired', 'claimed']);
    } finally {
      await context.close();
    }
  });
});
