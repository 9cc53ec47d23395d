/**
 * Hash sets for the scale benchmark: uniform random hashes with planted near copies, and clustered
 * hashes with the statistics of real photos.
 *
 * Real PDQ hashes are not uniform: their bits follow the low-frequency structure of photos (sky at
 * the top, subjects in the middle), and a moderation list holds families of near copies, from a few
 * re-uploads to spam campaigns of thousands. The clustered set reproduces both:
 * - seeds: the 16 × 16 DCT coefficients of real photos (samples/ and ../shared/images), of many
 *   random crops of each (PDQ treats a crop as a new picture) and of their eight orientations;
 * - a cluster centre is a blend a·S + (1 − a)·T of two seeds (a double exposure of two real crops,
 *   a ≥ 0.5), so that centres derived from the same seed form families;
 * - its members are the centre plus Gaussian noise on the coefficients, thresholded at their own
 *   median, as a re-encode or resize moves the coefficients near the median across it; the noise
 *   level is drawn per member so that distances to the centre spread over about 0–40 bits;
 * - cluster sizes follow a Zipf law (P(size ≥ s) = 1/s, up to 5 000).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DIHEDRAL_NAMES, dihedralDct, pdqHashFromDct, pdqTransform, type PdqHash } from '../../src/known/pdq';
import { benchPhotos, REPO_DIR } from './pdq-common';

export const BENCH_TMP_DIR = join(REPO_DIR, '.tmp/pdq-bench');

/** xoshiro128**: fast, reproducible, good enough for benchmarks. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = seed ^ 0x9e3779b9;
    this.b = Math.imul(seed, 0x85ebca6b) ^ 0xc2b2ae35;
    this.c = 0x27d4eb2f;
    this.d = 0x165667b1;
    for (let i = 0; i < 16; i++) this.u32();
  }

  /** xoshiro128**, 32 bits. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9);
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.float() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export function randomHashes(n: number, rng: Rng): Uint8Array {
  const out = new Uint8Array(n * 32);
  const view = new DataView(out.buffer);
  for (let i = 0; i < out.length; i += 4) view.setUint32(i, rng.u32());
  return out;
}

/** A copy of `hash` with exactly `bits` distinct bits flipped. */
export function flipRandomBits(hash: PdqHash, bits: number, rng: Rng): PdqHash {
  const out = Uint8Array.from(hash);
  let flipped = 0;
  while (flipped < bits) {
    const b = rng.int(256);
    if ((out[b >> 3]! ^ hash[b >> 3]!) & (1 << (b & 7))) continue;
    out[b >> 3]! ^= 1 << (b & 7);
    flipped++;
  }
  return out;
}

/** `bits` flips spread evenly over the 16 slots: the hardest near copy for multi-index hashing. */
export function flipSpreadBits(hash: PdqHash, bits: number, rng: Rng): PdqHash {
  const out = Uint8Array.from(hash);
  for (let k = 0; k < bits; k++) {
    const slot = k % 16;
    let b: number;
    do b = slot * 16 + rng.int(16);
    while ((out[b >> 3]! ^ hash[b >> 3]!) & (1 << (b & 7)));
    out[b >> 3]! ^= 1 << (b & 7);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Seeds from real photos

const CROPS_PER_PHOTO = 160;
const SEED_VIEW_PX = 512;

/**
 * DCT coefficients (k × 256, row-major) of crops of the bench photos in their eight orientations,
 * cached in .tmp/pdq-bench (they take some seconds to compute).
 */
export async function photoSeeds(): Promise<Float64Array> {
  const photos = benchPhotos();
  const cache = join(BENCH_TMP_DIR, `seeds-${photos.length}-${CROPS_PER_PHOTO}.f64`);
  if (existsSync(cache)) {
    const b = readFileSync(cache);
    return new Float64Array(b.buffer, b.byteOffset, b.length / 8);
  }
  const rng = new Rng(2024);
  const seeds: number[] = [];
  for (const p of photos) {
    const { data, info } = await sharp(p.bytes)
      .removeAlpha()
      .resize(SEED_VIEW_PX, SEED_VIEW_PX, { fit: 'inside', kernel: 'cubic' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    for (let k = 0; k < CROPS_PER_PHOTO; k++) {
      const w = Math.max(64, Math.round(info.width * (0.3 + 0.7 * rng.float())));
      const h = Math.max(64, Math.round(info.height * (0.3 + 0.7 * rng.float())));
      const x0 = rng.int(info.width - w + 1);
      const y0 = rng.int(info.height - h + 1);
      const crop = new Uint8Array(w * h * info.channels);
      for (let y = 0; y < h; y++) {
        const from = ((y0 + y) * info.width + x0) * info.channels;
        crop.set(data.subarray(from, from + w * info.channels), y * w * info.channels);
      }
      const { dct, quality } = pdqTransform({ data: crop, width: w, height: h, channels: info.channels });
      if (quality < 50) continue;
      for (const name of DIHEDRAL_NAMES) seeds.push(...dihedralDct(dct, name));
    }
  }
  const out = Float64Array.from(seeds);
  mkdirSync(BENCH_TMP_DIR, { recursive: true });
  writeFileSync(cache, new Uint8Array(out.buffer));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Clustered hashes

const MAX_CLUSTER = 5000;
/** Noise as a multiple of the centre's median |coefficient|, drawn per member from [0, this). */
const MAX_NOISE = 0.45;

/** A standard normal table, sampled by index: Box–Muller per coefficient would dominate the run. */
const GAUSS = (() => {
  const r = new Rng(99);
  const t = new Float64Array(1 << 16);
  for (let i = 0; i < t.length; i += 2) {
    const u = 1 - r.float();
    const v = r.float();
    const m = Math.sqrt(-2 * Math.log(u));
    t[i] = m * Math.cos(2 * Math.PI * v);
    t[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return t;
})();

export interface Cluster {
  readonly seedA: number;
  readonly seedB: number;
  readonly mix: number;
  readonly size: number;
}

export class ClusteredHashes {
  private readonly seeds: Float64Array;
  private readonly nSeeds: number;
  private readonly centre = new Float64Array(256);
  private readonly memberDct = new Float64Array(256);
  private readonly scratch = new Float64Array(256);
  private prepared: Cluster | undefined;
  private scale = 0;

  constructor(seeds: Float64Array) {
    this.seeds = seeds;
    this.nSeeds = seeds.length / 256;
  }

  get seedCount(): number {
    return this.nSeeds;
  }

  newCluster(rng: Rng): Cluster {
    const size = Math.min(MAX_CLUSTER, Math.floor(1 / (1 - rng.float())));
    return { seedA: rng.int(this.nSeeds), seedB: rng.int(this.nSeeds), mix: 0.5 + 0.5 * rng.float(), size };
  }

  /** One member of a cluster: the centre with fresh noise. */
  member(cluster: Cluster, rng: Rng): PdqHash {
    this.prepare(cluster);
    return this.nextMember(rng);
  }

  /** n hashes in clusters; `clusterOf[i]` is the cluster of hash i. */
  generate(n: number, rng: Rng): { bytes: Uint8Array; clusters: Cluster[]; clusterOf: Uint32Array } {
    const bytes = new Uint8Array(n * 32);
    const clusterOf = new Uint32Array(n);
    const clusters: Cluster[] = [];
    let i = 0;
    while (i < n) {
      const c = this.newCluster(rng);
      clusters.push(c);
      this.prepare(c);
      for (let k = 0; k < c.size && i < n; k++, i++) {
        bytes.set(this.nextMember(rng), i * 32);
        clusterOf[i] = clusters.length - 1;
      }
    }
    return { bytes, clusters, clusterOf };
  }

  private nextMember(rng: Rng): PdqHash {
    const noise = MAX_NOISE * rng.float() * this.scale;
    for (let k = 0; k < 256; k++) this.memberDct[k] = this.centre[k]! + noise * GAUSS[rng.u32() & 0xffff]!;
    return pdqHashFromDct(this.memberDct);
  }

  /** Loads the centre of a cluster and its scale (median |coefficient|). */
  private prepare(c: Cluster): void {
    if (this.prepared === c) return;
    this.prepared = c;
    const a = c.seedA * 256;
    const b = c.seedB * 256;
    for (let k = 0; k < 256; k++) {
      this.centre[k] = c.mix * this.seeds[a + k]! + (1 - c.mix) * this.seeds[b + k]!;
      this.scratch[k] = Math.abs(this.centre[k]!);
    }
    this.scratch.sort();
    this.scale = (this.scratch[127]! + this.scratch[128]!) / 2;
  }
}
