import { decide, softmax2, validateThresholds, DEFAULT_THRESHOLDS } from '../../src/policy';

describe('softmax2', () => {
  it('gives probabilities that sum to 1 and survive huge logits', () => {
    const s = softmax2(2.98, 1.96);
    expect(s.normal + s.violate).toBeCloseTo(1, 12);
    expect(s.normal).toBeCloseTo(1 / (1 + Math.exp(1.96 - 2.98)), 12);
    const big = softmax2(1000, -1000);
    expect(big.normal).toBe(1);
    expect(Number.isFinite(big.violate)).toBe(true);
  });
});

describe('decide (tutorial policy: violate ≥ 0.7 → review; max < 0.7 → review; else pass)', () => {
  const t = DEFAULT_THRESHOLDS;
  it('passes a confident normal image', () => {
    expect(decide({ normal: 0.9, violate: 0.1 }, t)).toEqual({ decision: 'pass', label: 'normal', reasons: [] });
  });
  it('sends a suspected violation to review', () => {
    expect(decide({ normal: 0.25, violate: 0.75 }, t)).toEqual({ decision: 'review', label: 'violate', reasons: ['violate_score'] });
  });
  it('sends a low-confidence image to review', () => {
    expect(decide({ normal: 0.6, violate: 0.4 }, t)).toEqual({ decision: 'review', label: 'normal', reasons: ['low_confidence'] });
  });
  it('treats the thresholds as inclusive for violate and exclusive for confidence', () => {
    expect(decide({ normal: 0.3, violate: 0.7 }, t).decision).toBe('review');
    expect(decide({ normal: 0.7, violate: 0.3 }, t).decision).toBe('pass');
  });
  it('blocks only when a block threshold is set and reached', () => {
    const withBlock = { ...t, block: 0.95 };
    expect(decide({ normal: 0.02, violate: 0.98 }, withBlock)).toEqual({ decision: 'block', label: 'violate', reasons: ['block_threshold'] });
    expect(decide({ normal: 0.1, violate: 0.9 }, withBlock).decision).toBe('review');
    expect(decide({ normal: 0.001, violate: 0.999 }, t).decision).toBe('review');
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
  });
});
