/**
 * `revmod eval` and `revmod eval calibrate` through the CLI: a labelled folder scored by the probe
 * model (whose violate score is known for each solid colour), the decision log in a real S3, and
 * the HTML report opened in Chromium: its charts are inline SVG and the page requests nothing.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import type { ReviewDecision, Verdict } from '@revmod/client';
import { runCli, type CliContext } from '../../src/cli';
import { configEnv } from '../../src/config';
import { DecisionLog } from '../../src/review/decision-log';
import { S3Server } from '../../tools/dev/s3-server';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { probeRgbForViolateScore, probeViolateScore } from '../../tools/model-gen/probe-graph';
import { launchChromium, screenshot } from '../helpers/browser';

function capture(env: Record<string, string> = {}): CliContext & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { env, stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), exit: (c) => { throw new Error(`unexpected exit(${c})`); } };
}

/** A person's decision on a verdict with these group scores (violate: all but normal). */
function decisionOn(id: string, decision: Verdict['decision'], groups: Record<string, number>, outcome: 'pass' | 'block', reason?: string): ReviewDecision {
  const violate = 1 - groups.normal!;
  const verdict = {
    schemaVersion: 2, id, jobId: id, bucket: 'b', key: `${id}.jpg`, decision, label: 'normal', scores: groups, groups,
    violate, reasons: [], model: { name: 'probe', version: '1', sha256: 'x', executionProvider: 'cpu' }, timings: {}, batch: null, meta: {}, attempt: 1, worker: 'w',
    decidedAt: new Date().toISOString(),
  } as unknown as Verdict;
  return {
    schemaVersion: 1, id: `${id}-r1`, jobId: id, bucket: 'b', key: `${id}.jpg`, sha256: null, round: 1, kind: decision === 'pass' ? 'sample' : 'decide', outcome,
    previousOutcome: null, reasons: reason !== undefined ? [reason] : [], reviewer: { id: 'r', role: 'reviewer' }, escalated: false, enqueuedAt: '', claimedAt: '',
    decidedAt: new Date().toISOString(), modelDecision: decision, overturned: null, model: verdict.model, meta: {}, verdict,
  };
}

const NORMAL_SCORES = [0.05, 0.1, 0.2, 0.3, 0.6, 0.8];
const VIOLATE_SCORES = [0.4, 0.75, 0.9, 0.95];

describe('revmod eval', () => {
  let dir: string;
  const probe = defaultModelPath('probe');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'revmod-eval-'));
    for (const [cls, scores] of [['normal', NORMAL_SCORES], ['violate', VIOLATE_SCORES]] as const) {
      mkdirSync(join(dir, 'set', cls), { recursive: true });
      for (const s of scores) {
        const [r, g, b] = probeRgbForViolateScore(s);
        await sharp({ create: { width: 300, height: 260, channels: 3, background: { r, g, b } } }).png().toFile(join(dir, 'set', cls, `${s}.png`));
      }
    }
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reports per-group metrics, the confusion matrix and the sweep for a labelled folder, as JSON and HTML', async () => {
    const ctx = capture();
    const out = join(dir, 'report');
    expect(await runCli(['eval', '--folder', join(dir, 'set'), '--model', probe, '--threshold', '0.7', '--out', out], ctx)).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const e = json.evaluation;
    expect(e.images).toBe(10);
    // Flagged at 0.7: normal 0.8, violate 0.75, 0.9, 0.95.
    expect(e.atThreshold).toMatchObject({ threshold: 0.7, reviewRate: 0.4, precision: 0.75, recall: 0.75, missed: 1 });
    // Top group: normal at 0.6 is predicted violate, as is the normal at 0.8; the violation at 0.4 normal.
    expect(e.confusion).toEqual({ labels: ['normal', 'violate'], matrix: [[4, 2], [1, 3]] });
    expect(e.perClass.violate).toEqual({ precision: 0.6, recall: 0.75, f1: 0.666667, support: 4 });
    expect(e.sweep).toHaveLength(101);
    const scores = [...NORMAL_SCORES, ...VIOLATE_SCORES].map((s) => probeViolateScore(probeRgbForViolateScore(s)));
    expect(e.sweep[50].reviewRate).toBeCloseTo(scores.filter((s) => s >= 0.5).length / 10, 6);
    expect(JSON.parse(ctx.stdout.at(-1)!)).toMatchObject({ images: 10, precision: 0.75, recall: 0.75 });

    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg[\s>]/g)?.length).toBe(4);
    expect(html).not.toMatch(/<script|<link|src=["']?https?:|url\(/i);

    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(join(out, 'report.html')).href);
      await page.waitForLoadState('networkidle');
      expect(requests).toEqual([pathToFileURL(join(out, 'report.html')).href]);
      const charts = page.locator('figure.chart > svg');
      expect(await charts.count()).toBe(4);
      for (let i = 0; i < 4; i++) expect((await charts.nth(i).boundingBox())!.width).toBeGreaterThan(200);
      // The curve is drawn: a path with many points in the first chart.
      expect(await page.locator('figure.chart').first().locator('path').count()).toBeGreaterThan(1);
      const shot = await screenshot(page, 'eval-report.png');
      expect(readFileSync(shot).length).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('reads a dataset export\'s manifest.jsonl (files and classes) and scores the same as the folder', async () => {
    const lines = [...NORMAL_SCORES.map((s) => ({ file: `normal/${s}.png`, class: 'normal' })), ...VIOLATE_SCORES.map((s) => ({ file: `violate/${s}.png`, class: 'violate' }))];
    writeFileSync(join(dir, 'set', 'manifest.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const ctx = capture();
    const out = join(dir, 'manifest-report');
    expect(await runCli(['eval', '--manifest', join(dir, 'set'), '--model', probe, '--threshold', '0.7', '--out', out], ctx)).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(json.source).toMatch(/^manifest .*manifest\.jsonl$/);
    expect(json.evaluation.confusion).toEqual({ labels: ['normal', 'violate'], matrix: [[4, 2], [1, 3]] });
    const bad = capture();
    writeFileSync(join(dir, 'bad.jsonl'), '{"file":"x.png"}\n');
    expect(await runCli(['eval', '--manifest', join(dir, 'bad.jsonl'), '--model', probe, '--out', out], bad)).toBe(1);
    expect(bad.stderr.join('\n')).toMatch(/bad\.jsonl:1: needs file and class/);
  }, 60_000);

  it('calibrate writes a new card version with the chosen threshold and its intervals, and never overwrites one', async () => {
    const ctx = capture();
    const out = join(dir, 'probe-cal');
    const before = readFileSync(probe.replace(/\.onnx$/, '.card.json'), 'utf8');
    const args = ['eval', 'calibrate', '--folder', join(dir, 'set'), '--model', probe, '--target-review-rate', '0.3', '--version', '1.0.0-cal.1', '--out', out, '--replicates', '50'];
    expect(await runCli(args, ctx)).toBe(0);
    const card = JSON.parse(readFileSync(join(out, 'model.card.json'), 'utf8'));
    expect(card.version).toBe('1.0.0-cal.1');
    // Review rate ≤ 0.3 of 10 images: the three highest (0.8 normal, 0.9, 0.95) are flagged; 0.75 is not.
    const cal = card.metadata.calibration;
    expect(cal.estimate.reviewRate).toBe(0.3);
    expect(card.thresholds.violate).toBe(cal.threshold);
    expect(cal.threshold).toBeGreaterThan(probeViolateScore(probeRgbForViolateScore(0.75)));
    expect(cal.threshold).toBeLessThanOrEqual(probeViolateScore(probeRgbForViolateScore(0.8)));
    expect(cal.intervals.reviewRate.low).toBeLessThanOrEqual(0.3);
    expect(cal.intervals.reviewRate.high).toBeGreaterThanOrEqual(0.3);
    expect(card.metadata.previousVersion.version).toBe(JSON.parse(before).version);
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);
    expect(readFileSync(probe.replace(/\.onnx$/, '.card.json'), 'utf8')).toBe(before);

    const again = capture();
    expect(await runCli(args, again)).not.toBe(0);
    expect(again.stderr.join('\n')).toMatch(/never overwritten/);
  }, 60_000);

  it('calibrate --target-block-precision writes the block threshold beside violate, and refuses one below violate', async () => {
    const score = (s: number) => probeViolateScore(probeRgbForViolateScore(s));
    const ctx = capture();
    const out = join(dir, 'probe-block');
    const args = ['eval', 'calibrate', '--folder', join(dir, 'set'), '--model', probe, '--target-review-rate', '0.4', '--target-block-precision', '1',
      '--version', '1.0.0-cal.block', '--out', out, '--replicates', '50'];
    expect(await runCli(args, ctx)).toBe(0);
    const card = JSON.parse(readFileSync(join(out, 'model.card.json'), 'utf8'));
    const printed = JSON.parse(ctx.stdout.at(-1)!);
    // Review rate 0.4: 0.8 (normal), 0.75, 0.9 and 0.95 flagged. Precision 1: only the two violations above the normal 0.8.
    expect(card.thresholds.violate).toBeGreaterThan(score(0.6));
    expect(card.thresholds.violate).toBeLessThanOrEqual(score(0.75));
    expect(card.thresholds.block).toBeGreaterThan(score(0.8));
    expect(card.thresholds.block).toBeLessThanOrEqual(score(0.9));
    const block = card.metadata.calibration.block;
    expect(block).toMatchObject({ targetPrecision: 1, threshold: card.thresholds.block, estimate: { blockRate: 0.2, precision: 1, recall: 0.5 }, atOrAbove: { images: 2, weightedImages: 2 } });
    expect(block.intervals.precision.high).toBe(1);
    expect(printed.thresholds).toEqual({ violate: card.thresholds.violate, block: card.thresholds.block });
    // The default score rules with the new card: 2 of 10 blocked, and 0.8 and 0.75 reviewed (besides low confidence).
    expect(printed.policy.next.estimate.blockRate).toBe(0.2);
    expect(printed.policy.previous.estimate.blockRate).toBe(0);
    expect(card.metadata.calibration.policy).toEqual(printed.policy.next);
    // Low confidence (max group < 0.7) also reviews 0.3 to 0.7: said, not hidden.
    expect(printed.policy.next.estimate.flaggedRate).toBe(0.7);
    expect(ctx.stderr.join('\n')).toMatch(/default score rules flag 0\.7 of these images \(review 0\.5, block 0\.2\), above --target-review-rate 0\.4/);

    // --confidence 0.5 turns the low-confidence rule off for this two-class card: the target holds for the whole policy.
    const setConfidence = capture();
    const confident = join(dir, 'probe-confidence');
    expect(await runCli(['eval', 'calibrate', '--folder', join(dir, 'set'), '--model', probe, '--target-review-rate', '0.4', '--confidence', '0.5',
      '--version', '1.0.0-cal.conf', '--out', confident, '--replicates', '20'], setConfidence)).toBe(0);
    const withConfidence = JSON.parse(setConfidence.stdout.at(-1)!);
    expect(withConfidence.thresholds).toEqual({ violate: card.thresholds.violate, confidence: 0.5 });
    expect(withConfidence.policy.next.estimate.flaggedRate).toBe(0.4);
    expect(JSON.parse(readFileSync(join(confident, 'model.card.json'), 'utf8')).thresholds.confidence).toBe(0.5);
    expect(setConfidence.stderr.join('\n')).not.toMatch(/above --target-review-rate/);

    const low = capture();
    const refused = join(dir, 'probe-block-low');
    expect(await runCli(['eval', 'calibrate', '--folder', join(dir, 'set'), '--model', probe, '--target-review-rate', '0.3', '--target-block-precision', '0.5', '--out', refused, '--replicates', '20'], low)).toBe(1);
    expect(low.stderr.join('\n')).toMatch(/--target-block-precision 0\.5: the lowest block threshold that reaches it, [\d.]+, is below the violate threshold [\d.]+ \(chosen here\)/);
    expect(JSON.parse(low.stdout.at(-1)!).block.threshold).toBeLessThan(JSON.parse(low.stdout.at(-1)!).calibration.threshold);
    expect(existsSync(refused)).toBe(false);

    // A card with one violation group has no categories to calibrate; a target is needed.
    const one = capture();
    expect(await runCli(['eval', 'calibrate', '--folder', join(dir, 'set'), '--model', probe, '--category-recall', '0.9', '--dry-run'], one)).toBe(2);
    expect(one.stderr.join('\n')).toMatch(/--category-recall 0\.9: the card of .* has one violation group \(violate\)/);
    const none = capture();
    expect(await runCli(['eval', 'calibrate', '--folder', join(dir, 'set'), '--model', probe, '--dry-run'], none)).toBe(2);
    expect(none.stderr.join('\n')).toMatch(/give a target: .* received none/);
  }, 60_000);

  it('calibrate --category-recall on the decision log: a review threshold per category, QC samples weighed, sparse categories kept', async () => {
    const s3 = await S3Server.start({ buckets: ['eval-cal-log'] });
    try {
      // A card with three violation groups (the probe's file stands in: calibration reads the card, not the model).
      const modelDir = join(dir, 'multi');
      mkdirSync(modelDir, { recursive: true });
      const model = join(modelDir, 'model.onnx');
      writeFileSync(model, readFileSync(probe));
      const base = JSON.parse(readFileSync(probe.replace(/\.onnx$/, '.card.json'), 'utf8'));
      writeFileSync(join(modelDir, 'model.card.json'), JSON.stringify({
        ...base, name: 'multi', classes: ['normal', 'porn', 'spam', 'privacy'], groups: { normal: 'normal', porn: 'porn', spam: 'spam', privacy: 'privacy' },
        output: { ...base.output, shape: ['N', 4] }, thresholds: { violate: 0.7, categories: { privacy: { review: 0.6 } } },
      }));
      const on = (group: string, s: number) => ({ normal: 1 - s, porn: 0, spam: 0, privacy: 0, [group]: s });
      const log = new DecisionLog({ s3: s3.client, bucket: 'eval-cal-log', prefix: 'decisions/' });
      await Promise.all([
        // porn: seven reviewed, and one the old model passed, found by QC (sample rate 0.25: it stands for 4).
        ...[0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95].map((s, i) => decisionOn(`p${i}`, 'review', on('porn', s), 'block', 'porn')),
        // Passes' ids are in the QC sample at 0.25 (a stable hash of the id), as the worker's choice would be.
        decisionOn('p-qc0', 'pass', on('porn', 0.2), 'block', 'porn'),
        ...[0.3, 0.4, 0.5, 0.6, 0.7, 0.8].map((s, i) => decisionOn(`s${i}`, 'review', on('spam', s), 'block', 'ad_spam')),
        ...[0.8, 0.9].map((s, i) => decisionOn(`v${i}`, 'review', on('privacy', s), 'block', 'privacy')),
        decisionOn('o', 'review', on('porn', 0.9), 'block', 'other'),
        decisionOn('n0', 'review', on('porn', 0.75), 'pass'),
        decisionOn('n11', 'pass', on('spam', 0.1), 'pass'),
        // The top score is no violation: no block threshold has a precision of 1.
        decisionOn('n2', 'review', on('spam', 0.99), 'pass'),
      ].map((d) => log.append(d)));
      const env = { ...configEnv({ s3: s3.s3Config }), REVMOD_DECISION_LOG_BUCKET: 'eval-cal-log', REVMOD_DECISION_LOG_PREFIX: 'decisions/' };
      const ctx = capture(env);
      const out = join(dir, 'multi-cal');
      const args = ['eval', 'calibrate', '--decisions', '--since', '1d', '--sample-rate', '0.25', '--model', model, '--category-recall', '0.75', '--version', '2', '--out', out, '--replicates', '50'];
      expect(await runCli(args, ctx)).toBe(0);
      const card = JSON.parse(readFileSync(join(out, 'model.card.json'), 'utf8'));
      // porn: 11 weighted (7 + 4); 0.75 of it needs the QC-found one, so 0.2 (unweighted, 6 of 8 would give 0.6).
      // spam: 5 of 6 at or above 0.4. privacy: 2 labelled, kept at the card's 0.6.
      expect(card.thresholds).toMatchObject({ violate: 0.7, categories: { porn: { review: 0.2 }, spam: { review: 0.4 }, privacy: { review: 0.6 } } });
      const printed = JSON.parse(ctx.stdout.at(-1)!);
      const byGroup = Object.fromEntries(printed.categories.byGroup.map((c: { group: string }) => [c.group, c]));
      expect(byGroup.porn).toMatchObject({ chosen: true, threshold: 0.2, estimate: { recall: 1 }, samples: { images: 8, weightedImages: 11 } });
      expect(byGroup.porn.intervals.recall.low).toBeLessThanOrEqual(1);
      expect(byGroup.spam).toMatchObject({ chosen: true, threshold: 0.4, samples: { images: 6, effective: 6 } });
      expect(byGroup.privacy).toMatchObject({ chosen: false, samples: { images: 2 } });
      expect(printed.categories.unassigned).toEqual({ images: 1, weightedImages: 1, truths: { other: 1 } });
      expect(ctx.stderr.join('\n')).toMatch(/--category-recall: privacy keeps 0\.6: 2 labelled violations, effective sample size 2 < 5/);
      expect(card.metadata.calibration.categories).toEqual(printed.categories);
      expect(printed.policy.next.estimate.recall).toBeGreaterThan(printed.policy.previous.estimate.recall);

      // --dry-run prints the same choice and writes nothing.
      const dry = capture(env);
      const dryOut = join(dir, 'multi-dry');
      expect(await runCli([...args.slice(0, -6), '--out', dryOut, '--replicates', '50', '--dry-run'], dry)).toBe(0);
      expect(JSON.parse(dry.stdout.at(-1)!).thresholds).toEqual(printed.thresholds);
      expect(existsSync(dryOut)).toBe(false);

      const unreachable = capture(env);
      expect(await runCli([...args, '--target-block-precision', '1', '--dry-run'], unreachable)).toBe(1);
      expect(unreachable.stderr.join('\n')).toMatch(/--target-block-precision 1: no block threshold reaches that precision on these 20 images; the card is unchanged/);
      // A category block threshold the new review threshold would pass: refused before anything is written.
      const card2 = JSON.parse(readFileSync(join(modelDir, 'model.card.json'), 'utf8'));
      writeFileSync(join(modelDir, 'model.card.json'), JSON.stringify({ ...card2, thresholds: { ...card2.thresholds, categories: { ...card2.thresholds.categories, spam: { review: 0.2, block: 0.3 } } } }));
      const misfit = capture(env);
      const misfitOut = join(dir, 'multi-misfit');
      expect(await runCli([...args.slice(0, -6), '--out', misfitOut, '--replicates', '20'], misfit)).toBe(1);
      expect(misfit.stderr.join('\n')).toMatch(/the new thresholds do not fit together: categories\.spam\.block \(0\.3\) must not be below categories\.spam\.review \(0\.4\)/);
      expect(existsSync(misfitOut)).toBe(false);
    } finally {
      await s3.close();
    }
  }, 60_000);

  it('evaluates the decision log: QC samples of passes weigh 1 / sampling rate', async () => {
    const s3 = await S3Server.start({ buckets: ['eval-log'] });
    try {
      const log = new DecisionLog({ s3: s3.client, bucket: 'eval-log', prefix: 'decisions/' });
      const decided = (id: string, decision: Verdict['decision'], violate: number, outcome: 'pass' | 'block') =>
        decisionOn(id, decision, { normal: 1 - violate, violate }, outcome, outcome === 'block' ? 'porn' : undefined);
      await log.append(decided('a', 'review', 0.9, 'block'));
      await log.append(decided('b', 'review', 0.8, 'pass'));
      // c2 and d3 are in the QC sample at 0.25 (a stable hash of the id), as the worker's choice would be.
      await log.append(decided('c2', 'pass', 0.2, 'block'));
      await log.append(decided('d3', 'pass', 0.1, 'pass'));
      const env = { ...configEnv({ s3: s3.s3Config }), REVMOD_DECISION_LOG_BUCKET: 'eval-log', REVMOD_DECISION_LOG_PREFIX: 'decisions/' };
      const ctx = capture(env);
      const out = join(dir, 'log-report');
      expect(await runCli(['eval', '--decisions', '--since', '1d', '--sample-rate', '0.25', '--threshold', '0.5', '--out', out], ctx)).toBe(0);
      const e = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).evaluation;
      expect(e.images).toBe(4);
      expect(e.weightedImages).toBe(10); // 1 + 1 + 4 + 4
      // Violations: a (weight 1, flagged) and c2 (weight 4, passed): recall 1/5.
      expect(e.atThreshold).toMatchObject({ recall: 0.2, reviewRate: 0.2, precision: 0.5 });
      expect(e.perCategory.porn).toEqual({ recall: 0.2, support: 5 });
    } finally {
      await s3.close();
    }
  }, 60_000);
});

