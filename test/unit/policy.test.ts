import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compilePolicy, DEFAULT_RULES, DEFAULT_THRESHOLDS, parsePolicyFile, readPolicyFile, scoreRow, softmax, validateThresholds,
  type PolicyThresholds, type ScoreReading,
} from '../../src/policy';
import type { Signal } from '../../src/detectors/detector';
import { SeededRandom } from '../../src/util/seeded-random';
import { legacyDecide, softmax2 } from '../helpers/legacy-policy';

const TWO_CLASS: ScoreReading = { classes: ['normal', 'violate'], groups: { normal: 'normal', violate: 'violate' }, scores: 'logits' };
const NSFW: ScoreReading = {
  classes: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'],
  groups: { Drawing: 'normal', Neutral: 'normal', Hentai: 'porn', Porn: 'porn', Sexy: 'sexy' },
  scores: 'probabilities',
};
const signal = (reason: string, evidence: Record<string, unknown> = {}): Signal => ({ detector: reason, reason, evidence });

describe('scoreRow', () => {
  it('reads 2-class logits exactly as the old softmax did', () => {
    const s = scoreRow([2.98, 1.96], TWO_CLASS)!;
    const old = softmax2(2.98, 1.96);
    expect(s.classes).toEqual({ normal: old.normal, violate: old.violate });
    expect(s.violate).toBe(old.violate);
    expect(s.label).toBe('normal');
    expect(softmax([1000, -1000])[0]).toBe(1);
  });

  it('sums classes into groups: violate is the violation groups, label the top group, topClass kept', () => {
    const s = scoreRow([0.3, 0.1, 0.25, 0.15, 0.2], NSFW)!;
    expect(s.groups.normal).toBeCloseTo(0.55, 12);
    expect(s.groups.porn).toBeCloseTo(0.25, 12);
    expect(s.violate).toBeCloseTo(0.45, 12);
    expect(s.label).toBe('normal');
    expect(s.topClass).toBe('Drawing');
  });

  it('refuses non-finite outputs (the caller fails closed)', () => {
    expect(scoreRow([Number.NaN, 0], TWO_CLASS)).toBeUndefined();
    expect(scoreRow([0, Number.POSITIVE_INFINITY], TWO_CLASS)).toBeUndefined();
  });
});

describe('the default policy with only the classifier on', () => {
  const policyFor = (t: PolicyThresholds) => compilePolicy('default', DEFAULT_RULES, t, ['violate']);

  it('reproduces the old decisions, reasons and labels exactly (property test over random scores and threshold edges)', () => {
    const random = new SeededRandom(42);
    const thresholdSets: PolicyThresholds[] = [
      DEFAULT_THRESHOLDS, { ...DEFAULT_THRESHOLDS, block: 0.95 }, { violate: 0.5, confidence: 0.9, block: 0.5 }, { violate: 0.9, confidence: 0.55, block: null },
    ];
    let compared = 0;
    for (const t of thresholdSets) {
      const policy = policyFor(t);
      const logitPairs: Array<[number, number]> = [];
      for (let i = 0; i < 4000; i++) logitPairs.push([random.normal() * 4, random.normal() * 4]);
      // Threshold edges: logits whose softmax lands exactly on (and a hair around) each threshold.
      for (const p of [t.violate, t.confidence, 1 - t.confidence, t.block ?? 0.5]) {
        for (const eps of [0, 1e-12, -1e-12, 1e-7, -1e-7]) {
          const q = Math.min(1 - 1e-9, Math.max(1e-9, p + eps));
          logitPairs.push([0, Math.log(q / (1 - q))]);
        }
      }
      logitPairs.push([0, 0], [5, 5], [-700, 700], [700, -700]);
      for (const [n, v] of logitPairs) {
        const old = legacyDecide(softmax2(n, v), t);
        const scores = scoreRow([n, v], TWO_CLASS)!;
        const now = policy.evaluate({ scores, signals: [], meta: {} });
        expect({ n, v, decision: now.decision, reasons: now.reasons, label: scores.label }).toEqual({ n, v, decision: old.decision, reasons: old.reasons, label: old.label });
        compared += 1;
      }
    }
    expect(compared).toBeGreaterThan(16_000);
  });

  it('has a version that changes with the thresholds and rules, and not otherwise', () => {
    expect(policyFor(DEFAULT_THRESHOLDS).version).toBe(policyFor({ ...DEFAULT_THRESHOLDS }).version);
    expect(policyFor(DEFAULT_THRESHOLDS).version).not.toBe(policyFor({ ...DEFAULT_THRESHOLDS, violate: 0.71 }).version);
    expect(compilePolicy('default', DEFAULT_RULES.slice(1), DEFAULT_THRESHOLDS, ['violate']).version).not.toBe(policyFor(DEFAULT_THRESHOLDS).version);
  });
});

describe('detector signals and meta in the default policy', () => {
  const policy = compilePolicy('default', DEFAULT_RULES, DEFAULT_THRESHOLDS, ['violate']);
  const clean = scoreRow([3, -3], TWO_CLASS)!;

  it('sends contact details, QR codes, blur and banned text to review, and blocks known violations', () => {
    for (const reason of ['contact_info', 'qr_code', 'blurry', 'banned_text', 'text_heavy']) {
      expect(policy.evaluate({ scores: clean, signals: [signal(reason)], meta: {} })).toMatchObject({ decision: 'review', reasons: [reason] });
    }
    expect(policy.evaluate({ scores: clean, signals: [signal('known_violation'), signal('contact_info')], meta: {} }))
      .toMatchObject({ decision: 'block', reasons: ['known_violation'], matched: ['known_violation', 'contact_info'], labels: ['known_violation', 'contact_info'] });
    expect(policy.evaluate({ scores: clean, signals: [], meta: {} })).toMatchObject({ decision: 'pass', reasons: [] });
  });

  it('follows a list\'s action on a known violation: block, or review for lists that want a look', () => {
    const listed = (action: string) => signal('known_violation', { list: 'spam', action, distance: 4 });
    expect(policy.evaluate({ scores: clean, signals: [listed('block')], meta: {} })).toMatchObject({ decision: 'block', reasons: ['known_violation'] });
    expect(policy.evaluate({ scores: clean, signals: [listed('review')], meta: {} })).toMatchObject({ decision: 'review', reasons: ['known_violation'], matched: ['known_violation_review'] });
    expect(policy.evaluate({ scores: clean, signals: [listed('review'), listed('block')], meta: {} }).decision).toBe('block');
    expect(policy.evaluate({ scores: clean, signals: [signal('known_ok', { list: 'banners', action: 'pass' })], meta: {} })).toMatchObject({ decision: 'pass', labels: ['known_ok'] });
  });

  it('lets a shop allow-list its own QR hosts through meta, and only those', () => {
    const qr = signal('qr_code', { host: 'shop.example.com' });
    expect(policy.evaluate({ scores: clean, signals: [qr], meta: { allowedQrHosts: ['shop.example.com'] } }).decision).toBe('pass');
    expect(policy.evaluate({ scores: clean, signals: [qr], meta: { allowedQrHosts: ['other.example'] } }).decision).toBe('review');
    expect(policy.evaluate({ scores: clean, signals: [qr, signal('qr_code', { host: 'evil.example' })], meta: { allowedQrHosts: ['shop.example.com'] } }).decision).toBe('review');
  });

  it('applies per-category thresholds on groups', () => {
    const t: PolicyThresholds = { ...DEFAULT_THRESHOLDS, categories: { porn: { review: 0.3, block: 0.8 } } };
    const p = compilePolicy('default', DEFAULT_RULES, t, ['porn', 'sexy']);
    const mild = scoreRow([0.3, 0.05, 0.3, 0.3, 0.05], NSFW)!; // porn 0.35, violate 0.4, normal 0.6
    expect(p.evaluate({ scores: mild, signals: [], meta: {} })).toMatchObject({ decision: 'review', reasons: ['category_score', 'low_confidence'], labels: ['porn'] });
    const strong = scoreRow([0.02, 0.4, 0.08, 0.45, 0.05], NSFW)!; // porn 0.85
    expect(p.evaluate({ scores: strong, signals: [], meta: {} })).toMatchObject({ decision: 'block', reasons: ['category_block'] });
  });
});

describe('policy files', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'revmod-policy-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads YAML rules that match on meta, and reports their name on verdicts', async () => {
    const path = join(dir, 'policy.yaml');
    writeFileSync(path, [
      'version: 1', 'name: strict-shops',
      'rules:',
      '  - name: trusted_shops_pass_blur', '    if: { signal: blurry, meta: { shopId: [7, 8] } }', '    then: pass',
      '  - name: blurry', '    if: { signal: blurry, not: { meta: { shopId: [7, 8] } } }', '    then: review',
      '  - name: violate_score', '    if: { score: violate, atLeast: review }', '    then: review',
    ].join('\n'));
    const file = await readPolicyFile(path);
    const p = compilePolicy(file.name, file.rules, DEFAULT_THRESHOLDS, ['violate']);
    const clean = scoreRow([3, -3], TWO_CLASS)!;
    expect(p.evaluate({ scores: clean, signals: [signal('blurry')], meta: { shopId: 7 } })).toMatchObject({ decision: 'pass', matched: ['trusted_shops_pass_blur'] });
    expect(p.evaluate({ scores: clean, signals: [signal('blurry')], meta: { shopId: 9 } })).toMatchObject({ decision: 'review', reasons: ['blurry'] });
    expect(p.name).toBe('strict-shops');
  });

  it('names the rule and the field of every mistake', () => {
    const bad = (value: unknown) => { try { parsePolicyFile(value, 'p.json'); return ''; } catch (err) { return (err as Error).message; } };
    expect(bad({ version: 1, rules: [{ name: 'r1', if: { signal: 'qr_code' }, then: 'reject' }] }))
      .toMatch(/policy file p\.json: rules\[0\] \(r1\)\.then: Invalid option/);
    expect(bad({ version: 1, rules: [{ name: 'r2', if: { score: 'violate' }, then: 'review' }] })).toMatch(/rules\[0\] \(r2\)\.if\.score: needs atLeast or below/);
    expect(bad({ version: 1, rules: [{ name: 'r3', if: {}, then: 'review' }] })).toMatch(/rules\[0\] \(r3\)\.if: an empty condition/);
    expect(bad({ version: 2, rules: [] })).toMatch(/version: /);
    expect(bad({ version: 1, rules: [{ name: 'r4', if: { sginal: 'x' }, then: 'review' }] })).toMatch(/rules\[0\] \(r4\)\.if: Unrecognized key: "sginal"/);
    expect(() => compilePolicy('p', [{ name: 'r5', if: { score: 'gore', atLeast: 0.5 }, then: 'block' }], DEFAULT_THRESHOLDS, ['violate']))
      .toThrow(/policy p: rules\[0\] \(r5\)\.if\.score: "gore" is not a score/);
  });

  it('refuses unreadable and malformed files, naming them', async () => {
    await expect(readPolicyFile(join(dir, 'missing.yaml'))).rejects.toThrow(/policy file .*missing\.yaml: cannot be read \(ENOENT\)/);
    writeFileSync(join(dir, 'broken.json'), '{ "version": 1, ');
    await expect(readPolicyFile(join(dir, 'broken.json'))).rejects.toThrow(/broken\.json: not valid JSON/);
  });
});

describe('validateThresholds', () => {
  it('accepts the defaults and names each bad value', () => {
    expect(validateThresholds(DEFAULT_THRESHOLDS)).toEqual([]);
    expect(validateThresholds({ violate: 1.5, confidence: -0.1, block: 0.5 })).toEqual([
      'violate must be within [0, 1], received 1.5',
      'confidence must be within [0, 1], received -0.1',
      'block (0.5) must not be below violate (1.5)',
    ]);
    expect(validateThresholds({ violate: 0.7, categories: { porn: { review: 0.6, block: 0.4 } } })).toEqual(['categories.porn.block (0.4) must not be below categories.porn.review (0.6)']);
  });
});
