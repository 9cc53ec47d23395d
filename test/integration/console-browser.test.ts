import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { consumeDecisions, type DecisionConsumer, type ReviewDecision, type Verdict } from '@revmod/client';
import { consolePage, launchChromium, screenshot } from '../helpers/browser';
import { startConsole, USERS, type ConsoleHarness, type SeedItem } from '../helpers/console-harness';

const pw = (id: string): string => USERS.find((u) => u.id === id)!.password;
const HOUR = 3_600_000;

const OCR_TEXT = '好评返现！加微信 wx_shop8866 领红包，扫码进群';
const span = (kind: string, text: string) => ({ kind, start: OCR_TEXT.indexOf(text), end: OCR_TEXT.indexOf(text) + text.length, text });

/** What verdicts of schema 2 carry; the console renders them when present. */
const EVIDENCE: Record<string, unknown> = {
  scores: { normal: 0.08, porn: 0.02, sexy: 0.04, contact: 0.86 },
  labels: ['contact_info'],
  reasons: ['contact_info', 'qr_code'],
  evidence: {
    ocr: { text: OCR_TEXT, matches: [span('wechat_id', '微信 wx_shop8866'), span('qr_invite', '扫码进群')] },
    qr: [{ payload: 'https://u.wechat.com/EXAMPLE', host: 'u.wechat.com', allowed: false }],
    blur: { sharpness: 41.7, blurry: false },
  },
};

async function tileIds(page: Page): Promise<string[]> {
  await page.waitForSelector('article.tile');
  return page.$$eval('article.tile', (els) => els.map((e) => e.getAttribute('data-id') ?? ''));
}

describe('review console in a real browser (headless Chromium)', () => {
  let h: ConsoleHarness;
  let browser: Browser;
  let consumer: DecisionConsumer;
  let seeded: Verdict[];
  const received: ReviewDecision[] = [];

  beforeAll(async () => {
    h = await startConsole({ name: 'console-browser', review: { claimBatch: 12 } });
    const items: SeedItem[] = [
      ...Array.from({ length: 30 }, (_, i) => ({ key: `shop-${100 + (i % 7)}/review-${5000 + i}/photo-${i % 3}.jpg`, decision: 'review' as const, ageMs: (40 - i) * HOUR / 4, ...(i % 4 === 1 ? { extra: EVIDENCE } : {}) })),
      ...Array.from({ length: 5 }, (_, i) => ({ key: `shop-200/review-${7000 + i}/blocked.jpg`, decision: 'block' as const, ageMs: (6 - i) * HOUR })),
    ];
    seeded = await h.seed(items);
    consumer = consumeDecisions({ config: h.config, handler: (d) => { received.push(d); } });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await consumer?.close();
    await h?.close();
  });

  it('signs in (zh-CN by default) and shows the oldest items in a 4×3 grid, blurred by default', async () => {
    const { context, page } = await consolePage(browser, h.url, 'alice', pw('alice'));
    try {
      const ids = await tileIds(page);
      expect(ids).toHaveLength(12);
      // The twelve oldest review verdicts, oldest first.
      const byAge = seeded.filter((v) => v.decision === 'review').sort((a, b) => Date.parse(a.decidedAt) - Date.parse(b.decidedAt)).map((v) => v.id);
      expect(ids).toEqual(byAge.slice(0, 12));
      await page.waitForFunction(() => [...document.querySelectorAll('article.tile img')].every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0));
      const filters = await page.$$eval('article.tile img', (imgs) => imgs.map((i) => getComputedStyle(i).filter));
      expect(filters.every((f) => /blur\(/.test(f))).toBe(true);
      expect(await page.textContent('nav.tabs')).toContain('待审核');
      await page.mouse.move(5, 990);
      await screenshot(page, 'console-grid-zh.png');
    } finally {
      await context.close();
    }
  });

  it('two reviewers who claim at the same time never receive the same item', async () => {
    const [a, b] = await Promise.all([consolePage(browser, h.url, 'alice', pw('alice')), consolePage(browser, h.url, 'bob', pw('bob'))]);
    try {
      const [ida, idb] = await Promise.all([tileIds(a.page), tileIds(b.page)]);
      expect(ida).toHaveLength(12);
      expect(idb).toHaveLength(12);
      expect(ida.filter((id) => idb.includes(id))).toEqual([]);
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });

  it('decides a whole grid with the keyboard alone; decisions reach consumeDecisions and the S3 log, and the next grid follows', async () => {
    const { context, page } = await consolePage(browser, h.url, 'alice', pw('alice'));
    try {
      const first = await tileIds(page);
      const keys = ['a', '3', 'a', 'a', '1', 'a', '4', 'a', 'a', '2', 'a', 'a'];
      for (const [i, key] of keys.entries()) {
        await page.waitForSelector(`article.tile[data-id="${first[i]}"].focus`);
        await page.keyboard.press(key);
        await page.waitForSelector(`article.tile[data-id="${first[i]}"][data-state="${key === 'a' ? 'pass' : 'block'}"]`);
      }
      await page.waitForFunction((old) => { const now = [...document.querySelectorAll('article.tile')].map((e) => e.getAttribute('data-id')); return now.length > 0 && !now.includes(old); }, first[0] ?? '');
      const next = await tileIds(page);
      expect(next.filter((id) => first.includes(id))).toEqual([]);
      const deadline = Date.now() + 15_000;
      while (received.filter((d) => first.includes(d.jobId)).length < 12 && Date.now() < deadline) await sleep(100);
      const mine = received.filter((d) => first.includes(d.jobId));
      expect(mine.map((d) => d.jobId).sort()).toEqual([...first].sort());
      expect(mine.filter((d) => d.outcome === 'block').map((d) => d.reasons.length)).toEqual([1, 1, 1, 1]);
      const logged = new Set<string>();
      for await (const obj of h.console.log.objects()) for (const d of obj.decisions) logged.add(d.jobId);
      expect(first.every((id) => logged.has(id))).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('works in English too, and shows a single item with its evidence, the OCR matches highlighted', async () => {
    const { context, page } = await consolePage(browser, h.url, 'bob', pw('bob'));
    try {
      await tileIds(page);
      await page.keyboard.press('l');
      await page.waitForFunction(() => document.documentElement.lang === 'en');
      expect(await page.textContent('nav.tabs')).toContain('To decide');
      expect(await page.textContent('footer.keys')).toContain('Approve');
      await page.waitForFunction(() => [...document.querySelectorAll('article.tile img')].every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0));
      await page.mouse.move(5, 990);
      await screenshot(page, 'console-grid-en.png');
      // Find an item with evidence, open it alone and reveal it.
      const withEvidence = await page.$$eval('article.tile', (els) => els.findIndex((e) => /review-500[15]|review-50(09|13|17|21|25|29)/.test(e.getAttribute('aria-label') ?? '')));
      for (let i = 0; i < Math.max(0, withEvidence); i++) await page.keyboard.press('ArrowRight');
      await page.keyboard.press('v');
      await page.waitForSelector('.work.single');
      await page.waitForSelector('.ocr mark');
      expect(await page.$$eval('.ocr mark', (m) => m.map((x) => x.textContent))).toEqual(['微信 wx_shop8866', '扫码进群']);
      await page.keyboard.press('l');
      await page.keyboard.press(' ');
      await page.waitForSelector('article.tile.revealed');
      await page.waitForFunction(() => { const img = document.querySelector('.single .frame img') as HTMLImageElement | null; return !!img && img.complete && img.naturalWidth > 0; });
      await page.mouse.move(5, 990);
      await screenshot(page, 'console-single-zh.png');
      await page.keyboard.press('g');
      const filter = await page.$eval('.single .frame img', (i) => getComputedStyle(i).filter);
      expect(filter).toContain('grayscale');
    } finally {
      await context.close();
    }
  });

  it('escalates with the keyboard, with a note, and shows every key on ?', async () => {
    const { context, page } = await consolePage(browser, h.url, 'bob', pw('bob'));
    try {
      const [first] = await tileIds(page);
      await page.keyboard.press('e');
      // Focused as it opens: typing at once must not reach the grid's shortcuts.
      expect(await page.$eval('#escalate-note', (el) => document.activeElement === el)).toBe(true);
      await page.keyboard.type('像纹身还是违规图案？请组长确认');
      await page.keyboard.press('Enter');
      await page.waitForSelector(`article.tile[data-id="${first}"][data-state="escalated"]`);
      expect((await h.console.store.get(first!))?.escalation?.note).toBe('像纹身还是违规图案？请组长确认');
      await page.keyboard.press('?');
      await page.waitForSelector('.dialog .help');
      expect(await page.textContent('.dialog')).toContain('升级给组长');
      await screenshot(page, 'console-help-zh.png');
      await page.keyboard.press('Escape');
      expect(await page.$('.dialog .help')).toBeNull();
    } finally {
      await context.close();
    }
  });

  it('refuses a cross-site form post (CSRF) and the session survives it', async () => {
    const { context, page } = await consolePage(browser, h.url, 'bob', pw('bob'));
    // Another origin on the same host (another port): same-site for cookies, so only the CSRF checks stand in the way.
    const attacker: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form id="f" method="post" action="${h.url}/logout"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()));
    try {
      const evil = await context.newPage();
      const refused = evil.waitForResponse((r) => r.url() === `${h.url}/logout`);
      await evil.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
      const response = await refused;
      expect(response.status()).toBe(403);
      expect(await response.text()).toContain('CSRF_REJECTED');
      // Still signed in: the forged logout did nothing.
      const status = await page.evaluate(async () => (await fetch('/api/counts', { headers: { accept: 'application/json' } })).status);
      expect(status).toBe(200);
    } finally {
      attacker.close();
      await context.close();
    }
  });

  it('offers escalations and the decided list to leads only', async () => {
    const reviewer = await consolePage(browser, h.url, 'bob', pw('bob'));
    const lead = await consolePage(browser, h.url, 'lee', pw('lee'));
    try {
      expect(await reviewer.page.$$eval('nav.tabs .tab', (t) => t.map((x) => x.getAttribute('data-tab')))).toEqual(['decide', 'audit']);
      expect(await lead.page.$$eval('nav.tabs .tab', (t) => t.map((x) => x.getAttribute('data-tab')))).toEqual(['decide', 'audit', 'escalated', 'decided']);
      const forbidden = await reviewer.page.evaluate(async () => {
        const csrf = (JSON.parse(document.getElementById('boot')!.textContent!) as { csrf: string }).csrf;
        const post = (path: string, body: unknown) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, accept: 'application/json' }, body: JSON.stringify(body) }).then((r) => r.status);
        return [await post('/api/claim', { lane: 'escalated' }), (await fetch('/api/decided', { headers: { accept: 'application/json' } })).status, await post('/api/items/abc/reverse', {})];
      });
      expect(forbidden).toEqual([403, 403, 403]);
      for (const tab of ['audit', 'escalated', 'decided']) {
        await lead.page.keyboard.press('t');
        await lead.page.waitForSelector(`.tab[data-tab="${tab}"][aria-selected="true"]`);
      }
      await lead.page.waitForSelector('table.decided tbody tr');
      await lead.page.mouse.move(5, 990);
      await screenshot(lead.page, 'console-lead-decided-zh.png');
    } finally {
      await reviewer.context.close();
      await lead.context.close();
    }
  });

  it('shows the sign-in page in both languages', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await context.newPage();
      await page.goto(`${h.url}/login`);
      expect(await page.textContent('h1')).toBe('登录审核台');
      await page.click('a[hreflang=en]');
      await page.waitForURL(`${h.url}/login`);
      expect(await page.textContent('h1')).toBe('Sign in to review');
      await page.fill('input[name=user]', 'alice');
      await page.fill('input[name=password]', 'not-her-password');
      await page.click('button[type=submit]');
      expect(await page.textContent('.error')).toBe('Wrong user or password');
      await screenshot(page, 'console-login-en.png');
    } finally {
      await context.close();
    }
  });
});
