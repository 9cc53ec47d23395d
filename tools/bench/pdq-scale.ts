/**
 * The PDQ hash index at scale, against a linear scan in the same run.
 *
 *   npx tsx tools/bench/pdq-scale.ts [--sizes 1000000,10000000] [--queries 4000] [--scan-queries 100]
 *                                    [--datasets random,clustered] [--substrings 11,16] [--no-load]
 *
 * Each (dataset, size, layout) runs in a fresh child process (so memory figures are its own); the
 * layouts are the index's default (11 substrings) and Meta's MIH256 (16 × 16 bits):
 * - random: uniform random hashes; half the queries are planted near copies of indexed hashes at
 *   distances 0..31 (half of those with the flips spread evenly over the 16 slots, the worst case
 *   for multi-index hashing), half are unrelated random hashes;
 * - clustered: hashes with the statistics of real photos and their transforms (pdq-synthetic.ts);
 *   half the queries are new members of indexed clusters (picked by indexed hash, so big clusters
 *   are asked about more often, like a campaign), half are new clusters.
 * Reported: build time, memory (typed arrays held; RSS and heap + ArrayBuffer growth), the largest
 * cell, lookups/s on one thread at radius 31 (per second of wall time and per second of the main
 * thread's CPU time, which is what one core gives when the machine is shared) with p50/p99 latency,
 * the scan's lookups/s on a subset, whether both return the same matches there, and recall of the
 * planted matches.
 * Then: how long a fresh process takes to load the largest size from a binary file and from Redis
 * (chunks of 1M hashes, 32 MB each) and build the index.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { median, percentile } from './measure';
import { PdqHashIndex, type HashMatch } from '../../src/known/hash-index';
import { PDQ_MATCH_DISTANCE, type PdqHash } from '../../src/known/pdq';
import { mainThreadCpuMs, machineLine, mib } from './pdq-common';
import { BENCH_TMP_DIR, ClusteredHashes, flipRandomBits, flipSpreadBits, photoSeeds, randomHashes, Rng } from './pdq-synthetic';

const RADIUS = PDQ_MATCH_DISTANCE;
const REDIS_CHUNK_HASHES = 1_000_000;
/** Turns of the timed lookups; rates are the median turn's. */
const TURNS = 3;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g !== undefined) {
    g();
    g();
  }
}

interface Memory {
  readonly rss: number;
  readonly heapAndBuffers: number;
}

/** After a full GC and a pause: V8 frees the memory of dead ArrayBuffers on a background thread. */
async function memory(): Promise<Memory> {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 500));
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapAndBuffers: m.heapUsed + m.arrayBuffers };
}

function hashAt(bytes: Uint8Array, i: number): PdqHash {
  return bytes.slice(i * 32, i * 32 + 32);
}

interface Query {
  readonly hash: PdqHash;
  /** A planted near copy or a new member of an indexed cluster (else an unrelated hash). */
  readonly near: boolean;
  /** The indexed hash it was planted from, if any. */
  readonly target?: number;
}

interface Dataset {
  readonly bytes: Uint8Array;
  readonly queries: Query[];
  readonly generateMs: number;
}

async function makeDataset(kind: string, n: number, nQueries: number): Promise<Dataset> {
  const rng = new Rng(n ^ 0x5eed);
  const t0 = performance.now();
  const queries: Query[] = [];
  if (kind === 'random') {
    const bytes = randomHashes(n, rng);
    for (let k = 0; k < nQueries; k++) {
      if (k % 2 === 1) {
        queries.push({ hash: randomHashes(1, rng), near: false });
        continue;
      }
      const target = rng.int(n);
      const d = rng.int(RADIUS + 1);
      const flip = k % 4 === 0 ? flipSpreadBits : flipRandomBits;
      queries.push({ hash: flip(hashAt(bytes, target), d, rng), near: true, target });
    }
    return { bytes, queries, generateMs: performance.now() - t0 };
  }
  if (kind === 'clustered') {
    const gen = new ClusteredHashes(await photoSeeds());
    const { bytes, clusters, clusterOf } = gen.generate(n, rng);
    for (let k = 0; k < nQueries; k++) {
      const near = k % 2 === 0;
      const cluster = near ? clusters[clusterOf[rng.int(n)]!]! : gen.newCluster(rng);
      queries.push({ hash: gen.member(cluster, rng), near });
    }
    return { bytes, queries, generateMs: performance.now() - t0 };
  }
  throw new Error(`unknown dataset ${kind}`);
}

function sameMatches(a: readonly HashMatch[], b: readonly HashMatch[]): boolean {
  return a.length === b.length && a.every((m, i) => m.id === b[i]!.id && m.distance === b[i]!.distance);
}

export interface ScaleRow {
  readonly dataset: string;
  readonly substrings: number;
  readonly n: number;
  readonly generateMs: number;
  readonly buildMs: number;
  readonly indexBytes: number;
  readonly rssDelta: number;
  readonly heapDelta: number;
  readonly largestBucket: number;
  readonly meanBucket: number;
  readonly queries: number;
  readonly lookupsPerSec: number;
  readonly lookupsPerCpuSec: number;
  readonly nearPerCpuSec: number;
  readonly farPerCpuSec: number;
  readonly nearMatches: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly plantedRecall: number | null;
  readonly scanQueries: number;
  readonly scanLookupsPerSec: number;
  readonly scanLookupsPerCpuSec: number;
  readonly scanAgreement: number;
  readonly scanRecall: number;
  readonly addUs: number;
  readonly rebuildMs: number;
}

async function child(kind: string, n: number, nQueries: number, nScan: number, substrings: number): Promise<ScaleRow> {
  const before = await memory();
  const data = await makeDataset(kind, n, nQueries);
  const t0 = performance.now();
  const index = PdqHashIndex.fromConcatenated(data.bytes, { substrings });
  const buildMs = performance.now() - t0;
  const queries = data.queries;
  (data as { bytes?: Uint8Array }).bytes = undefined;
  const after = await memory();
  const stats = index.stats();

  for (const q of queries.slice(0, 50)) index.lookup(q.hash); // warm the JIT
  const lat: number[] = [];
  const results: HashMatch[][] = new Array<HashMatch[]>(queries.length);
  // Near and unrelated queries timed apart (the first return matches, the second are the common
  // case), each over several turns: on a shared machine a turn can be slowed by a neighbour.
  const rates = { near: [] as number[], far: [] as number[], nearWall: [] as number[], farWall: [] as number[] };
  for (let turn = 0; turn < TURNS; turn++) {
    for (const near of [true, false]) {
      let count = 0;
      const tl = performance.now();
      const cl = mainThreadCpuMs();
      queries.forEach((q, i) => {
        if (q.near !== near) return;
        const t = performance.now();
        results[i] = index.lookup(q.hash, RADIUS);
        if (turn === 0) lat.push(performance.now() - t);
        count++;
      });
      const wallMs = performance.now() - tl;
      const cpuMs = mainThreadCpuMs() - cl;
      (near ? rates.near : rates.far).push((count / cpuMs) * 1000);
      (near ? rates.nearWall : rates.farWall).push((count / wallMs) * 1000);
    }
  }
  const nearShare = queries.filter((q) => q.near).length / queries.length;
  // Per turn, the rate of the whole mix: harmonic combination of the two groups' rates.
  const mix = (a: readonly number[], b: readonly number[]): number[] => a.map((x, t) => 1 / (nearShare / x + (1 - nearShare) / b[t]!));

  let planted = 0;
  let plantedFound = 0;
  queries.forEach((q, i) => {
    if (q.target === undefined) return;
    planted++;
    if (results[i]!.some((m) => m.id === q.target)) plantedFound++;
  });

  // The scan on a subset of the same queries: every k-th, so that hits and misses are both in it.
  const step = Math.max(1, Math.floor(queries.length / nScan));
  const subset = queries.map((q, i) => ({ q, i })).filter((_, j) => j % step === 0).slice(0, nScan);
  let agree = 0;
  let truth = 0;
  let found = 0;
  const ts = performance.now();
  const cs = mainThreadCpuMs();
  for (const { q, i } of subset) {
    const s = index.scan(q.hash, RADIUS);
    if (sameMatches(s, results[i]!)) agree++;
    truth += s.length;
    const mine = new Set(results[i]!.map((m) => m.id));
    found += s.filter((m) => mine.has(m.id)).length;
  }
  const scanMs = performance.now() - ts;
  const scanCpuMs = mainThreadCpuMs() - cs;

  // Incremental adds into the built index, then the pause of folding them in.
  const rng = new Rng(7);
  const adds = 10_000;
  const extra = randomHashes(adds, rng);
  const ta = performance.now();
  for (let k = 0; k < adds; k++) index.add(hashAt(extra, k));
  const addUs = ((performance.now() - ta) * 1000) / adds;
  const tr = performance.now();
  index.build();
  const rebuildMs = performance.now() - tr;

  return {
    dataset: kind,
    substrings,
    n,
    generateMs: data.generateMs,
    buildMs,
    indexBytes: stats.bytes,
    rssDelta: after.rss - before.rss,
    heapDelta: after.heapAndBuffers - before.heapAndBuffers,
    largestBucket: stats.largestBucket.size,
    meanBucket: n / 65536,
    queries: queries.length,
    lookupsPerSec: median(mix(rates.nearWall, rates.farWall)),
    lookupsPerCpuSec: median(mix(rates.near, rates.far)),
    nearPerCpuSec: median(rates.near),
    farPerCpuSec: median(rates.far),
    nearMatches: queries.reduce((a, q, i) => a + (q.near ? results[i]!.length : 0), 0) / Math.max(1, queries.filter((q) => q.near).length),
    p50Us: percentile(lat, 50) * 1000,
    p99Us: percentile(lat, 99) * 1000,
    plantedRecall: planted > 0 ? plantedFound / planted : null,
    scanQueries: subset.length,
    scanLookupsPerSec: (subset.length / scanMs) * 1000,
    scanLookupsPerCpuSec: (subset.length / scanCpuMs) * 1000,
    scanAgreement: agree / subset.length,
    scanRecall: truth > 0 ? found / truth : 1,
    addUs,
    rebuildMs,
  };
}

interface LoadRow {
  readonly source: string;
  readonly n: number;
  readonly readMs: number;
  readonly buildMs: number;
  readonly rssAfter: number;
  readonly heapAfter: number;
}

async function loadChild(source: string, where: string, n: number): Promise<LoadRow> {
  const t0 = performance.now();
  let chunks: Uint8Array[];
  if (source === 'file') {
    chunks = [readFileSync(where)];
  } else {
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    const keys = Array.from({ length: Math.ceil(n / REDIS_CHUNK_HASHES) }, (_, k) => `${where}:${k}`);
    chunks = [];
    for (const key of keys) {
      const b = await redis.getBuffer(key);
      if (b === null) throw new Error(`missing ${key}`);
      chunks.push(b);
    }
    redis.disconnect();
  }
  const readMs = performance.now() - t0;
  const t1 = performance.now();
  const index = PdqHashIndex.fromConcatenated(chunks);
  const buildMs = performance.now() - t1;
  chunks = [];
  const m = await memory();
  if (index.size !== n) throw new Error(`loaded ${index.size} hashes, expected ${n}`);
  return { source, n, readMs, buildMs, rssAfter: m.rss, heapAfter: m.heapAndBuffers };
}

function runChild<T>(args: string[]): T {
  const r = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', '--max-old-space-size=4096', __filename, '--child', ...args], {
    encoding: 'utf8',
    maxBuffer: 16 * 2 ** 20,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || line === undefined) throw new Error(`child ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line.slice(7)) as T;
}

function fmtInt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

async function prepareLoadInputs(n: number): Promise<{ file: string; prefix: string }> {
  mkdirSync(BENCH_TMP_DIR, { recursive: true });
  const file = join(BENCH_TMP_DIR, `random-${n}.bin`);
  const bytes = randomHashes(n, new Rng(n));
  writeFileSync(file, bytes);
  const prefix = `revmod-bench:pdq:${process.pid}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  for (let k = 0; k * REDIS_CHUNK_HASHES < n; k++) {
    const from = k * REDIS_CHUNK_HASHES * 32;
    await redis.set(`${prefix}:${k}`, Buffer.from(bytes.buffer, from, Math.min(REDIS_CHUNK_HASHES * 32, bytes.length - from)));
  }
  redis.disconnect();
  return { file, prefix };
}

async function cleanupLoadInputs(file: string, prefix: string, n: number): Promise<void> {
  rmSync(file, { force: true });
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const keys = Array.from({ length: Math.ceil(n / REDIS_CHUNK_HASHES) }, (_, k) => `${prefix}:${k}`);
  await redis.del(...keys);
  redis.disconnect();
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) {
    const [mode, ...rest] = process.argv.slice(process.argv.indexOf('--child') + 1);
    const result = mode === 'scale'
      ? await child(rest[0]!, Number(rest[1]), Number(rest[2]), Number(rest[3]), Number(rest[4]))
      : await loadChild(rest[0]!, rest[1]!, Number(rest[2]));
    console.log(`RESULT ${JSON.stringify(result)}`);
    return;
  }
  const sizes = arg('--sizes', '1000000,10000000').split(',').map(Number);
  const datasets = arg('--datasets', 'random,clustered').split(',');
  const nQueries = Number(arg('--queries', '4000'));
  const nScan = Number(arg('--scan-queries', '100'));
  const layouts = arg('--substrings', '11,16').split(',').map(Number);
  console.log(`# PDQ index at scale\n\n${machineLine()}\ncommand: npx tsx tools/bench/pdq-scale.ts ${process.argv.slice(2).join(' ')}\n`);
  if (datasets.includes('clustered')) await photoSeeds(); // computed once, cached for the children

  const rows: ScaleRow[] = [];
  for (const n of sizes) {
    for (const kind of datasets) {
      for (const m of layouts) {
        const row = runChild<ScaleRow>(['scale', kind, String(n), String(nQueries), String(nScan), String(m)]);
        rows.push(row);
        console.error(`done ${kind} ${n} ${m}: ${JSON.stringify(row)}`);
      }
    }
  }
  console.log('| hashes | dataset | index | build | memory: typed arrays (RSS Δ / heap Δ) | largest cell (mean) | lookups/s: CPU (wall) | near / unrelated, CPU | p50 / p99 | matches / near query | planted recall | scan lookups/s: CPU (wall) | same as scan | recall vs scan | add | rebuild |');
  console.log('| ---: | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${fmtInt(r.n)} | ${r.dataset} | ${r.substrings === 16 ? 'MIH256 (16 × 16)' : `${r.substrings} substrings`} | ${(r.buildMs / 1000).toFixed(2)} s | ` +
        `${mib(r.indexBytes)} (${mib(r.rssDelta)} / ${mib(r.heapDelta)}) | ${fmtInt(r.largestBucket)} (${r.meanBucket.toFixed(0)}) | ` +
        `${fmtInt(r.lookupsPerCpuSec)} (${fmtInt(r.lookupsPerSec)}) | ${fmtInt(r.nearPerCpuSec)} / ${fmtInt(r.farPerCpuSec)} | ${r.p50Us.toFixed(0)} / ${r.p99Us.toFixed(0)} µs | ` +
        `${r.nearMatches.toFixed(1)} | ${r.plantedRecall === null ? '–' : r.plantedRecall.toFixed(3)} | ` +
        `${r.scanLookupsPerCpuSec.toFixed(1)} (${r.scanLookupsPerSec.toFixed(1)}) | ` +
        `${(r.scanAgreement * r.scanQueries).toFixed(0)}/${r.scanQueries} | ${r.scanRecall.toFixed(3)} | ${r.addUs.toFixed(1)} µs | ${(r.rebuildMs / 1000).toFixed(2)} s |`,
    );
  }
  console.log(`\n${nQueries} queries per row (half planted or cluster members, half unrelated), radius ${RADIUS}, timed in ${TURNS} turns (median turn shown; p50/p99 from the first); the scan on ${nScan} of them. ` +
    'Memory growth is measured after a GC, with the generated input (n × 32 bytes, copied by the index) released.');

  if (!process.argv.includes('--no-load')) {
    const n = Math.max(...sizes);
    const { file, prefix } = await prepareLoadInputs(n);
    try {
      const loads = [runChild<LoadRow>(['load', 'file', file, String(n)]), runChild<LoadRow>(['load', 'redis', prefix, String(n)])];
      console.log(`\n## A fresh process loads ${fmtInt(n)} hashes and builds the index\n`);
      console.log('| from | read | build | total | process RSS after | heap + buffers after |');
      console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
      for (const l of loads) {
        const from = l.source === 'file' ? `binary file (${mib(n * 32)})` : `Redis, ${Math.ceil(n / REDIS_CHUNK_HASHES)} strings of ${mib(REDIS_CHUNK_HASHES * 32)}`;
        console.log(`| ${from} | ${(l.readMs / 1000).toFixed(2)} s | ${(l.buildMs / 1000).toFixed(2)} s | ${((l.readMs + l.buildMs) / 1000).toFixed(2)} s | ${mib(l.rssAfter)} | ${mib(l.heapAfter)} |`);
      }
    } finally {
      await cleanupLoadInputs(file, prefix, n);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
