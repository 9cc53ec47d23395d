import { StorageBreaker } from '../../src/pipeline/storage-breaker';

describe('StorageBreaker', () => {
  it('opens after `threshold` failures in a row and closes on a success', () => {
    const b = new StorageBreaker(3, 1_000);
    expect([b.failure(), b.failure()]).toEqual([false, false]);
    expect(b.failure()).toBe(true);
    expect(b.open).toBe(true);
    b.success();
    expect(b.open).toBe(false);
    expect(b.failure()).toBe(false);
  });

  it('never opens for one broken object among healthy ones', () => {
    const b = new StorageBreaker(2, 1_000);
    for (let i = 0; i < 10; i++) {
      expect(b.failure()).toBe(false);
      b.success();
    }
  });

  it('rejects bad settings naming them', () => {
    expect(() => new StorageBreaker(0, 1)).toThrow('threshold must be an integer ≥ 1, received 0');
    expect(() => new StorageBreaker(1, -5)).toThrow('pauseMs must be ≥ 0, received -5');
  });
});
