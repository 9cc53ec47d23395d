import { MicroBatcher } from '../../src/model/micro-batcher';

/** A run function that records batches and resolves when told to. */
function recorder() {
  const batches: number[][] = [];
  const releases: Array<() => void> = [];
  const run = (items: number[]) => {
    batches.push(items);
    return new Promise<number[]>((resolve) => releases.push(() => resolve(items.map((x) => x * 10))));
  };
  return { batches, releases, run };
}

/** Advances jest's fake clock (and the micro-tasks it releases): the timings are exact, not raced. */
const tick = (ms = 0) => jest.advanceTimersByTimeAsync(ms);

describe('MicroBatcher', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs a batch as soon as it holds maxSize items', async () => {
    const r = recorder();
    const b = new MicroBatcher<number, number>({ maxSize: 3, maxWaitMs: 10_000 }, r.run);
    const results = [1, 2, 3].map((x) => b.add(x));
    await tick();
    expect(r.batches).toEqual([[1, 2, 3]]);
    r.releases[0]!();
    await expect(Promise.all(results)).resolves.toEqual([10, 20, 30]);
  });

  it('runs a partial batch once maxWaitMs has passed since its first item', async () => {
    const r = recorder();
    const b = new MicroBatcher<number, number>({ maxSize: 32, maxWaitMs: 30 }, r.run);
    const p = b.add(7);
    await tick(5);
    expect(r.batches).toEqual([]);
    await tick(60);
    expect(r.batches).toEqual([[7]]);
    r.releases[0]!();
    await expect(p).resolves.toBe(70);
  });

  it('never exceeds maxSize and splits a burst into full batches', async () => {
    const r = recorder();
    const b = new MicroBatcher<number, number>({ maxSize: 4, maxWaitMs: 1, maxInFlight: 10 }, r.run);
    const all = Array.from({ length: 10 }, (_, i) => b.add(i));
    await tick(20);
    expect(r.batches.map((x) => x.length)).toEqual([4, 4, 2]);
    r.releases.forEach((f) => f());
    expect((await Promise.all(all)).length).toBe(10);
  });

  it('keeps filling while maxInFlight batches run, instead of sending tiny batches', async () => {
    const r = recorder();
    const b = new MicroBatcher<number, number>({ maxSize: 8, maxWaitMs: 1, maxInFlight: 1 }, r.run);
    const first = b.add(0);
    await tick(10);
    expect(r.batches).toEqual([[0]]);
    const rest = [1, 2, 3, 4, 5].map((x) => b.add(x));
    await tick(20); // well past maxWaitMs, but the one slot is busy
    expect(r.batches).toHaveLength(1);
    r.releases[0]!();
    await first;
    await tick();
    expect(r.batches[1]).toEqual([1, 2, 3, 4, 5]);
    r.releases[1]!();
    await Promise.all(rest);
  });

  it('close() runs the partial batch at once and waits for it', async () => {
    const r = recorder();
    const b = new MicroBatcher<number, number>({ maxSize: 32, maxWaitMs: 60_000 }, r.run);
    const p = b.add(1);
    const closed = b.close();
    await tick();
    expect(r.batches).toEqual([[1]]);
    let done = false;
    void closed.then(() => { done = true; });
    await tick();
    expect(done).toBe(false);
    r.releases[0]!();
    await closed;
    await expect(p).resolves.toBe(10);
    await expect(b.add(2)).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('a failing batch rejects each of its items, and later batches still run', async () => {
    let calls = 0;
    const b = new MicroBatcher<number, number>({ maxSize: 2, maxWaitMs: 1 }, async (items) => {
      calls += 1;
      if (calls === 1) throw new Error('thread died');
      return items;
    });
    const failed = [b.add(1), b.add(2)];
    await expect(Promise.allSettled(failed)).resolves.toEqual([
      { status: 'rejected', reason: new Error('thread died') },
      { status: 'rejected', reason: new Error('thread died') },
    ]);
    const later = b.add(3);
    await tick(1); // a partial batch leaves after maxWaitMs
    await expect(later).resolves.toBe(3);
  });

  it('rejects invalid options naming the parameter', () => {
    expect(() => new MicroBatcher({ maxSize: 0, maxWaitMs: 1 }, async () => [])).toThrow(/maxSize.*received 0/);
    expect(() => new MicroBatcher({ maxSize: 1, maxWaitMs: -1 }, async () => [])).toThrow(/maxWaitMs.*received -1/);
  });
});
