import type { ReviewDecision, Verdict } from '@revmod/client';
import { calibrate, calibrateBlock, calibrateCategories, chooseCategoryThreshold, chooseThreshold, estimatePolicy, truthGroup } from '../../src/eval/calibrate';
import { decisionItems } from '../../src/eval/eval-sources';
import { evaluateScores, pointAt, type LabelledScore } from '../../src/eval/model-metrics';
import { softmax } from '../../src/policy';
import { DEFAULT_TAXONOMY } from '../../src/review/taxonomy';
import { SeededRandom } from '../../src/util/seeded-random';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * A synthetic month: 10 % violations, scores overlapping; the old model sent everything at or
 * above `reviewedFrom` (0.7) to people and QC-sampled 5 % of what it passed. Returns the whole
 * population (the truth) and what people decided on (the selectively labelled sample).
 */
function syntheticTraffic(seed: number, reviewedFrom = 0.7) {
  const rng = new SeededRandom(seed);
  const population: LabelledScore[] = [];
  for (let i = 0; i < 40_000; i++) {
    const violation = rng.next() < 0.1;
    const violate = sigmoid((violation ? 1.2 : -2.2) + 1.5 * rng.normal());
    population.push({ id: `i${i}`, truth: violation ? 'violate' : 'normal', violate, groups: { normal: 1 - violate, violate }, weight: 1 });
  }
  const sampleRate = 0.05;
  return selectivelyLabelled(population, rng, reviewedFrom, sampleRate);
}

/** What people saw of `population`: everything at or above `reviewedFrom`, and a QC sample of the rest. */
function selectivelyLabelled(population: readonly LabelledScore[], rng: SeededRandom, reviewedFrom: number, sampleRate: number) {
  const reviewed = population.filter((it) => it.violate >= reviewedFrom || rng.next() < sampleRate);
  const weighted = reviewed.map((it) => ({ ...it, weight: it.violate >= reviewedFrom ? 1 : 1 / sampleRate }));
  const unweighted = reviewed.map((it) => ({ ...it, weight: 1 }));
  return { population, weighted, unweighted };
}

const GROUPS = ['normal', 'porn', 'contact', 'spam', 'privacy'] as const;

/**
 * A synthetic month for a model with four violation groups: porn scores high, contact low (the
 * model finds it hard), spam between; privacy is rare (a handful of images). The old model
 * reviewed violate ≥ 0.7 and QC-sampled 5 % of the rest.
 */
function syntheticCategories(seed: number) {
  const mix = [['porn', 0.04, 2.0], ['contact', 0.04, 0.8], ['spam', 0.02, 1.4], ['privacy', 0.0002, 1.5]] as const;
  const rng = new SeededRandom(seed);
  const population: LabelledScore[] = [];
  for (let i = 0; i < 40_000; i++) {
    let u = rng.next();
    let truth = 'normal', strength = 0;
    for (const [g, p, s] of mix) {
      if (u < p) {
        truth = g;
        strength = s;
        break;
      }
      u -= p;
    }
    const logits = GROUPS.map((g) => (g === 'normal' ? (truth === 'normal' ? 2.5 : 0.5) + rng.normal() : g === truth ? strength + 1.5 * rng.normal() : -1.5 + rng.normal()));
    const p = softmax(logits);
    const groups = Object.fromEntries(GROUPS.map((g, k) => [g, p[k]!]));
    population.push({ id: `i${i}`, truth, violate: 1 - groups.normal!, groups, weight: 1 });
  }
  return selectivelyLabelled(population, rng, 0.7, 0.05);
}

/** The population's recall of `group` at `t`: what a chosen category threshold really catches. */
function trueRecall(population: readonly LabelledScore[], group: string, t: number): number {
  const own = population.filter((it) => it.truth === group);
  return own.filter((it) => it.groups[group]! >= t).length / own.length;
}

describe('calibration under selective labels', () => {
  const { population, weighted, unweighted } = syntheticTraffic(7);

  it('weighted by inverse sampling rate, the estimates at a new threshold recover the population\'s; unweighted ones do not', () => {
    const truth = pointAt(population, 0.4);
    const w = pointAt(weighted, 0.4);
    const u = pointAt(unweighted, 0.4);
    expect(Math.abs(w.reviewRate - truth.reviewRate)).toBeLessThan(0.01);
    expect(Math.abs(w.recall - truth.recall)).toBeLessThan(0.03);
    // The unweighted sample is mostly what the old model flagged: rates far off.
    expect(Math.abs(u.reviewRate - truth.reviewRate)).toBeGreaterThan(0.3);
    expect(Math.abs(u.recall - truth.recall)).toBeGreaterThan(0.05);
  });

  it('picks the threshold of a target review rate as the population would, with an interval that holds the truth', () => {
    const target = { kind: 'review-rate' as const, value: 0.08 };
    const cal = calibrate(weighted, { target, replicates: 200, seed: 3 });
    const trueThreshold = chooseThreshold(population, target)!;
    const naive = chooseThreshold(unweighted, target)!;
    expect(cal.threshold).not.toBeNull();
    expect(Math.abs(cal.threshold! - trueThreshold)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(naive - trueThreshold)).toBeGreaterThan(0.15);
    const truthAt = pointAt(population, cal.threshold!);
    expect(cal.intervals.reviewRate!.low).toBeLessThanOrEqual(truthAt.reviewRate);
    expect(cal.intervals.reviewRate!.high).toBeGreaterThanOrEqual(truthAt.reviewRate);
    expect(cal.intervals.recall!.low).toBeLessThanOrEqual(truthAt.recall);
    expect(cal.intervals.recall!.high).toBeGreaterThanOrEqual(truthAt.recall);
    expect(cal.intervals.threshold!.low).toBeLessThanOrEqual(trueThreshold);
    expect(cal.intervals.threshold!.high).toBeGreaterThanOrEqual(trueThreshold);
    expect(cal.intervals.recall!.high - cal.intervals.recall!.low).toBeGreaterThan(0);
    expect(cal.weightedImages).toBeGreaterThan(0.9 * population.length);
  });

  it('picks the lowest threshold that reaches a target precision', () => {
    const target = { kind: 'precision' as const, value: 0.8 };
    const cal = calibrate(weighted, { target, replicates: 50 });
    expect(cal.estimate!.precision).toBeGreaterThanOrEqual(0.8);
    expect(pointAt(weighted, cal.threshold! - 0.005).precision).toBeLessThan(0.8);
    expect(Math.abs(pointAt(population, cal.threshold!).precision - 0.8)).toBeLessThan(0.05);
  });

  it('says when no threshold meets the target', () => {
    // Violations score no higher than normal images here: no threshold gives a precision of 0.9.
    const muddled = weighted.map((it) => ({ ...it, violate: it.truth === 'normal' ? it.violate : it.violate / 2 }));
    const cal = calibrate(muddled, { target: { kind: 'precision', value: 0.9 }, replicates: 10 });
    expect(cal.threshold).toBeNull();
    expect(cal.estimate).toBeNull();
  });
});

describe('block threshold calibration under selective labels', () => {
  // The old model reviewed only violate ≥ 0.9: a block threshold below that rests on QC samples,
  // which counted unweighted look as precise as what people reviewed.
  const { population, weighted, unweighted } = syntheticTraffic(7, 0.9);
  const target = { kind: 'precision' as const, value: 0.9 };

  it('recovers the population\'s block threshold and precision where the unweighted sample does not', () => {
    const block = calibrateBlock(weighted, { precision: 0.9, replicates: 200, seed: 3 });
    const trueThreshold = chooseThreshold(population, target)!;
    const naive = chooseThreshold(unweighted, target)!;
    expect(block.threshold).not.toBeNull();
    expect(Math.abs(block.threshold! - trueThreshold)).toBeLessThanOrEqual(0.02);
    const truthAt = pointAt(population, block.threshold!);
    expect(Math.abs(truthAt.precision - 0.9)).toBeLessThan(0.03);
    expect(Math.abs(block.estimate!.precision - truthAt.precision)).toBeLessThan(0.01);
    expect(block.estimate!.blockRate).toBeCloseTo(truthAt.reviewRate, 2);
    // Unweighted, the choice is far too low and blocks many images people would pass, while claiming 0.9.
    expect(trueThreshold - naive).toBeGreaterThan(0.2);
    expect(pointAt(unweighted, naive).precision).toBeGreaterThanOrEqual(0.9);
    expect(pointAt(population, naive).precision).toBeLessThan(0.7);
    // Intervals hold the truth, and the precision's sample is counted.
    expect(block.intervals.precision!.low).toBeLessThanOrEqual(truthAt.precision);
    expect(block.intervals.precision!.high).toBeGreaterThanOrEqual(truthAt.precision);
    expect(block.intervals.threshold!.low).toBeLessThanOrEqual(trueThreshold);
    expect(block.intervals.threshold!.high).toBeGreaterThanOrEqual(trueThreshold);
    expect(block.intervals.blockRate!.low).toBeLessThanOrEqual(truthAt.reviewRate);
    expect(block.intervals.blockRate!.high).toBeGreaterThanOrEqual(truthAt.reviewRate);
    const above = weighted.filter((it) => it.violate >= block.threshold!);
    expect(block.atOrAbove).toEqual({ images: above.length, weightedImages: above.reduce((s, it) => s + it.weight, 0) });
    expect(block.atOrAbove!.weightedImages).toBeGreaterThan(block.atOrAbove!.images);
  });

  it('gives no block threshold when no candidate reaches the precision', () => {
    const muddled = weighted.map((it) => ({ ...it, violate: it.truth === 'normal' ? it.violate : it.violate / 2 }));
    const block = calibrateBlock(muddled, { precision: 0.9, replicates: 10 });
    expect(block.threshold).toBeNull();
    expect(block.estimate).toBeNull();
    expect(block.atOrAbove).toBeNull();
  });
});

describe('per-category review thresholds under selective labels', () => {
  const { population, weighted, unweighted } = syntheticCategories(11);
  const groups = Object.fromEntries(GROUPS.map((g) => [g, g]));
  const recall = 0.9;

  it('each category\'s threshold reaches its population recall target; unweighted ones fall short', () => {
    const cal = calibrateCategories(weighted, { recall, groups, replicates: 200, seed: 5 });
    const naive = calibrateCategories(unweighted, { recall, groups, replicates: 10 });
    const chosen = new Map(cal.byGroup.flatMap((c) => (c.chosen ? [[c.group, c] as const] : [])));
    expect([...chosen.keys()].sort()).toEqual(['contact', 'porn', 'spam']);
    const thresholds: number[] = [];
    for (const [g, c] of chosen) {
      const trueThreshold = chooseCategoryThreshold(population, g, recall)!;
      expect(Math.abs(c.threshold - trueThreshold)).toBeLessThanOrEqual(0.05);
      const truth = trueRecall(population, g, c.threshold);
      expect(Math.abs(truth - recall)).toBeLessThan(0.04);
      expect(c.intervals.recall!.low).toBeLessThanOrEqual(truth);
      expect(c.intervals.recall!.high).toBeGreaterThanOrEqual(truth);
      expect(c.intervals.threshold!.low).toBeLessThanOrEqual(trueThreshold);
      expect(c.intervals.threshold!.high).toBeGreaterThanOrEqual(trueThreshold);
      expect(c.samples.weightedImages).toBeGreaterThan(c.samples.images);
      const n = naive.byGroup.find((x) => x.group === g)!;
      if (!n.chosen) throw new Error(`unweighted ${g} kept: ${n.why}`);
      // Unweighted, the caught violations (reviewed, weight 1) crowd out the missed ones (sampled at 5 %).
      expect(trueRecall(population, g, n.threshold)).toBeLessThan(0.76);
      expect(n.threshold - c.threshold).toBeGreaterThan(0.15);
      thresholds.push(c.threshold);
    }
    // The categories differ, so do their thresholds: contact, the hard one, gets the lowest.
    expect(chosen.get('contact')!.threshold).toBe(Math.min(...thresholds));
    expect(Math.max(...thresholds) - Math.min(...thresholds)).toBeGreaterThan(0.05);
  });

  it('keeps the card\'s threshold for a category with too few labelled violations, saying why', () => {
    const cal = calibrateCategories(weighted, { recall, groups, replicates: 10 });
    const privacy = cal.byGroup.find((c) => c.group === 'privacy')!;
    const labelled = weighted.filter((it) => it.truth === 'privacy').length;
    expect(labelled).toBeGreaterThan(0);
    expect(privacy).toMatchObject({ chosen: false, samples: { images: labelled } });
    expect(privacy.chosen === false && privacy.why).toMatch(/effective sample size .* < 5/);
    // A lower minimum lets it through.
    const lax = calibrateCategories(weighted, { recall, groups, replicates: 10, minEffectiveSamples: 1 });
    expect(lax.byGroup.find((c) => c.group === 'privacy')!.chosen).toBe(true);
  });

  it('counts weights in the effective sample size: a few QC samples do not make a category well sampled', () => {
    const item = (id: string, score: number, weight: number): LabelledScore => ({ id, truth: 'spam', violate: score, groups: { normal: 1 - score, spam: score }, weight });
    // 3 samples of weight 20 and 2 of weight 1: 5 images, effective (62)² / 1202 ≈ 3.2.
    const items = [item('a', 0.1, 20), item('b', 0.2, 20), item('c', 0.3, 20), item('d', 0.8, 1), item('e', 0.9, 1)];
    const cal = calibrateCategories(items, { recall: 0.5, groups: { normal: 'normal', spam: 'spam', porn: 'porn' }, replicates: 10 });
    expect(cal.byGroup.find((c) => c.group === 'spam')).toMatchObject({ chosen: false, samples: { images: 5, weightedImages: 62, effective: 3.198003 } });
    expect(cal.byGroup.find((c) => c.group === 'porn')).toMatchObject({ chosen: false, samples: { images: 0, effective: 0 } });
  });

  it('keeps a category no candidate reaches, and counts violations of no card group as unassigned', () => {
    const item = (id: string, truth: string, score: number): LabelledScore => ({ id, truth, violate: score, groups: { normal: 1 - score, nsfw: score }, weight: 1 });
    // Class names map to their group (nsfw_a → nsfw); "other" is no group of the card.
    const cardGroups = { safe: 'normal', nsfw_a: 'nsfw', nsfw_b: 'nsfw', spam: 'spam' };
    const items = [...Array.from({ length: 8 }, (_, i) => item(`n${i}`, 'nsfw_a', 0.3 + i * 0.05)), item('o1', 'other', 0.9), item('o2', 'other', 0.2), item('s', 'normal', 0.1)];
    expect(truthGroup('nsfw_b', cardGroups)).toBe('nsfw');
    expect(truthGroup('other', cardGroups)).toBeUndefined();
    const cal = calibrateCategories(items, { recall: 1, groups: cardGroups, replicates: 10 });
    const nsfw = cal.byGroup.find((c) => c.group === 'nsfw')!;
    // Recall 1 needs every nsfw violation at or above: the lowest scores 0.3.
    expect(nsfw).toMatchObject({ chosen: true, threshold: 0.3, estimate: { recall: 1 } });
    expect(cal.unassigned).toEqual({ images: 2, weightedImages: 2, truths: { other: 2 } });
    const zero = items.map((it) => ({ ...it, groups: { normal: 1, nsfw: 0 } }));
    const none = calibrateCategories(zero, { recall: 0.5, groups: cardGroups, replicates: 10 });
    expect(none.byGroup.find((c) => c.group === 'nsfw')).toMatchObject({ chosen: false, why: expect.stringMatching(/no candidate threshold reaches recall 0.5/) });
  });
});

describe('estimatePolicy: what the default score rules decide with the new thresholds', () => {
  const item = (truth: string, violate: number, spam = violate, weight = 1): LabelledScore => ({ id: `${truth}${violate}${spam}`, truth, violate, groups: { normal: 1 - violate, porn: violate - spam, spam }, weight });

  it('adds up violate, block and category thresholds, weighted', () => {
    const items = [item('normal', 0.05, 0.05, 10), item('spam', 0.2, 0.2, 10), item('normal', 0.75, 0.1), item('porn', 0.9, 0), item('porn', 0.97, 0)];
    const thresholds = { violate: 0.7, confidence: 0, block: 0.95 };
    const before = estimatePolicy(items, thresholds, ['porn', 'spam'], { replicates: 20 });
    // Of 23 images: 2 reviewed (0.75, 0.9), 1 blocked (0.97); the spam at 0.2 (weight 10) passes.
    expect(before.estimate).toEqual({ reviewRate: 0.086957, blockRate: 0.043478, flaggedRate: 0.130435, recall: 0.166667, blockPrecision: 1 });
    const after = estimatePolicy(items, { ...thresholds, categories: { spam: { review: 0.15 } } }, ['porn', 'spam'], { replicates: 20 });
    expect(after.estimate).toMatchObject({ reviewRate: 0.521739, flaggedRate: 0.565217, recall: 1 });
    expect(after.intervals.reviewRate!.high).toBeGreaterThanOrEqual(after.estimate.reviewRate);
  });

  it('refuses thresholds that do not fit together', () => {
    expect(() => estimatePolicy([item('normal', 0.1)], { violate: 0.7, confidence: 0.7, block: 0.5 }, ['porn', 'spam'])).toThrow(/block \(0.5\) must not be below violate \(0.7\)/);
  });
});

describe('evaluateScores', () => {
  const item = (truth: string, violate: number, weight = 1): LabelledScore => ({ id: `${truth}${violate}`, truth, violate, groups: { normal: 1 - violate, violate }, weight });

  it('counts precision, recall, F1 and the confusion matrix, weighted', () => {
    const e = evaluateScores([item('normal', 0.1), item('normal', 0.8), item('violate', 0.9), item('violate', 0.3, 3)], 0.5, 10);
    expect(e.confusion).toEqual({ labels: ['normal', 'violate'], matrix: [[1, 1], [3, 1]] });
    expect(e.perClass.violate).toEqual({ precision: 0.5, recall: 0.25, f1: 0.333333, support: 4 });
    expect(e.atThreshold).toMatchObject({ threshold: 0.5, reviewRate: 0.333333, recall: 0.25, precision: 0.5, missed: 3 });
    expect(e.sweep).toHaveLength(11);
    expect(e.sweep[0]).toMatchObject({ threshold: 0, reviewRate: 1, recall: 1 });
    expect(e.weightedImages).toBe(6);
  });
});

describe('decisionItems: the decision log as labelled scores', () => {
  const verdict = (id: string, decision: Verdict['decision'], violate: number): Verdict => ({
    schemaVersion: 2, id, jobId: id, bucket: 'b', key: `${id}.jpg`, decision, label: violate >= 0.5 ? 'violate' : 'normal', scores: { normal: 1 - violate, violate },
    groups: { normal: 1 - violate, violate }, violate, reasons: [], model: { name: 'm', version: '1', sha256: 'x', executionProvider: 'cpu' } as Verdict['model'],
    timings: {} as Verdict['timings'], batch: null, meta: {}, attempt: 1, worker: 'w', decidedAt: '2026-12-01T00:00:00Z',
  });
  const decision = (v: Verdict, outcome: 'pass' | 'block', round = 1, reasons: string[] = outcome === 'block' ? ['contact_info'] : []): ReviewDecision => ({
    schemaVersion: 1, id: `${v.jobId}-r${round}`, jobId: v.jobId, bucket: 'b', key: v.key, sha256: null, round, kind: v.decision === 'pass' ? 'sample' : 'decide',
    outcome, previousOutcome: null, reasons, reviewer: { id: 'r', role: 'reviewer' }, escalated: false, enqueuedAt: '', claimedAt: '', decidedAt: '2026-12-01T00:00:00Z',
    modelDecision: v.decision, overturned: null, model: v.model, meta: {}, verdict: v,
  });

  it('weighs QC samples of passes by 1 / rate, takes the latest round, files blocks under their category', () => {
    const a = verdict('a', 'review', 0.8);
    // b0 is in the QC sample at rate 0.1 (the choice is a hash of the id), c0 is not.
    const b = verdict('b0', 'pass', 0.1);
    const c = verdict('c0', 'pass', 0.1);
    const input = decisionItems([decision(a, 'block'), decision(a, 'pass', 2), decision(b, 'block'), decision(c, 'block')], { sampleRate: 0.1, taxonomy: DEFAULT_TAXONOMY });
    expect(input.items).toEqual([
      expect.objectContaining({ id: 'a', truth: 'normal', weight: 1 }),
      expect.objectContaining({ id: 'b0', truth: 'contact', weight: 10 }),
    ]);
    expect(input.models).toEqual({ 'm@1': 2 });
    // A pass that reached people outside the sample (a shadow disagreement, an appeal) is not weighed.
    expect(input.skipped).toEqual([{ id: 'c0', why: expect.stringMatching(/outside the QC sample/) }]);
  });

  it('skips samples of passes when no sampling rate is known, saying why', () => {
    const input = decisionItems([decision(verdict('b', 'pass', 0.1), 'pass')], { sampleRate: 0, taxonomy: DEFAULT_TAXONOMY });
    expect(input.items).toEqual([]);
    expect(input.skipped[0]!.why).toMatch(/sampling rate/);
  });
});
