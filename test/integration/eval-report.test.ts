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

  it('evaluates the decision log: QC samples of passes weigh 1 / sampling rate', async () => {
    const s3 = await S3Server.start({ buckets: ['eval-log'] });
    try {
      const log = new DecisionLog({ s3: s3.client, bucket: 'eval-log', prefix: 'decisions/' });
      const decided = (id: string, decision: Verdict['decision'], violate: number, outcome: 'pass' | 'block'): ReviewDecision => {
        const verdict = {
          schemaVersion: 2, id, jobId: id, bucket: 'b', key: `${id}.jpg`, decision, label: 'normal', scores: { normal: 1 - violate, violate }, groups: { normal: 1 - violate, violate },
          violate, reasons: [], model: { name: 'probe', version: '1', sha256: 'x', executionProvider: 'cpu' }, timings: {}, batch: null, meta: {}, attempt: 1, worker: 'w',
          decidedAt: new Date().toISOString(),
        } as unknown as Verdict;
        return {
          schemaVersion: 1, id: `${id}-r1`, jobId: id, bucket: 'b', key: `${id}.jpg`, sha256: null, round: 1, kind: decision === 'pass' ? 'sample' : 'decide', outcome,
          previousOutcome: null, reasons: outcome === 'block' ? ['porn'] : [], reviewer: { id: 'r', role: 'reviewer' }, escalated: false, enqueuedAt: '', claimedAt: '',
          decidedAt: new Date().toISOString(), modelDecision: decision, overturned: null, model: verdict.model, meta: {}, verdict,
        };
      };
      await log.append(decided('a', 'review', 0.9, 'block'));
      await log.append(decided('b', 'review', 0.8, 'pass'));
      await log.append(decided('c', 'pass', 0.2, 'block'));
      await log.append(decided('d', 'pass', 0.1, 'pass'));
      const env = { ...configEnv({ s3: s3.s3Config }), REVMOD_DECISION_LOG_BUCKET: 'eval-log', REVMOD_DECISION_LOG_PREFIX: 'decisions/' };
      const ctx = capture(env);
      const out = join(dir, 'log-report');
      expect(await runCli(['eval', '--decisions', '--since', '1d', '--sample-rate', '0.25', '--threshold', '0.5', '--out', out], ctx)).toBe(0);
      const e = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).evaluation;
      expect(e.images).toBe(4);
      expect(e.weightedImages).toBe(10); // 1 + 1 + 4 + 4
      // Violations: a (weight 1, flagged) and c (weight 4, passed): recall 1/5.
      expect(e.atThreshold).toMatchObject({ recall: 0.2, reviewRate: 0.2, precision: 0.5 });
      expect(e.perCategory.porn).toEqual({ recall: 0.2, support: 5 });
    } finally {
      await s3.close();
    }
  }, 60_000);
});

