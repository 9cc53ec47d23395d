/**
 * Radius search over 256-bit hashes (PDQ) by multi-index hashing: Norouzi, Punjani and Fleet,
 * "Fast Search in Hamming Space with Multi-Index Hashing" (CVPR 2012; TPAMI 2014).
 *
 * The hash is cut into m substrings. Two hashes within distance r differ by at most ⌊r / m⌋ bits in
 * at least one substring (otherwise each would add ⌊r / m⌋ + 1 and the total would pass r). So a
 * lookup visits, in each substring's table, the entries within ⌊r / m⌋ bits of the query's substring
 * and checks the full distance of those candidates only. The answer is exact: a linear scan's.
 *
 * Meta's MIH256 (facebook/ThreatExchange `pdq/cpp/index/mih.h`) uses m = 16 substrings of 16 bits:
 * at r = 31, 17 buckets per substring, each of ~n / 65 536 hashes, so ~n / 240 candidates a lookup,
 * each a random read of its hash. That count grows with n and dominates (4 000 candidates at 1M,
 * 40 000 at 10M). The paper's advice is substrings of about log2(n) bits; the default here is
 * m = 11 (3 of 24 bits, 8 of 23), so ⌊31 / 11⌋ = 2 bits per substring (1 for one of them, by the
 * generalised pigeonhole principle) and ~n / 3 000 candidates: 13× fewer at 1M and 10M alike, for
 * more cells visited (figures in docs/known-images.md). `substrings: 16` gives the MIH256 layout.
 *
 * Layout, for memory and speed in a JS heap:
 * - every hash once, as 8 big-endian 32-bit words in one Uint32Array (32 bytes a hash);
 * - per substring, a table keyed by its top 16 bits: cell offsets (65 537 × 4 bytes) and the ids in
 *   cell order, each carrying the substring's remaining 7–8 bits in its top byte (while ids fit in
 *   24 bits; beyond, those bits go to a byte array beside), sorted by them within the cell; so a
 *   visited cell is filtered from one small contiguous run, not from the hashes. Built by radix sort.
 *   m = 11: 77 bytes a hash in all (88 past 16.7M hashes); m = 16: 97;
 * - while at most 1 in 4 of a substring's values is taken (up to ~2–4M hashes), a bitmap of the taken
 *   values (1–2 MB per substring) lets a lookup skip most cells without touching them.
 * - hashes added after the last build go to small per-substring Maps (top 16 bits → ids), seen by
 *   lookups at once, and are folded into the tables when they grow past a share of them;
 * - removal clears a byte per id; removed ids are skipped, and dropped from the tables at the next
 *   build. Ids are never reused or renumbered.
 *
 * A match turns up in every substring it is near in; it is reported only from the first, which
 * takes no memory (no visited set).
 */
import { PDQ_HASH_BYTES, PDQ_MATCH_DISTANCE, type PdqHash } from './pdq';

export interface HashIndexOptions {
  /**
   * Radius used by {@link PdqHashIndex.lookup} when none is given.
   * @defaultValue 31 (PDQ's published operating point)
   */
  readonly defaultRadius: number;
  /**
   * Number of substrings the 256 bits are cut into, 11 to 16. 16 is Meta's MIH256 (16 × 16 bits);
   * fewer, longer substrings mean fewer candidates and more cells visited per lookup.
   * @defaultValue 11
   */
  readonly substrings: number;
  /**
   * Hashes room is made for up front; the store grows by half when full.
   * @defaultValue 1024
   */
  readonly initialCapacity: number;
  /**
   * Hashes added (or removed) since the last build, as a share of those in the tables, past which
   * the tables are rebuilt: a pause of the calling thread of ~0.5–0.7 s per million hashes
   * (docs/known-images.md).
   * @defaultValue 0.25
   */
  readonly rebuildShare: number;
  /**
   * Below this many pending additions (or removals) no rebuild happens, whatever the share.
   * @defaultValue 65536
   */
  readonly rebuildMinPending: number;
}

export const DEFAULT_HASH_INDEX_OPTIONS: HashIndexOptions = Object.freeze({
  defaultRadius: PDQ_MATCH_DISTANCE,
  substrings: 11,
  initialCapacity: 1024,
  rebuildShare: 0.25,
  rebuildMinPending: 65_536,
});

export interface HashMatch {
  /** The id {@link PdqHashIndex.add} returned (or the position in the bulk input). */
  readonly id: number;
  readonly distance: number;
}

export interface MultiHashMatch extends HashMatch {
  /** Which of the queries came nearest (e.g. the index of a dihedral variant). */
  readonly query: number;
}

export interface HashIndexStats {
  /** Hashes present (added and not removed). */
  readonly size: number;
  /** Hashes in the tables (including removed ones not yet dropped). */
  readonly compact: number;
  /** Hashes added since the last build. */
  readonly pending: number;
  /** The fullest cell: its substring, its top-16-bit value and how many ids it holds. */
  readonly largestBucket: { readonly substring: number; readonly value: number; readonly size: number };
  /** Bytes held by the typed arrays, plus an estimate for the pending Maps. */
  readonly bytes: number;
}

/**
 * Held in a module constant: inside a vm context (jest) every read of the global `Math` goes through
 * the context's interceptor, which made the scan ~100× slower there.
 */
const imul = Math.imul;

const WORDS = 8;
const CELL_BITS = 16;
const CELLS = 1 << CELL_BITS;
const MAX_RADIUS = 256;
const MIN_SUBSTRINGS = 11;
const MAX_SUBSTRINGS = 16;

/** Every 16-bit mask, ordered by the number of bits set; `MASK_ENDS[k]` counts those with ≤ k bits. */
const { MASKS, MASK_ENDS } = (() => {
  const byWeight: number[][] = Array.from({ length: 17 }, () => []);
  for (let m = 0; m < CELLS; m++) byWeight[popcount32(m)]!.push(m);
  const masks = new Uint16Array(CELLS);
  const ends = new Uint32Array(17);
  let n = 0;
  for (let k = 0; k <= 16; k++) {
    for (const m of byWeight[k]!) masks[n++] = m;
    ends[k] = n;
  }
  return { MASKS: masks, MASK_ENDS: ends };
})();

const POPCOUNT_8 = (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >> 1]!;
  return t;
})();

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return imul(x, 0x01010101) >>> 24;
}

/** Where each substring lies: its first bit (0 = the top bit of byte 0) and its length. */
export interface Substring {
  readonly start: number;
  readonly bits: number;
  /** Bits below the top 16, kept beside the ids: bits − 16. */
  readonly lowBits: number;
}

/** How m substrings cut the 256 bits: the first 256 mod m are one bit longer. */
export function substringLayout(m: number): Substring[] {
  const base = Math.floor(256 / m);
  const longer = 256 - m * base;
  const out: Substring[] = [];
  let start = 0;
  for (let s = 0; s < m; s++) {
    const bits = base + (s < longer ? 1 : 0);
    out.push({ start, bits, lowBits: bits - CELL_BITS });
    start += bits;
  }
  return out;
}

/** The value of a substring of the hash at word offset `base` (at most 24 bits, so one or two words). */
function substringOf(words: Uint32Array, base: number, sub: Substring): number {
  const w = sub.start >>> 5;
  const off = sub.start & 31;
  const hi = words[base + w]! << off;
  const joined = off + sub.bits > 32 ? hi | (words[base + w + 1]! >>> (32 - off)) : hi;
  return joined >>> (32 - sub.bits);
}

/** Whether some value within `budget` (0 or 1) bits of `value`, flipping only its low bits, is taken. */
function anyOccupied(occupied: Uint32Array, value: number, lowBits: number, budget: number): boolean {
  if ((occupied[value >>> 5]! & (1 << (value & 31))) !== 0) return true;
  if (budget === 0) return false;
  for (let b = 0; b < lowBits; b++) {
    const v = value ^ (1 << b);
    if ((occupied[v >>> 5]! & (1 << (v & 31))) !== 0) return true;
  }
  return false;
}

function checkRadius(radius: number): void {
  if (!Number.isInteger(radius) || radius < 0 || radius > MAX_RADIUS) {
    throw new RangeError(`hash index: radius must be an integer from 0 to ${MAX_RADIUS}, got ${String(radius)}`);
  }
}

function checkHash(hash: PdqHash, name: string): void {
  if (!(hash instanceof Uint8Array) || hash.length !== PDQ_HASH_BYTES) {
    throw new RangeError(`hash index: ${name} must be a ${PDQ_HASH_BYTES}-byte Uint8Array, got ${hash instanceof Uint8Array ? `${hash.length} bytes` : typeof hash}`);
  }
}

function checkOptions(o: HashIndexOptions): void {
  checkRadius(o.defaultRadius);
  if (!Number.isInteger(o.substrings) || o.substrings < MIN_SUBSTRINGS || o.substrings > MAX_SUBSTRINGS) {
    throw new RangeError(`hash index: substrings must be an integer from ${MIN_SUBSTRINGS} to ${MAX_SUBSTRINGS}, got ${String(o.substrings)}`);
  }
  if (!Number.isInteger(o.initialCapacity) || o.initialCapacity < 1) {
    throw new RangeError(`hash index: initialCapacity must be a positive integer, got ${String(o.initialCapacity)}`);
  }
  if (!(o.rebuildShare > 0)) throw new RangeError(`hash index: rebuildShare must be above 0, got ${String(o.rebuildShare)}`);
  if (!Number.isInteger(o.rebuildMinPending) || o.rebuildMinPending < 0) {
    throw new RangeError(`hash index: rebuildMinPending must be a non-negative integer, got ${String(o.rebuildMinPending)}`);
  }
}

function loadWords(hash: Uint8Array, from: number, words: Uint32Array, at: number): void {
  for (let i = 0, b = from; i < WORDS; i++, b += 4) {
    words[at + i] = ((hash[b]! << 24) | (hash[b + 1]! << 16) | (hash[b + 2]! << 8) | hash[b + 3]!) >>> 0;
  }
}

function storeWords(words: Uint32Array, at: number, out: Uint8Array, to: number): void {
  for (let i = 0; i < WORDS; i++) {
    const w = words[at + i]!;
    out[to + 4 * i] = w >>> 24;
    out[to + 4 * i + 1] = (w >>> 16) & 0xff;
    out[to + 4 * i + 2] = (w >>> 8) & 0xff;
    out[to + 4 * i + 3] = w & 0xff;
  }
}

export class PdqHashIndex {
  private readonly options: HashIndexOptions;
  private readonly subs: readonly Substring[];
  private words: Uint32Array;
  private alive: Uint8Array;
  private count = 0;
  private live = 0;
  /** Ids below this are in the tables. */
  private compactEnd = 0;
  private readonly offsets: Uint32Array[] = [];
  private readonly ids: Uint32Array[] = [];
  private readonly lows: Uint8Array[] = [];
  /**
   * Per substring: whether each entry of `ids` carries its low bits in its top byte (while ids fit
   * in 24 bits), so that a cell is read from one array; else they are in `lows`.
   */
  private readonly packed: boolean[] = [];
  /** Per substring, one bit per possible value, set where some hash has it; empty when most are. */
  private readonly occupied: Uint32Array[] = [];
  private readonly pending: Map<number, number[]>[] = [];
  private removedSinceBuild = 0;
  /** Scratch for one lookup: the query's words and substrings. */
  private readonly q = new Uint32Array(WORDS);
  private readonly qSubs: Uint32Array;
  /** Per substring, the bits it may differ by for the current lookup's radius. */
  private readonly qRadii: Int32Array;

  constructor(options: Partial<HashIndexOptions> = {}) {
    this.options = { ...DEFAULT_HASH_INDEX_OPTIONS, ...options };
    checkOptions(this.options);
    this.subs = substringLayout(this.options.substrings);
    this.qSubs = new Uint32Array(this.subs.length);
    this.qRadii = new Int32Array(this.subs.length);
    this.words = new Uint32Array(this.options.initialCapacity * WORDS);
    this.alive = new Uint8Array(this.options.initialCapacity);
    for (let s = 0; s < this.subs.length; s++) {
      this.offsets.push(new Uint32Array(CELLS + 1));
      this.ids.push(new Uint32Array(0));
      this.lows.push(new Uint8Array(0));
      this.occupied.push(new Uint32Array(0));
      this.packed.push(false);
      this.pending.push(new Map());
    }
  }

  /**
   * An index over hashes given as n × 32 bytes (a file, or a Redis string of concatenated hashes),
   * or as several such chunks read one after the other; hash i of the whole gets id i. Built in one
   * pass, with no pending part.
   */
  static fromConcatenated(chunks: Uint8Array | readonly Uint8Array[], options: Partial<HashIndexOptions> = {}): PdqHashIndex {
    const list = chunks instanceof Uint8Array ? [chunks] : chunks;
    let total = 0;
    for (const bytes of list) {
      if (!(bytes instanceof Uint8Array) || bytes.length % PDQ_HASH_BYTES !== 0) {
        throw new RangeError(`hash index: bytes must be a multiple of ${PDQ_HASH_BYTES} long, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`);
      }
      total += bytes.length / PDQ_HASH_BYTES;
    }
    // Room for a sixteenth more, so that the first additions do not copy the whole store.
    const index = new PdqHashIndex({ ...options, initialCapacity: total + Math.max(1024, total >>> 4) });
    let id = 0;
    for (const bytes of list) {
      for (let b = 0; b < bytes.length; b += PDQ_HASH_BYTES, id++) loadWords(bytes, b, index.words, id * WORDS);
    }
    index.alive.fill(1, 0, total);
    index.count = total;
    index.live = total;
    index.build();
    return index;
  }

  /** Hashes present. */
  get size(): number {
    return this.live;
  }

  /** Adds a hash and returns its id (ids count up from 0 and are never reused). */
  add(hash: PdqHash): number {
    checkHash(hash, 'hash');
    // Half again, not double: at 10M hashes doubling would reserve another 320 MB at once.
    if (this.count === this.alive.length) this.grow(Math.max(this.count + 1024, Math.ceil(this.count * 1.5)));
    const id = this.count++;
    loadWords(hash, 0, this.words, id * WORDS);
    this.alive[id] = 1;
    this.live++;
    for (let s = 0; s < this.subs.length; s++) {
      const cell = substringOf(this.words, id * WORDS, this.subs[s]!) >>> this.subs[s]!.lowBits;
      const bucket = this.pending[s]!.get(cell);
      if (bucket === undefined) this.pending[s]!.set(cell, [id]);
      else bucket.push(id);
    }
    if (this.overdue(this.count - this.compactEnd)) this.build();
    return id;
  }

  /** Removes the hash with this id; false if there is none (never added, or removed already). */
  remove(id: number): boolean {
    if (!Number.isInteger(id) || id < 0 || id >= this.count || this.alive[id] === 0) return false;
    this.alive[id] = 0;
    this.live--;
    this.removedSinceBuild++;
    if (this.overdue(this.removedSinceBuild)) this.build();
    return true;
  }

  /** The hash with this id, or undefined if it is not present. */
  get(id: number): PdqHash | undefined {
    if (!Number.isInteger(id) || id < 0 || id >= this.count || this.alive[id] === 0) return undefined;
    const out = new Uint8Array(PDQ_HASH_BYTES);
    storeWords(this.words, id * WORDS, out, 0);
    return out;
  }

  /** Every hash present within `radius` of `query`, nearest first. */
  lookup(query: PdqHash, radius: number = this.options.defaultRadius): HashMatch[] {
    checkHash(query, 'query');
    checkRadius(radius);
    this.loadQuery(query);
    const out: HashMatch[] = [];
    this.loadRadii(radius);
    for (let s = 0; s < this.subs.length; s++) {
      const subRadius = this.qRadii[s]!;
      const { lowBits } = this.subs[s]!;
      const qv = this.qSubs[s]!;
      const qCell = qv >>> lowBits;
      const qLow = qv & ((1 << lowBits) - 1);
      const offsets = this.offsets[s]!;
      const occupied = this.occupied[s]!;
      const pending = this.pending[s]!;
      // Cells whose top 16 bits are within w of the query's, for w = 0 .. the substring radius;
      // in them, the entries whose low bits are within the rest.
      for (let w = 0; w <= Math.min(subRadius, CELL_BITS); w++) {
        const budget = subRadius - w;
        for (let m = w === 0 ? 0 : MASK_ENDS[w - 1]!, mEnd = MASK_ENDS[w]!; m < mEnd; m++) {
          const cell = qCell ^ MASKS[m]!;
          if (offsets[cell + 1]! > offsets[cell]! && (occupied.length === 0 || budget > 1 || anyOccupied(occupied, (cell << lowBits) | qLow, lowBits, budget))) {
            this.visitCell(s, offsets[cell]!, offsets[cell + 1]!, qLow, budget, radius, out);
          }
          if (pending.size === 0) continue;
          const bucket = pending.get(cell);
          if (bucket !== undefined) this.visitPending(s, bucket, radius, out);
        }
      }
    }
    return out.sort((a, b) => a.distance - b.distance || a.id - b.id);
  }

  /**
   * The union of the lookups of several queries (e.g. the eight dihedral hashes of one image), each
   * id once with its smallest distance, nearest first.
   */
  lookupAny(queries: readonly PdqHash[], radius: number = this.options.defaultRadius): MultiHashMatch[] {
    const best = new Map<number, MultiHashMatch>();
    queries.forEach((query, qi) => {
      for (const m of this.lookup(query, radius)) {
        const seen = best.get(m.id);
        if (seen === undefined || m.distance < seen.distance) best.set(m.id, { ...m, query: qi });
      }
    });
    return [...best.values()].sort((a, b) => a.distance - b.distance || a.id - b.id);
  }

  /** The same answer as {@link lookup} by reading every hash: the baseline for tests and benchmarks. */
  scan(query: PdqHash, radius: number = this.options.defaultRadius): HashMatch[] {
    checkHash(query, 'query');
    checkRadius(radius);
    this.loadQuery(query);
    // Locals, not fields, in the loops: property reads cost more than the popcounts.
    const { q, words, alive, count } = this;
    const q0 = q[0]!, q1 = q[1]!, q2 = q[2]!, q3 = q[3]!, q4 = q[4]!, q5 = q[5]!, q6 = q[6]!, q7 = q[7]!;
    const out: HashMatch[] = [];
    for (let id = 0, b = 0; id < count; id++, b += WORDS) {
      let d = popcount32(words[b]! ^ q0) + popcount32(words[b + 1]! ^ q1) + popcount32(words[b + 2]! ^ q2) + popcount32(words[b + 3]! ^ q3);
      if (d > radius) continue;
      d += popcount32(words[b + 4]! ^ q4) + popcount32(words[b + 5]! ^ q5) + popcount32(words[b + 6]! ^ q6) + popcount32(words[b + 7]! ^ q7);
      if (d <= radius && alive[id] === 1) out.push({ id, distance: d });
    }
    return out.sort((a, b) => a.distance - b.distance || a.id - b.id);
  }

  /** The present hashes, concatenated in id order, with their ids (what {@link fromConcatenated} reads). */
  toConcatenated(): { bytes: Uint8Array; ids: Uint32Array } {
    const bytes = new Uint8Array(this.live * PDQ_HASH_BYTES);
    const ids = new Uint32Array(this.live);
    const { count, alive, words } = this;
    let n = 0;
    for (let id = 0; id < count; id++) {
      if (alive[id] === 0) continue;
      ids[n] = id;
      storeWords(words, id * WORDS, bytes, n * PDQ_HASH_BYTES);
      n++;
    }
    return { bytes, ids };
  }

  /** Folds pending hashes into the tables and drops removed ones from them. */
  build(): void {
    const { count: n, alive, words, live } = this;
    const cellCounts = new Uint32Array(CELLS + 1);
    // Radix sort by (cell, low bits) in three stable passes of 8 bits (low bits, then the cell's low
    // byte, then its high byte): 256 write positions per pass stay in cache, where one pass over
    // 65 536 cells would scatter across all of them. Values travel with the ids.
    let keys = new Uint32Array(live);
    let order = new Uint32Array(live);
    let keysOut = new Uint32Array(live);
    let orderOut = new Uint32Array(live);
    const digitCounts = new Uint32Array(257);
    for (let s = 0; s < this.subs.length; s++) {
      const sub = this.subs[s]!;
      const { lowBits } = sub;
      const lowMask = (1 << lowBits) - 1;
      cellCounts.fill(0);
      let total = 0;
      for (let id = 0; id < n; id++) {
        if (alive[id] === 0) continue;
        const v = substringOf(words, id * WORDS, sub);
        keys[total] = v;
        order[total++] = id;
        cellCounts[(v >>> lowBits) + 1]!++;
      }
      for (const shift of lowBits > 0 ? [0, lowBits, lowBits + 8] : [0, 8]) {
        digitCounts.fill(0);
        for (let k = 0; k < total; k++) digitCounts[((keys[k]! >>> shift) & 0xff) + 1]!++;
        for (let d = 0; d < 256; d++) digitCounts[d + 1]! += digitCounts[d]!;
        for (let k = 0; k < total; k++) {
          const at = digitCounts[(keys[k]! >>> shift) & 0xff]!++;
          keysOut[at] = keys[k]!;
          orderOut[at] = order[k]!;
        }
        [keys, keysOut] = [keysOut, keys];
        [order, orderOut] = [orderOut, order];
      }
      for (let v = 0; v < CELLS; v++) cellCounts[v + 1]! += cellCounts[v]!;
      const packed = lowBits > 0 && n <= 1 << 24;
      const lows = new Uint8Array(lowBits > 0 && !packed ? total : 0);
      for (let k = 0; k < lows.length; k++) lows[k] = keys[k]! & lowMask;
      if (packed) for (let k = 0; k < total; k++) order[k] = (((keys[k]! & lowMask) << 24) | order[k]!) >>> 0;
      // Worth its 1–2 MB while most values are free (≤ 1 hash per 4 values) and cells are many (from
      // 64 Ki hashes): then most cells a lookup would visit are skipped without being touched.
      const occupied = new Uint32Array(lowBits > 0 && total >= CELLS && total * 4 <= 2 ** sub.bits ? 2 ** sub.bits / 32 : 0);
      if (occupied.length > 0) for (let k = 0; k < total; k++) occupied[keys[k]! >>> 5]! |= 1 << (keys[k]! & 31);
      this.offsets[s] = cellCounts.slice();
      this.ids[s] = order.slice(0, total);
      this.lows[s] = lows;
      this.packed[s] = packed;
      this.occupied[s] = occupied;
      this.pending[s]!.clear();
    }
    this.compactEnd = n;
    this.removedSinceBuild = 0;
  }

  stats(): HashIndexStats {
    let largest = { substring: 0, value: 0, size: 0 };
    let pendingBytes = 0;
    let bytes = this.words.byteLength + this.alive.byteLength;
    for (let s = 0; s < this.subs.length; s++) {
      const offsets = this.offsets[s]!;
      const pending = this.pending[s]!;
      for (let v = 0; v < CELLS; v++) {
        const size = offsets[v + 1]! - offsets[v]! + (pending.get(v)?.length ?? 0);
        if (size > largest.size) largest = { substring: s, value: v, size };
      }
      // A Map entry with a small array costs ~80 bytes, plus 8 per id (measured roughly in V8).
      for (const bucket of pending.values()) pendingBytes += 80 + 8 * bucket.length;
      bytes += offsets.byteLength + this.ids[s]!.byteLength + this.lows[s]!.byteLength + this.occupied[s]!.byteLength;
    }
    return { size: this.live, compact: this.compactEnd, pending: this.count - this.compactEnd, largestBucket: largest, bytes: bytes + pendingBytes };
  }

  /**
   * The entries of one cell of substring `s` whose low bits are within `budget` of the query's:
   * for an exact match (the common case) a binary search, as cells are in low-bit order. The hot
   * loop of a lookup.
   */
  private visitCell(s: number, from: number, to: number, qLow: number, budget: number, radius: number, out: HashMatch[]): void {
    const ids = this.ids[s]!;
    const lows = this.lows[s]!;
    const packed = this.packed[s]!;
    const filter = packed || lows.length > 0;
    const { words, q } = this;
    const q0 = q[0]!, q1 = q[1]!, q2 = q[2]!, q3 = q[3]!;
    let k = from;
    let end = to;
    if (filter && budget === 0) {
      let hi = to;
      while (k < hi) {
        const mid = (k + hi) >>> 1;
        if ((packed ? ids[mid]! >>> 24 : lows[mid]!) < qLow) k = mid + 1;
        else hi = mid;
      }
      end = k;
      while (end < to && (packed ? ids[end]! >>> 24 : lows[end]!) === qLow) end++;
    }
    for (; k < end; k++) {
      const entry = ids[k]!;
      if (filter && budget > 0 && POPCOUNT_8[(packed ? entry >>> 24 : lows[k]!) ^ qLow]! > budget) continue;
      const id = packed ? entry & 0xffffff : entry;
      const b = id * WORDS;
      // Half the bits first: an unrelated hash is ~64 apart there already.
      const d = popcount32(words[b]! ^ q0) + popcount32(words[b + 1]! ^ q1) + popcount32(words[b + 2]! ^ q2) + popcount32(words[b + 3]! ^ q3);
      if (d <= radius) this.confirm(id, d, s, radius, out);
    }
  }

  /** Pending entries of a cell: few, so checked straight from their hashes. */
  private visitPending(s: number, bucket: readonly number[], radius: number, out: HashMatch[]): void {
    for (const id of bucket) {
      if (popcount32(substringOf(this.words, id * WORDS, this.subs[s]!) ^ this.qSubs[s]!) > this.qRadii[s]!) continue;
      const b = id * WORDS;
      let d = 0;
      for (let i = 0; i < 4; i++) d += popcount32(this.words[b + i]! ^ this.q[i]!);
      this.confirm(id, d, s, radius, out);
    }
  }

  /** The other half of the distance, and the once-only rule: report from the first substring the hash is near in. */
  private confirm(id: number, half: number, s: number, radius: number, out: HashMatch[]): void {
    const { words, q } = this;
    const b = id * WORDS;
    const d = half + popcount32(words[b + 4]! ^ q[4]!) + popcount32(words[b + 5]! ^ q[5]!) + popcount32(words[b + 6]! ^ q[6]!) + popcount32(words[b + 7]! ^ q[7]!);
    if (d > radius || this.alive[id] === 0) return;
    for (let t = 0; t < s; t++) {
      if (popcount32(substringOf(words, b, this.subs[t]!) ^ this.qSubs[t]!) <= this.qRadii[t]!) return;
    }
    out.push({ id, distance: d });
  }

  private overdue(changes: number): boolean {
    return changes > this.options.rebuildMinPending && changes > this.options.rebuildShare * this.compactEnd;
  }

  /**
   * Bits per substring for a radius: ⌊r / m⌋ each, and one less on as many substrings as the sum
   * allows. Any match differs by at most τ_s bits in some substring s as long as Σ (τ_s + 1) > r
   * (the generalised pigeonhole principle of Qin et al., ICDE 2018): at r = 31 with 11 substrings,
   * one of them needs only 1 bit, so its table visits 17 cells instead of 137.
   */
  private loadRadii(radius: number): void {
    const m = this.subs.length;
    const t = Math.floor(radius / m);
    const spare = t > 0 ? m * (t + 1) - (radius + 1) : 0;
    for (let s = 0; s < m; s++) this.qRadii[s] = s < spare ? t - 1 : t;
  }

  private loadQuery(query: PdqHash): void {
    loadWords(query, 0, this.q, 0);
    for (let s = 0; s < this.subs.length; s++) this.qSubs[s] = substringOf(this.q, 0, this.subs[s]!);
  }

  private grow(capacity: number): void {
    const words = new Uint32Array(capacity * WORDS);
    words.set(this.words);
    this.words = words;
    const alive = new Uint8Array(capacity);
    alive.set(this.alive);
    this.alive = alive;
  }
}
