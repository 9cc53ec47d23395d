/**
 * A scripted reviewer for demos and the lifecycle loop: signs in to the review console in Chromium
 * and works the "to decide" grid with the keyboard, as a person would (`a` approves, a digit
 * rejects with that reason), taking the truth from a file of job ids and labels. It stops when the
 * lane is empty.
 *
 *   npx tsx tools/demo/keyboard-reviewer.ts --url http://127.0.0.1:3001 --user mei --password-file pw \
 *     --truth jobs.tsv [--reason-key 4]
 *
 * jobs.tsv: `<jobId>\t<anything containing "violate" for a violation>` per line (what `revmod
 * submit` prints, when the keys say what they are).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { chromium, type Page } from 'playwright-core';

export interface KeyboardReviewOptions {
  readonly url: string;
  readonly user: string;
  readonly password: string;
  /** jobId → is it a violation. */
  readonly truth: ReadonlyMap<string, boolean>;
  /** The key that rejects with the chosen reason (1–9, the taxonomy's order). @defaultValue '4' (ad_spam) */
  readonly reasonKey?: string;
  /** @defaultValue /usr/bin/chromium or CHROMIUM_PATH */
  readonly chromiumPath?: string;
}

/** Decides every item of the lane; returns how many were passed and rejected, and those not in `truth` (skipped). */
export async function reviewByKeyboard(o: KeyboardReviewOptions): Promise<{ passed: number; rejected: number; unknown: number }> {
  const browser = await chromium.launch({
    executablePath: o.chromiumPath ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const counts = { passed: 0, rejected: 0, unknown: 0 };
  try {
    const page: Page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(`${o.url}/login`);
    await page.fill('input[name=user]', o.user);
    await page.fill('input[name=password]', o.password);
    await Promise.all([page.waitForURL(`${o.url}/`), page.click('button[type=submit]')]);
    await page.waitForSelector('header.top');
    for (;;) {
      const tile = await page.waitForSelector('article.tile', { timeout: 5_000 }).catch(() => null);
      if (!tile) return counts;
      const ids = await page.$$eval('article.tile', (els) => els.map((e) => e.getAttribute('data-id') ?? ''));
      for (const id of ids) {
        await page.waitForSelector(`article.tile[data-id="${id}"].focus`);
        const violation = o.truth.get(id);
        if (violation === undefined) counts.unknown += 1;
        const key = violation === true ? (o.reasonKey ?? '4') : 'a';
        await page.keyboard.press(key);
        await page.waitForSelector(`article.tile[data-id="${id}"][data-state="${key === 'a' ? 'pass' : 'block'}"]`);
        if (key === 'a') counts.passed += 1;
        else counts.rejected += 1;
      }
      // The next grid replaces this one once its last decision is stored.
      await page.waitForFunction((last) => ![...document.querySelectorAll('article.tile')].some((e) => e.getAttribute('data-id') === last), ids[ids.length - 1] ?? '');
    }
  } finally {
    await browser.close();
  }
}

/** jobId → violation, from `<jobId>\t<label or key>` lines. */
export function readTruth(file: string): Map<string, boolean> {
  const truth = new Map<string, boolean>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [id, what] = line.split('\t');
    if (id && what !== undefined) truth.set(id, /violate/.test(what));
  }
  return truth;
}

if (require.main === module) {
  const program = new Command()
    .requiredOption('--url <url>', 'the review console')
    .requiredOption('--user <id>', 'login')
    .requiredOption('--password-file <file>', 'file holding the password')
    .requiredOption('--truth <file>', '<jobId>\\t<label> lines')
    .option('--reason-key <key>', 'key that rejects (1–9)', '4')
    .parse();
  const opts = program.opts<{ url: string; user: string; passwordFile: string; truth: string; reasonKey: string }>();
  reviewByKeyboard({ url: opts.url, user: opts.user, password: readFileSync(opts.passwordFile, 'utf8').replace(/\n$/, ''), truth: readTruth(opts.truth), reasonKey: opts.reasonKey })
    .then((c) => { process.stdout.write(`${JSON.stringify(c)}\n`); }, (err: Error) => { process.stderr.write(`${err.message}\n`); process.exitCode = 1; });
}
