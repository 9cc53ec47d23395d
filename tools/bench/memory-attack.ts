/**
 * `npm run bench:memory`: a worker's peak RSS (VmHWM) under a memory attack, with the in-flight byte
 * budget on, then with it practically off, in the same run. The attack: 64 tiny PNGs that decode to
 * 1000×40000 RGBA (160 MB each, ~100 KB compressed) and 64 objects of 20 MB, all submitted at once
 * to a worker with 64 jobs in flight.
 */
import sharp from 'sharp';
import { parseArgs } from 'node:util';
import { consumeVerdicts, ModerationClient } from '@revmod/client';
import { clientConfigOf, loadConfig } from '../../src/config';
import { ensureRedis } from '../dev/redis-server';
import { deletePrefix, uniquePrefix } from '../dev/redis-keys';
import { S3Server } from '../dev/s3-server';
import { defaultModelPath, ensureModel } from '../model-gen/ensure-model';
import { spawnWorker, workerEnv } from '../chaos/worker-process';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const BUCKET = 'memory-attack';
const MIB = 1024 * 1024;

async function attackObjects(): Promise<Array<{ key: string; bytes: Buffer }>> {
  // Rows of one colour compress to almost nothing: the declared size is what costs memory.
  const tall = await sharp({ create: { width: 1000, height: 40_000, channels: 4, background: { r: 200, g: 30, b: 30, alpha: 0.5 } } }).png({ compressionLevel: 9 }).toBuffer();
  const photo = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: { r: 20, g: 90, b: 160 } } }).jpeg({ quality: 95 }).toBuffer();
  // A 20 MB object: a valid JPEG followed by padding (decoders stop at its end).
  const big = Buffer.concat([photo, Buffer.alloc(20 * MIB - 1024 - photo.length, 0x20)]);
  return [
    ...Array.from({ length: 64 }, (_, i) => ({ key: `tall/${i}.png`, bytes: tall })),
    ...Array.from({ length: 64 }, (_, i) => ({ key: `big/${i}.jpg`, bytes: big })),
  ];
}

async function run(label: string, budgetBytes: number, s3: S3Server, redisUrl: string, objects: Array<{ key: string }>): Promise<{ peakMiB: number; seconds: number; errors: Record<string, number> }> {
  const prefix = uniquePrefix('memory');
  const env = workerEnv({
    redisUrl, prefix, s3Env: s3.env, modelPath: defaultModelPath('probe'), batchSize: 32, concurrency: 64, maxBytes: 21 * MIB,
    extra: { REVMOD_MAX_INFLIGHT_BYTES: String(budgetBytes), REVMOD_POOL_THREADS: '2', MALLOC_ARENA_MAX: '2' },
  });
  const worker = spawnWorker({ name: label, env });
  const config = loadConfig({ redis: { url: redisUrl, prefix } }, {});
  const client = new ModerationClient({ config: clientConfigOf(config) });
  let done = 0;
  const errors: Record<string, number> = {};
  const consumer = consumeVerdicts({ config: clientConfigOf(config), handler: (v) => { done += 1; if (v.error) errors[v.error.code] = (errors[v.error.code] ?? 0) + 1; } });
  try {
    await worker.ready();
    const t0 = Date.now();
    await client.submitBulk(objects.map((o) => ({ bucket: BUCKET, key: o.key })));
    let peak = 0;
    while (done < objects.length) {
      peak = Math.max(peak, worker.peakRssKiB() ?? 0);
      if (Date.now() - t0 > 600_000) throw new Error(`${label}: only ${done}/${objects.length} verdicts after 10 min`);
      await new Promise((r) => setTimeout(r, 100));
    }
    peak = Math.max(peak, worker.peakRssKiB() ?? 0);
    return { peakMiB: peak / 1024, seconds: (Date.now() - t0) / 1000, errors };
  } finally {
    await consumer.close();
    await client.close();
    await worker.destroy();
    await deletePrefix({ url: redisUrl, prefix });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { budget: { type: 'string', default: String(256 * MIB) } } });
  const budget = Number(values.budget);
  await ensureModel({ kind: 'probe' });
  const redis = await ensureRedis();
  const s3 = await S3Server.start({ buckets: [BUCKET], inChildProcess: true });
  try {
    const objects = await attackObjects();
    for (const o of objects) await s3.put(BUCKET, o.key, o.bytes);
    const bounded = await run('bounded', budget, s3, redis.url, objects);
    const unbounded = await run('unbounded', 64 * 1024 * MIB, s3, redis.url, objects);
    const line = (l: string, r: { peakMiB: number; seconds: number; errors: Record<string, number> }, b: string) =>
      `| ${l} | ${b} | ${r.peakMiB.toFixed(0)} MiB | ${r.seconds.toFixed(1)} s | ${JSON.stringify(r.errors)} |`;
    process.stdout.write([
      '| run | REVMOD_MAX_INFLIGHT_BYTES | worker peak RSS (VmHWM) | time for 128 jobs | error verdicts |',
      '|---|---|---|---|---|',
      line('bounded', bounded, `${(budget / MIB).toFixed(0)} MiB`),
      line('practically unbounded', unbounded, '64 GiB'),
      '',
    ].join('\n'));
  } finally {
    await s3.close();
    await redis.stop();
  }
}

void main().catch((err: Error) => { process.stderr.write(`${err.stack ?? err.message}\n`); process.exit(1); });
