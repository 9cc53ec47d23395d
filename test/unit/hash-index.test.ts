import { PdqHashIndex, substringLayout, type HashMatch } from '../../src/known/hash-index';
import { hammingDistance, pdqHashFromHex, pdqHashToHex, type PdqHash } from '../../src/known/pdq';

/** xorshift32: reproducible random hashes without a dependency. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function randomHash(next: () => number): PdqHash {
  const h = new Uint8Array(32);
  for (let i = 0; i < 32; i += 4) {
    const w = next();
    h[i] = w >>> 24;
    h[i + 1] = (w >>> 16) & 0xff;
    h[i + 2] = (w >>> 8) & 0xff;
    h[i + 3] = w & 0xff;
  }
  return h;
}

/** A copy of `h` with exactly `bits` distinct bits flipped. */
function flipBits(h: PdqHash, bits: number, next: () => number): PdqHash {
  const out = Uint8Array.from(h);
  const chosen = new Set<number>();
  while (chosen.size < bits) chosen.add(next() % 256);
  for (const b of chosen) out[b >> 3]! ^= 1 << (b & 7);
  return out;
}

/**
 * A copy with `bits` flips spread as evenly as possible over the substrings of an index: the hardest
 * case for multi-index hashing (with 16 substrings at distance 31, fifteen differ by 2 bits and one by 1).
 */
function flipSpread(h: PdqHash, bits: number, next: () => number, substrings: number): PdqHash {
  const layout = substringLayout(substrings);
  const out = Uint8Array.from(h);
  for (let k = 0; k < bits; k++) {
    const { start, bits: len } = layout[k % layout.length]!;
    let bit: number;
    // A bit of this substring (bit 0 is the top bit of byte 0) not flipped yet.
    do bit = start + (next() % len);
    while ((out[bit >> 3]! ^ h[bit >> 3]!) & (0x80 >> (bit & 7)));
    out[bit >> 3]! ^= 0x80 >> (bit & 7);
  }
  return out;
}

/** A copy with counts[s] bits flipped in substring s of the index's layout. */
function flipPerSubstring(h: PdqHash, counts: readonly number[], next: () => number, substrings: number): PdqHash {
  const layout = substringLayout(substrings);
  const out = Uint8Array.from(h);
  counts.forEach((c, s) => {
    const { start, bits: len } = layout[s]!;
    for (let k = 0; k < c; k++) {
      let bit: number;
      do bit = start + (next() % len);
      while ((out[bit >> 3]! ^ h[bit >> 3]!) & (0x80 >> (bit & 7)));
      out[bit >> 3]! ^= 0x80 >> (bit & 7);
    }
  });
  return out;
}

function ids(ms: readonly HashMatch[]): number[] {
  return ms.map((m) => m.id).sort((a, b) => a - b);
}

describe.each([11, 16])('PdqHashIndex with %i substrings', (substrings) => {
  const next = rng(12345);
  const base: PdqHash[] = Array.from({ length: 5000 }, () => randomHash(next));

  test('planted copies at every distance 0..31, even ones spread over all substrings, are found with their distance', () => {
    const index = new PdqHashIndex({ substrings });
    for (const h of base) index.add(h);
    const flips = [flipBits, (h: PdqHash, d: number) => flipSpread(h, d, next, 11), (h: PdqHash, d: number) => flipSpread(h, d, next, 16)];
    for (let d = 0; d <= 31; d++) {
      for (const [f, flip] of flips.entries()) {
        const target = (d * 97 + f * 13) % base.length;
        const query = flip(base[target]!, d, next);
        expect(hammingDistance(query, base[target]!)).toBe(d);
        const found = index.lookup(query);
        expect({ d, hit: found.find((m) => m.id === target)?.distance }).toEqual({ d, hit: d });
        expect(found).toEqual(index.scan(query));
      }
    }
  });

  test('copies at distance 31 that differ by as much as allowed in every substring are found', () => {
    // Per-substring differences summing to 31 with none smaller than the radius split allows: the
    // generalised pigeonhole bound is tight here, so any substring given too small a radius misses.
    const index = PdqHashIndex.fromConcatenated(concat(base), { substrings });
    const t = Math.floor(31 / substrings);
    for (let trial = 0; trial < 40; trial++) {
      const counts = Array.from({ length: substrings }, () => t + 1);
      // Take off the excess over 31 one bit at a time, from random substrings.
      let excess = counts.reduce((a, b) => a + b, 0) - 31;
      while (excess > 0) {
        const s = next() % substrings;
        if (counts[s]! > t) {
          counts[s]!--;
          excess--;
        }
      }
      const target = (trial * 389) % base.length;
      const query = flipPerSubstring(base[target]!, counts, next, substrings);
      expect(hammingDistance(query, base[target]!)).toBe(31);
      expect({ counts, found: index.lookup(query).some((m) => m.id === target) }).toEqual({ counts, found: true });
    }
  });

  test('nothing beyond the radius is returned, and every radius gives the scan\'s answer', () => {
    const index = PdqHashIndex.fromConcatenated(concat(base), { substrings });
    const target = 42;
    for (const d of [31, 32, 33, 40, 47, 48]) {
      const query = flipSpread(base[target]!, d, next, substrings);
      for (const radius of [0, 15, 16, 31, 32, 47]) {
        const found = index.lookup(query, radius);
        for (const m of found) expect(m.distance).toBeLessThanOrEqual(radius);
        expect(found.some((m) => m.id === target)).toBe(d <= radius);
        expect(found).toEqual(index.scan(query, radius));
      }
    }
  });

  test('a large index (65 536+ hashes, where free values are tracked by bitmap) gives the scan\'s answers', () => {
    const big = Array.from({ length: 70_000 }, () => randomHash(next));
    const index = PdqHashIndex.fromConcatenated(concat(big), { substrings });
    for (let k = 0; k < 32; k++) {
      const target = (k * 1741) % big.length;
      const query = k % 2 === 0 ? flipSpread(big[target]!, 31 - k, next, substrings) : flipBits(big[target]!, k, next);
      const found = index.lookup(query);
      expect(found.some((m) => m.id === target)).toBe(true);
      expect(found).toEqual(index.scan(query));
    }
    // A hash added afterwards is found before any rebuild.
    const late = index.add(flipBits(big[5]!, 9, next));
    expect(index.lookup(big[5]!).map((m) => m.id)).toEqual([5, late]);
  });

  test('each match is reported once, nearest first, though it is near the query in many slots', () => {
    const index = new PdqHashIndex({ substrings });
    const h = base[0]!;
    const a = index.add(h);
    const b = index.add(flipBits(h, 3, next));
    const c = index.add(flipBits(h, 20, next));
    index.add(base[1]!);
    const found = index.lookup(h);
    expect(found.map((m) => m.id)).toEqual([a, b, c]);
    expect(found.map((m) => m.distance)).toEqual([0, 3, 20]);
  });

  test('remove takes a hash out at once; ids are not reused; get returns the hash', () => {
    const index = new PdqHashIndex({ substrings, initialCapacity: 2 });
    const ids0 = base.slice(0, 100).map((h) => index.add(h));
    expect(ids0).toEqual([...Array(100).keys()]);
    expect(index.size).toBe(100);
    expect(pdqHashToHex(index.get(7)!)).toBe(pdqHashToHex(base[7]!));
    expect(index.remove(7)).toBe(true);
    expect(index.remove(7)).toBe(false);
    expect(index.remove(1000)).toBe(false);
    expect(index.get(7)).toBeUndefined();
    expect(index.size).toBe(99);
    expect(index.lookup(base[7]!)).toEqual([]);
    expect(index.scan(base[7]!)).toEqual([]);
    expect(index.add(base[7]!)).toBe(100);
    expect(ids(index.lookup(base[7]!))).toEqual([100]);
  });

  test('adds, removes and rebuilds keep the same answers as a scan', () => {
    // A low threshold so that several rebuilds happen on the way.
    const index = new PdqHashIndex({ substrings, rebuildMinPending: 200, rebuildShare: 0.1 });
    const queries = base.slice(0, 50).map((h, i) => flipBits(h, i % 32, next));
    for (let i = 0; i < base.length; i++) {
      index.add(base[i]!);
      if (i % 3 === 0) index.remove(Math.floor(i / 2));
    }
    const stats = index.stats();
    expect(stats.compact).toBeGreaterThan(0);
    expect(stats.size).toBe(base.length - Math.ceil(base.length / 3));
    for (const q of queries) expect(index.lookup(q)).toEqual(index.scan(q));
    index.build();
    expect(index.stats().pending).toBe(0);
    for (const q of queries) expect(index.lookup(q)).toEqual(index.scan(q));
  });

  test('fromConcatenated and toConcatenated round-trip, with ids in input order', () => {
    const index = PdqHashIndex.fromConcatenated([concat(base.slice(0, 100)), concat(base.slice(100, 300))], { substrings });
    expect(index.size).toBe(300);
    expect(ids(index.lookup(base[299]!, 0))).toEqual([299]);
    index.remove(3);
    const { bytes, ids: kept } = index.toConcatenated();
    expect(bytes.length).toBe(299 * 32);
    expect(kept[3]).toBe(4);
    const again = PdqHashIndex.fromConcatenated(bytes, { substrings });
    expect(ids(again.lookup(base[4]!, 0))).toEqual([3]);
  });

  test('lookupAny merges several queries (e.g. dihedral hashes), keeping the nearest', () => {
    const index = new PdqHashIndex({ substrings });
    for (const h of base.slice(0, 500)) index.add(h);
    const q1 = flipBits(base[10]!, 12, next);
    const q2 = flipBits(base[10]!, 4, next);
    const q3 = flipBits(base[20]!, 30, next);
    const found = index.lookupAny([q1, q2, q3]);
    expect(found.map((m) => [m.id, m.distance, m.query])).toEqual([[10, 4, 1], [20, 30, 2]]);
  });

  test('stats report the largest bucket and the memory held', () => {
    const index = new PdqHashIndex({ substrings });
    const h = pdqHashFromHex('ffff'.repeat(16));
    for (let i = 0; i < 10; i++) index.add(h);
    index.add(base[0]!);
    index.build();
    const s = index.stats();
    expect(s.largestBucket).toEqual({ substring: 0, value: 0xffff, size: 10 });
    // Words, alive flags, and per substring 65 537 offsets and the ids (carrying their low bits).
    expect(s.bytes).toBe(1024 * 32 + 1024 + substrings * (65_537 * 4 + 11 * 4));
  });

  test('bad arguments are refused, naming the parameter and the value', () => {
    const index = new PdqHashIndex({ substrings });
    expect(() => index.lookup(base[0]!, 31.5)).toThrow(/radius must be an integer from 0 to 256, got 31.5/);
    expect(() => index.lookup(new Uint8Array(16))).toThrow(/query must be a 32-byte Uint8Array, got 16 bytes/);
    expect(() => index.add(new Uint8Array(33))).toThrow(/hash must be a 32-byte Uint8Array, got 33 bytes/);
    expect(() => new PdqHashIndex({ defaultRadius: -1 })).toThrow(/radius must be an integer from 0 to 256, got -1/);
    expect(() => PdqHashIndex.fromConcatenated(new Uint8Array(40))).toThrow(/multiple of 32 long, got 40/);
    expect(() => new PdqHashIndex({ substrings: 8 })).toThrow(/substrings must be an integer from 11 to 16, got 8/);
  });
});

function concat(hashes: readonly PdqHash[]): Uint8Array {
  const out = new Uint8Array(hashes.length * 32);
  hashes.forEach((h, i) => out.set(h, i * 32));
  return out;
}
