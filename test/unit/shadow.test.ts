import pino from 'pino';
import sharp from 'sharp';
import { RevmodError, type Verdict } from '@revmod/client';
import { loadConfig } from '../../src/config';
import { truthByJob } from '../../src/eval/decision-truth';
import { shadowReport } from '../../src/eval/shadow-eval';
import { shadowItems } from '../../src/eval/eval-sources';
import { decode, type DecodeSuccess } from '../../src/pool/decode-task';
import { DEFAULT_PREPROCESS_OPTIONS } from '../../src/preprocess';
import { DEFAULT_TAXONOMY } from '../../src/review/taxonomy';
import { ShadowBudget } from '../../src/shadow/shadow-budget';
import type { ShadowLog, ShadowRecord } from '../../src/shadow/shadow-log';
import { ShadowScorer } from '../../src/shadow/shadow-scorer';
import { compilePolicy, DEFAULT_RULES } from '../../src/policy';
import { generatedModelCard } from '../../tools/model-gen/ensure-model';

const IMAGENET = { mean: [0.485, 0.456, 0.406] as const, std: [0.229, 0.224, 0.225] as const, scale: 1 / 255 };
/** A champion preprocessing as a pipeline passes it to admit(). */
const CHAMPION = { preprocess: DEFAULT_PREPROCESS_OPTIONS, normalization: IMAGENET };

describe('ShadowBudget: the challenger takes at most its share of the time', () => {
  it('admits while credit lasts, charges real costs, and recovers at share ms per ms', () => {
    let now = 0;
    const budget = new ShadowBudget({ share: 0.2, maxCreditMs: 100, nowMs: () => now });
    expect(budget.creditMs).toBe(100); // a fresh worker stands as an idle one: full credit
    budget.charge(150);
    expect(budget.admits()).toBe(false);
    now += 100; // +20 ms of credit: still in debt (−50 + 20)
    expect(budget.admits()).toBe(false);
    now += 200; // +40 more
    expect(budget.admits()).toBe(true);
    expect(budget.creditMs).toBeCloseTo(10, 6);
  });

  it('caps credit so that a quiet period does not buy a long burst', () => {
    let now = 0;
    const budget = new ShadowBudget({ share: 0.5, maxCreditMs: 300, nowMs: () => now });
    now += 60_000;
    expect(budget.creditMs).toBe(300);
  });

  it('holds the long-run share under a greedy caller', () => {
    let now = 0;
    const budget = new ShadowBudget({ share: 0.25, maxCreditMs: 500, nowMs: () => now });
    // Every ms, shadow one image costing 3 ms whenever the budget admits it.
    for (let t = 0; t < 100_000; t++) {
      now = t;
      if (budget.admits()) budget.charge(3);
    }
    expect(budget.totalChargedMs / 100_000).toBeGreaterThan(0.24);
    expect(budget.totalChargedMs / 100_000).toBeLessThan(0.26);
  });

  it('refuses a share outside 0–1, naming it', () => {
    expect(() => new ShadowBudget({ share: 1.5 })).toThrow(/share must be from 0 to 1, received 1.5/);
    expect(() => loadConfig({}, { REVMOD_SHADOW_SHARE: '2' })).toThrow(RevmodError);
    expect(() => loadConfig({}, { REVMOD_SHADOW_SHARE: '2' })).toThrow(/REVMOD_SHADOW_SHARE/);
    expect(() => loadConfig({}, { REVMOD_SHADOW_ALIAS: 'Not An Alias' })).toThrow(/REVMOD_SHADOW_ALIAS/);
    expect(loadConfig({}, { REVMOD_SHADOW_ALIAS: 'candidate' }).shadow.alias).toBe('candidate');
  });
});

describe('the pool builds the challenger tensors the cheapest way its card allows', () => {
  const png = () => sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toBuffer();
  const task = async (shadow: Parameters<typeof decode>[0]['shadow']) => (await decode({
    bytes: new Uint8Array(await png()), preprocess: DEFAULT_PREPROCESS_OPTIONS, normalization: IMAGENET, maxFrames: 1, detectors: {}, pdq: false, shadow,
  })) as DecodeSuccess;

  it('copies the champion tensor when the preprocessing agrees', async () => {
    const out = await task({ build: 'copy' });
    expect(out.ok).toBe(true);
    expect(out.shadow!.build).toBe('copy');
    expect(out.shadow!.tensors[0]).toEqual(out.tensors[0]);
    expect(out.shadow!.tensors[0]!.buffer).not.toBe(out.tensors[0]!.buffer);
  });

  it('renormalizes the same crop when only the normalization differs', async () => {
    const out = await task({ build: 'renormalize', normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], scale: 1 / 255 } });
    expect(out.shadow!.build).toBe('renormalize');
    // Red channel, first pixel: (200/255 − 0.5) / 0.5 against (200/255 − 0.485) / 0.229.
    expect(out.shadow!.tensors[0]![0]).toBeCloseTo((200 / 255 - 0.5) / 0.5, 5);
    expect(out.tensors[0]![0]).toBeCloseTo((200 / 255 - 0.485) / 0.229, 5);
  });

  it('decodes again for another geometry', async () => {
    const out = await task({ build: 'decode', preprocess: { ...DEFAULT_PREPROCESS_OPTIONS, resize: 'squash', resizeShortSide: undefined, cropSize: 128 }, normalization: IMAGENET });
    expect(out.shadow!.build).toBe('decode');
    expect(out.shadow!.tensors[0]).toHaveLength(3 * 128 * 128);
    expect(out.tensors[0]).toHaveLength(3 * 224 * 224);
  });
});

describe('shadowReport: the two models compared per pair', () => {
  const side = (model: string, decision: 'pass' | 'review' | 'block', label = decision === 'pass' ? 'normal' : 'violate') => ({ model, decision, label, violate: decision === 'pass' ? 0.2 : 0.8, groups: {}, reasons: [] });
  const rec = (jobId: string, a: 'pass' | 'review', b: 'pass' | 'review', at = '2026-12-01T10:00:00Z'): ShadowRecord => ({
    jobId, bucket: 'b', key: `${jobId}.jpg`, at, champion: side('m@1', a), challenger: side('m@2', b), build: 'copy', sampled: a === 'pass' && b !== 'pass',
  });

  it('counts agreement, the decision matrix and review rates, one comparison per job', () => {
    const report = shadowReport([rec('1', 'pass', 'pass'), rec('2', 'pass', 'review'), rec('3', 'review', 'review'), rec('4', 'review', 'pass'), rec('4', 'review', 'pass', '2026-12-01T10:01:00Z')]);
    expect(report.pairs).toHaveLength(1);
    const p = report.pairs[0]!;
    expect(p.images).toBe(4);
    expect(p.agreement).toEqual({ decision: 0.5, label: 0.5, both: 0.5 });
    expect(p.decisions.pass).toEqual({ pass: 1, review: 1, block: 0 });
    expect(p.decisions.review).toEqual({ pass: 1, review: 1, block: 0 });
    expect(p.reviewRate).toEqual({ champion: 0.5, challenger: 0.5 });
    expect(p.sampled).toBe(1);
    expect(p.reviewed).toBeNull();
  });

  it('scores each model against people where they decided, taking the latest round', () => {
    const decision = (jobId: string, outcome: 'pass' | 'block', round: number) => ({ id: `${jobId}-r${round}`, jobId, outcome, round, reasons: outcome === 'block' ? ['contact_info'] : [], decidedAt: `2026-12-01T1${round}:00:00Z` });
    const truth = truthByJob([decision('2', 'pass', 1), decision('2', 'block', 2), decision('4', 'pass', 1)] as never, DEFAULT_TAXONOMY);
    expect(truth.get('2')).toEqual({ violation: true, category: 'contact' });
    const p = shadowReport([rec('1', 'pass', 'pass'), rec('2', 'pass', 'review'), rec('4', 'review', 'pass')], truth).pairs[0]!;
    expect(p.reviewed!.all).toEqual({ images: 2, championCorrect: 0, challengerCorrect: 2, championAccuracy: 0, challengerAccuracy: 1 });
    expect(p.reviewed!.disagreements.images).toBe(2);
  });
});

describe('shadowItems: a challenger calibrated from the shadow log and people\'s decisions', () => {
  const side = (model: string, decision: 'pass' | 'review', violate: number) => ({ model, decision, label: violate >= 0.5 ? 'violate' : 'normal', violate, groups: { normal: 1 - violate, violate }, reasons: [] });
  const rec = (jobId: string, champion: 'pass' | 'review', challenger: 'pass' | 'review', sampled = false): ShadowRecord => ({
    jobId, bucket: 'b', key: jobId, at: '2026-12-01T10:00:00Z', champion: side('m@1', champion, champion === 'pass' ? 0.2 : 0.9),
    challenger: side('m@2', challenger, challenger === 'pass' ? 0.1 : 0.6), build: 'decode', sampled,
  });
  const decided = (jobId: string, outcome: 'pass' | 'block') => ({ id: `${jobId}-r1`, jobId, outcome, round: 1, reasons: outcome === 'block' ? ['contact_info'] : [], decidedAt: '2026-12-01T11:00:00Z' });

  it('weighs each decision by the chance its image reached people, with the challenger\'s scores', () => {
    // b0 is in the QC sample at 0.1 (a hash of the id); x1 is not, and was not shadow-sampled (an appeal).
    const records = [rec('r1', 'review', 'review'), rec('s1', 'pass', 'review', true), rec('b0', 'pass', 'pass'), rec('x1', 'pass', 'pass'), rec('u1', 'review', 'pass')];
    const decisions = [decided('r1', 'block'), decided('s1', 'block'), decided('b0', 'pass'), decided('x1', 'pass')];
    const input = shadowItems(records, decisions as never, { challenger: 'm@2', sampleRate: 0.1, shadowReviewRate: 0.5, taxonomy: DEFAULT_TAXONOMY });
    expect(input.items).toEqual([
      { id: 'b0', truth: 'normal', violate: 0.1, groups: { normal: 0.9, violate: 0.1 }, weight: 10 },
      { id: 'r1', truth: 'contact', violate: 0.6, groups: { normal: 0.4, violate: 0.6 }, weight: 1 },
      // QC sample or shadow sample: 1 − 0.9 × 0.5 = 0.55.
      expect.objectContaining({ id: 's1', truth: 'contact', weight: expect.closeTo(1 / 0.55, 9) }),
    ]);
    expect(input.skipped).toEqual([{ id: 'x1', why: expect.stringMatching(/neither a QC nor a shadow sample/) }]);
    expect(input.models).toEqual({ 'm@2': 3 });
    // Another challenger's records are not this one's.
    expect(shadowItems(records, decisions as never, { challenger: 'm@3', sampleRate: 0.1, shadowReviewRate: 0.5, taxonomy: DEFAULT_TAXONOMY }).items).toEqual([]);
  });
});

describe('ShadowScorer: places are reserved at admission, so a burst cannot overrun the share', () => {
  const card = generatedModelCard('probe');
  const policy = compilePolicy('default', DEFAULT_RULES, card.thresholds, ['violate'], []);
  const make = (share: number, now: () => number, inferMs = 40, maxCreditMs = 1_000) => {
    const runs: number[] = [];
    const budget = new ShadowBudget({ share, maxCreditMs, nowMs: now });
    const scorer = new ShadowScorer({
      engine: { maxInFlight: 1, provider: 'cpu', run: async (t) => { runs.push(t.length); return { logits: new Float32Array(t.length * 2), inferMs }; }, close: async () => undefined },
      model: { name: 'c', version: '2', sha256: 'x' }, card, policy, decode: DEFAULT_PREPROCESS_OPTIONS, budget,
      log: { append: async () => undefined } as unknown as ShadowLog, batchSize: 8, maxWaitMs: 1, reviewRate: 0,
      sendToReview: async () => undefined, logger: pino({ level: 'silent' }),
    });
    return { scorer, budget, runs };
  };

  it('admits only what the credit covers when 64 jobs start at once, and gives cancelled places back', () => {
    let now = 0;
    const { scorer, budget } = make(0.1, () => now, 40, 120);
    // 120 ms of starting credit, 50 ms estimated per image: places while it is positive (120, 70, 20), 3 of 64.
    const tickets = Array.from({ length: 64 }, () => scorer.admit(CHAMPION));
    expect(tickets.filter(Boolean)).toHaveLength(3);
    expect(scorer.pending).toBe(3);
    for (const t of tickets.filter(Boolean)) t!.cancel();
    tickets[0]!.cancel(); // idempotent
    expect(scorer.pending).toBe(0);
    expect(budget.totalChargedMs).toBeCloseTo(0, 9);
    expect(budget.creditMs).toBeCloseTo(120, 9);
    budget.charge(120);
    now += 1_000; // +100 ms of credit: 2 places (100, 50), not 64
    expect(Array.from({ length: 64 }, () => scorer.admit(CHAMPION)).filter(Boolean)).toHaveLength(2);
  });

  it('chooses the cheapest build for a champion once: copy, renormalize or decode', () => {
    const { scorer } = make(1, () => 0);
    const sameNorm = card.preprocessing;
    const champion = { preprocess: { ...scorer.preprocess }, normalization: sameNorm };
    expect(scorer.inputFor(champion)).toEqual({ build: 'copy' });
    expect(scorer.inputFor(champion)).toBe(scorer.inputFor(champion));
    const otherNorm = { ...sameNorm, mean: [0.5, 0.5, 0.5] as const };
    expect(scorer.inputFor({ ...champion, normalization: otherNorm })).toEqual({ build: 'renormalize', normalization: sameNorm });
    expect(scorer.inputFor({ preprocess: { ...champion.preprocess, cropSize: 192 }, normalization: sameNorm })).toEqual({ build: 'decode', preprocess: scorer.preprocess, normalization: sameNorm });
  });

  it('settles each reservation against the real cost and learns the estimate', async () => {
    const now = 0;
    const { scorer, budget, runs } = make(1, () => now, 8);
    const verdict = { id: 'j', jobId: 'j', bucket: 'b', key: 'k', decision: 'pass', label: 'normal', violate: 0.1, groups: { normal: 0.9, violate: 0.1 }, reasons: [], meta: {}, model: { name: 'm', version: '1' } } as unknown as Verdict;
    const ticket = scorer.admit(CHAMPION)!;
    ticket.submit({ verdict, tensors: [new Float32Array(3 * 224 * 224)], build: 'copy', buildMs: 2, signals: [] });
    while (scorer.pending > 0) await new Promise((r) => setTimeout(r, 5));
    expect(runs).toEqual([1]);
    // Charged: build 2 ms + the whole 8 ms batch (one image), not the 50 ms reserved.
    expect(budget.totalChargedMs).toBeCloseTo(10, 6);
    expect(scorer.compared).toBe(1);
    await scorer.close();
  });
});

describe('ShadowTicket: a job that submits and then ends does not give its place back early', () => {
  it('keeps the image pending and charged until its run settles', async () => {
    const card = generatedModelCard('probe');
    const policy = compilePolicy('default', DEFAULT_RULES, card.thresholds, ['violate'], []);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const budget = new ShadowBudget({ share: 1, maxCreditMs: 1_000, nowMs: () => 0 });
    const scorer = new ShadowScorer({
      engine: { maxInFlight: 1, provider: 'cpu', run: async (t) => { await gate; return { logits: new Float32Array(t.length * 2), inferMs: 30 }; }, close: async () => undefined },
      model: { name: 'c', version: '2', sha256: 'x' }, card, policy, decode: DEFAULT_PREPROCESS_OPTIONS, budget,
      log: { append: async () => undefined } as unknown as ShadowLog, batchSize: 8, maxWaitMs: 1, reviewRate: 0,
      sendToReview: async () => undefined, logger: pino({ level: 'silent' }),
    });
    const verdict = { id: 'j', jobId: 'j', bucket: 'b', key: 'k', decision: 'pass', label: 'normal', violate: 0.1, groups: { normal: 0.9, violate: 0.1 }, reasons: [], meta: {}, model: { name: 'm', version: '1' } } as unknown as Verdict;
    const ticket = scorer.admit(CHAMPION)!;
    ticket.submit({ verdict, tensors: [new Float32Array(3 * 224 * 224)], build: 'copy', buildMs: 1, signals: [] });
    ticket.cancel(); // the job's finally: a no-op once submitted
    expect(scorer.pending).toBe(1);
    expect(budget.totalChargedMs).toBe(50); // the reservation stands
    release();
    while (scorer.pending > 0) await new Promise((r) => setTimeout(r, 5));
    expect(budget.totalChargedMs).toBeCloseTo(31, 6);
    await scorer.close();
  });
});
