import { WeightedSemaphore } from '../../src/util/weighted-semaphore';

/** The byte budget (REVMOD_MAX_INFLIGHT_BYTES) and the pool's free-thread gate are this semaphore. */
describe('WeightedSemaphore', () => {
  const flush = () => new Promise((r) => setImmediate(r));

  it('keeps what is held within the limit and serves waiters in order as weight is released', async () => {
    const s = new WeightedSemaphore(100);
    const granted: string[] = [];
    await s.acquire(60);
    const b = s.acquire(50).then(() => granted.push('b'));
    const c = s.acquire(10).then(() => granted.push('c')); // fits now, but waits its turn behind b
    await flush();
    expect({ inUse: s.inUse, waiting: s.waiting, granted }).toEqual({ inUse: 60, waiting: 2, granted: [] });
    s.release(60);
    await Promise.all([b, c]);
    expect({ inUse: s.inUse, waiting: s.waiting, granted }).toEqual({ inUse: 60, waiting: 0, granted: ['b', 'c'] });
  });

  it('lets one request larger than the whole limit through alone, so nothing waits forever', async () => {
    const s = new WeightedSemaphore(10);
    await s.acquire(5);
    let big = false;
    const p = s.acquire(25).then(() => { big = true; });
    await flush();
    expect(big).toBe(false);
    s.release(5);
    await p;
    expect(s.inUse).toBe(25);
  });

  it('refuses a limit that is not a positive integer, naming it', () => {
    expect(() => new WeightedSemaphore(0)).toThrow(/limit must be a positive integer, received 0/);
  });
});
