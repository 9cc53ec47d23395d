/**
 * `npm run bench:known`: resubmitted copies of listed images are decided without inference. One
 * worker (real pool, the ResNet18 test model on CPU, known images on) against a local Redis and an
 * S3 server. Half the photos are put on a block list by `{bucket, key}`; then three rounds, each
 * submitted in one bulk and timed from submit to the last verdict:
 *  1. copies of the unlisted half (re-encoded q85): judged by the model (the comparison);
 *  2. copies of the listed half (re-encoded q60, resized 50 %, mirrored, WebP, rotated 90°);
 *  3. the copies of round 1 uploaded again byte for byte at new keys (exact reuse).
 * For each: verdicts, matched (reason known_violation) or reused, inference batches run, images/s
 * and the median per-image service time (fetch + decode + batch wait + inference).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import sharp from 'sharp';
import { createRedisConnection, ModerationClient, consumeVerdicts, type Verdict } from '@revmod/client';
import { loadConfig } from '../../src/config';
import { KnownLists } from '../../src/known/known-lists';
import { listStoreOf } from '../../src/known/list-store';
import { S3ObjectStore, createS3Client } from '../../src/storage';
import { ModerationWorker } from '../../src/worker/moderation-worker';
import { deletePrefix, uniquePrefix } from '../dev/redis-keys';
import { ensureRedis } from '../dev/redis-server';
import { S3Server } from '../dev/s3-server';
import { defaultModelPath, ensureModel } from '../model-gen/ensure-model';
import { machineInfo } from './infra';

const { values } = parseArgs({ options: { photos: { type: 'string', default: '0' }, model: { type: 'string', default: 'resnet18' } } });
const BUCKET = 'bench-known';
const JOURNAL = 'bench-known-journal';

type Transform = (b: Buffer) => Promise<Buffer>;
const LISTED_COPIES: Readonly<Record<string, Transform>> = {
  'JPEG q60': (b) => sharp(b).jpeg({ quality: 60 }).toBuffer(),
  'resize 50 %': async (b) => sharp(b).resize({ width: Math.round((await sharp(b).metadata()).width / 2) }).jpeg({ quality: 85 }).toBuffer(),
  mirror: (b) => sharp(b).flop().jpeg({ quality: 90 }).toBuffer(),
  'WebP q80': (b) => sharp(b).webp({ quality: 80 }).toBuffer(),
  'rotate 90°': (b) => sharp(b).rotate(90).jpeg({ quality: 90 }).toBuffer(),
};

function photos(): Array<{ name: string; bytes: Buffer }> {
  const dir = existsSync('../shared/images') ? '../shared/images' : 'samples';
  const all = readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort().map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
  const n = Number(values.photos);
  return n > 0 ? all.slice(0, n) : all;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const redisHandle = await ensureRedis();
  const kind = values.model === 'probe' ? 'probe' : 'resnet18';
  await ensureModel({ kind });
  const s3 = await S3Server.start({ buckets: [BUCKET, JOURNAL] });
  const prefix = uniquePrefix('bench-known');
  const config = loadConfig({
    redis: { url: redisHandle.url, prefix }, s3: s3.s3Config,
    model: { path: defaultModelPath(kind), executionProvider: 'cpu', allowUntrained: true },
    known: { enabled: true, journalBucket: JOURNAL },
  }, {});
  let batches = 0;
  const worker = new ModerationWorker(config, { logger: pino({ level: 'warn' }), observer: { onBatch: () => { batches += 1; } } });
  await worker.start();
  const verdicts = new Map<string, Verdict>();
  const consumer = consumeVerdicts({ config, handler: (v) => { verdicts.set(v.id, v); } });
  const client = new ModerationClient({ config });
  const redis = createRedisConnection(config, 'producer');
  const s3client = createS3Client(config.s3);
  const lists = new KnownLists({
    store: listStoreOf(redis, s3client, config), objects: new S3ObjectStore(config.s3, s3client), allowedBuckets: [],
    maxBytes: config.limits.maxBytes, decode: { maxPixels: config.limits.maxPixels },
  });
  try {
    const all = photos();
    const listed = all.filter((_, i) => i % 2 === 0);
    const unlisted = all.filter((_, i) => i % 2 === 1);
    for (const p of all) await s3.put(BUCKET, `originals/${p.name}`, p.bytes);
    await lists.create({ name: 'bench-campaign', kind: 'block' }, 'bench');
    const addMs: number[] = [];
    for (const p of listed) {
      const t = performance.now();
      await lists.add('bench-campaign', { bucket: BUCKET, key: `originals/${p.name}` }, 'bench');
      addMs.push(performance.now() - t);
    }
    await new Promise((r) => setTimeout(r, 1_500));

    const rows: string[] = [];
    const round = async (label: string, uploads: Array<{ key: string; bytes: Buffer }>): Promise<Verdict[]> => {
      for (const u of uploads) await s3.put(BUCKET, u.key, u.bytes);
      const batchesBefore = batches;
      const t0 = performance.now();
      const ids = (await client.submitBulk(uploads.map((u) => ({ bucket: BUCKET, key: u.key })))).map((r) => r.jobId);
      while (!ids.every((id) => verdicts.has(id))) await new Promise((r) => setTimeout(r, 5));
      const wallS = (performance.now() - t0) / 1000;
      const got = ids.map((id) => verdicts.get(id)!);
      const matched = got.filter((v) => v.reasons.includes('known_violation')).length;
      const reused = got.filter((v) => v.reusedFrom !== undefined).length;
      const noInference = got.filter((v) => v.batch === null).length;
      const serviceMs = median(got.map((v) => v.timings.fetchMs + v.timings.decodeMs + v.timings.batchWaitMs + v.timings.inferMs));
      rows.push(`| ${label} | ${got.length} | ${matched} | ${reused} | ${noInference} | ${batches - batchesBefore} | ${(got.length / wallS).toFixed(1)} | ${serviceMs.toFixed(1)} |`);
      return got;
    };

    const unlistedCopies = await Promise.all(unlisted.map(async (p) => ({ key: `copies/unlisted/${p.name}`, bytes: await sharp(p.bytes).jpeg({ quality: 85 }).toBuffer() })));
    await round('unlisted copies (JPEG q85): the model judges', unlistedCopies);
    const perTransform: string[] = [];
    const listedUploads: Array<{ key: string; bytes: Buffer }> = [];
    for (const [name, transform] of Object.entries(LISTED_COPIES)) {
      for (const p of listed) listedUploads.push({ key: `copies/${name.replace(/[^a-z0-9]+/gi, '-')}/${p.name}`, bytes: await transform(p.bytes) });
    }
    const listedVerdicts = await round(`listed copies (${Object.keys(LISTED_COPIES).length} transforms)`, listedUploads);
    for (const name of Object.keys(LISTED_COPIES)) {
      const dir = `copies/${name.replace(/[^a-z0-9]+/gi, '-')}/`;
      const vs = listedVerdicts.filter((v) => v.key.startsWith(dir));
      const hit = vs.filter((v) => v.reasons.includes('known_violation'));
      for (const v of vs.filter((x) => !hit.includes(x))) console.log(`not matched: ${v.key} (${v.decision}, ${v.reasons.join(', ')}${v.error ? `, ${v.error.code}` : ''})`);
      perTransform.push(`| ${name} | ${vs.length} | ${hit.length} | ${hit.filter((v) => v.batch === null).length} | ${median(hit.map((v) => (v.evidence?.known_violation as { distance: number }).distance))} |`);
    }
    await round('the unlisted copies again, byte for byte, at new keys (exact reuse)', unlistedCopies.map((u) => ({ key: u.key.replace('copies/', 'again/'), bytes: u.bytes })));

    const m = machineInfo();
    console.log(`machine: ${m.cores} × ${m.cpuModel}, ${m.memGiB.toFixed(0)} GiB, Node ${m.node}; load ${loadavg().map((x) => x.toFixed(1)).join(' ')} (shared: compare rows of one run only)`);
    console.log(`model ${kind} on CPU, batch ${config.batch.size}; ${all.length} photos, ${listed.length} listed (add by {bucket,key}: median ${median(addMs).toFixed(0)} ms)\n`);
    console.log('| round | verdicts | matched a list | reused (exact) | without inference | inference batches | images/s | median service ms |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows) console.log(r);
    console.log('\n| listed copy | verdicts | blocked by the list | of those without inference | median distance |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const r of perTransform) console.log(r);
  } finally {
    await client.close();
    await consumer.close();
    await worker.close(10_000);
    s3client.destroy();
    await redis.quit();
    await s3.close();
    await deletePrefix({ url: redisHandle.url, prefix });
    await redisHandle.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
