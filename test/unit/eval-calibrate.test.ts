import type { ReviewDecision, Verdict } from '@revmod/client';
import { calibrate, chooseThreshold } from '../../src/eval/calibrate';
import { decisionItems } from '../../src/eval/eval-sources';
import { evaluateScores, pointAt, type LabelledScore } from '../../src/eval/model-metrics';
import { DEFAULT_TAXONOMY } from '../../src/review/taxonomy';
import { SeededRandom } from '../../src/util/seeded-random';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * A synthetic month: 10 % violations, scores overlapping; the old model sent everything at or
 * above 0.7 to people and QC-sampled 5 % of what it passed. Returns the whole population (the
 * truth) and what people decided on (the selectively labelled sample).
 */
function syntheticTraffic(seed: number) {
  const rng = new SeededRandom(seed);
  const population: LabelledScore[] = [];
  for (let i = 0; i < 40_000; i++) {
    const violation = rng.next() < 0.1;
    const violate = sigmoid((violation ? 1.2 : -2.2) + 1.5 * rng.normal());
    population.push({ id: `i${i}`, truth: violation ? 'violate' : 'normal', violate, groups: { normal: 1 - violate, violate }, weight: 1 });
  }
  const sampleRate = 0.05;
  const reviewed = population.filter((it) => it.violate >= 0.7 || rng.next() < sampleRate);
  const weighted = reviewed.map((it) => ({ ...it, weight: it.violate >= 0.7 ? 1 : 1 / sampleRate }));
  const unweighted = reviewed.map((it) => ({ ...it, weight: 1 }));
  return { population, weighted, unweighted };
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
