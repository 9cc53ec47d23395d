import { Queue } from 'bullmq';
import { createServer, type Server } from 'node:net';
import sharp from 'sharp';
import { type ErrorCode, RevmodError, jobIdFor, ModerationClient, type ModerationJobData, type SubmitRequest, type Verdict } from '@revmod/client';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { legacyDecide, type LegacyScores } from '../helpers/legacy-policy';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import * as fixtures from '../fixtures/hostile-images';
import { startCountingProxy, type CountingProxy } from '../helpers/counting-proxy';
import { QueueInspector, waitUntil } from '../helpers/fault-harness';
import { S3Server } from '../../tools/dev/s3-server';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';

const BUCKET = 'reviews-hostile';
const MAX_BYTES = 1024 * 1024;
const OVERSIZED_BYTES = 24 * 1024 * 1024;
const BATCH_SIZE = 8;

/** What an object must come out as: an error code (decision review), or a scored verdict. */
type Expectation =
  | { readonly code: ErrorCode; readonly message?: RegExp }
  | { readonly scored: true; readonly violate?: readonly [number, number] };

interface Case {
  readonly key: string;
  /** undefined: nothing is uploaded under the key. */
  readonly bytes: Buffer | undefined;
  readonly expect: Expectation;
}

async function solid(r: number, g: number, b: number, width = 320, height = 240): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } }).jpeg({ quality: 90 }).toBuffer();
}

/** A TCP server that counts connections: the SVG's external reference points here. */
async function connectionCounter(): Promise<{ port: number; count: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, count: () => connections, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('hostile and odd inputs through the whole pipeline (real Redis, real S3 server, probe model)', () => {
  const prefix = uniquePrefix('hostile');
  let s3: S3Server;
  let proxy: CountingProxy;
  let svgTarget: Awaited<ReturnType<typeof connectionCounter>>;
  let worker: ModerationWorker;
  let client: ModerationClient;
  let collector: VerdictCollector;
  let inspector: QueueInspector;
  let config: ReturnType<typeof testConfig>;
  const cases: Case[] = [];

  beforeAll(async () => {
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    proxy = await startCountingProxy(s3.port, { holdBodiesOverBytes: MAX_BYTES, holdMs: 1_000 });
    svgTarget = await connectionCounter();
    const red = [0.9, 1] as const;
    const blue = [0, 0.1] as const;
    const grey = [0.45, 0.55] as const;
    const hostile: Array<[string, Promise<Buffer> | undefined, Expectation]> = [
      ['hostile/zero-bytes.jpg', fixtures.zeroBytes(), { code: 'OBJECT_EMPTY' }],
      ['hostile/truncated.jpg', fixtures.truncatedJpeg(), { code: 'IMAGE_CORRUPT', message: /truncated or corrupt JPEG/ }],
      ['hostile/corrupt-header.jpg', fixtures.corruptHeaderJpeg(), { code: 'IMAGE_CORRUPT', message: /corrupt JPEG header/ }],
      ['hostile/random-bytes.jpg', fixtures.randomBytes(), { code: 'NOT_AN_IMAGE' }],
      ['hostile/error-page.jpg', fixtures.htmlPage(), { code: 'NOT_AN_IMAGE', message: /HTML/ }],
      ['hostile/document.jpg', fixtures.pdfDocument(), { code: 'NOT_AN_IMAGE', message: /PDF/ }],
      ['hostile/vector.svg', fixtures.svgImage(`http://127.0.0.1:${svgTarget.port}/tracker.png`), { code: 'UNSUPPORTED_FORMAT', message: /SVG/ }],
      ['hostile/bomb.png', fixtures.decompressionBombPng(), { code: 'IMAGE_TOO_LARGE', message: /30000×30000/ }],
      ['hostile/needle.png', fixtures.needlePng(), { code: 'IMAGE_TOO_LARGE' }],
      ['hostile/photo.heic', fixtures.heicHeader(), { code: 'IMAGE_CORRUPT', message: /HEIF container/ }],
      ['hostile/whole.heic', fixtures.heicContainer(), { code: 'IMAGE_CORRUPT', message: /HEIC/ }],
      ['hostile/truncated.heic', fixtures.truncatedHeic(), { code: 'IMAGE_CORRUPT', message: /HEIC/ }],
      ['hostile/truncated.avif', fixtures.truncatedAvif(), { code: 'IMAGE_CORRUPT' }],
      ['hostile/oversized.jpg', Promise.resolve(Buffer.alloc(OVERSIZED_BYTES, 0xab)), { code: 'OBJECT_TOO_LARGE', message: /refused before download/ }],
      ['hostile/never-uploaded.jpg', undefined, { code: 'OBJECT_NOT_FOUND' }],
      // Decodable oddities: a normal verdict (the probe's score follows red minus blue).
      ['odd/animated.gif', fixtures.animatedGif(), { scored: true, violate: red }], // first frame is red
      ['odd/animated.webp', fixtures.animatedWebp(), { scored: true, violate: red }],
      ['odd/16-bit.png', fixtures.png16Bit(), { scored: true }],
      ['odd/cmyk.jpg', fixtures.cmykJpeg(), { scored: true, violate: red }], // red stays red (not inverted)
      ['odd/greyscale.jpg', fixtures.greyscaleJpeg(), { scored: true, violate: grey }],
      ['odd/palette-alpha.png', fixtures.palettePngWithTransparency(), { scored: true }],
      ['odd/exif-rotated.jpg', fixtures.exifRotatedJpeg(), { scored: true }],
      ['odd/one-pixel.png', fixtures.onePixelPng(), { scored: true, violate: [0, 0.5] }], // teal: more blue than red
      ['odd/panorama.jpg', fixtures.panoramaJpeg(), { scored: true }],
      ['odd/small.avif', fixtures.avifImage(), { scored: true }],
      ['odd/iphone.heic', fixtures.heicPhoto(), { scored: true }],
    ];
    // Good photos between the hostile ones, so that they share fetch/decode slots and batches.
    const good: Case[] = [];
    for (let i = 0; i < 16; i++) {
      const isRed = i % 4 === 0;
      good.push({
        key: `good/${String(i).padStart(2, '0')}-${isRed ? 'red' : 'blue'}.jpg`,
        bytes: isRed ? await solid(230, 20, 20, 400 + i, 300) : await solid(20, 20, 230, 300, 400 + i),
        expect: { scored: true, violate: isRed ? red : blue },
      });
    }
    // Interleaved good, odd, error, good, odd, error...: odd images and good photos reach the
    // batcher side by side, error objects between them.
    const built: Case[] = [];
    for (const [key, bytes, expect] of hostile) built.push({ key, bytes: bytes === undefined ? undefined : await bytes, expect });
    const odd = built.filter((c) => 'scored' in c.expect);
    const errors = built.filter((c) => 'code' in c.expect);
    while (good.length + odd.length + errors.length > 0) {
      for (const list of [good, odd, errors]) {
        const next = list.shift();
        if (next) cases.push(next);
      }
    }
    for (const c of cases) if (c.bytes !== undefined) await s3.put(BUCKET, c.key, c.bytes);

    config = testConfig({
      redis: { prefix },
      s3: { ...s3.s3Config, endpoint: proxy.endpoint },
      requests: { allowedBuckets: [BUCKET] },
      limits: { maxBytes: MAX_BYTES },
      // A long batch wait, so that batches fill even on a loaded machine (batch-mates are the point).
      batch: { size: BATCH_SIZE, maxWaitMs: 1_000 },
      model: { path: defaultModelPath('probe'), executionProvider: 'cpu', intraOpThreads: 1 },
      jobs: { attempts: 3, backoffMs: 200 }, worker: { concurrency: 16 },
    });
    worker = await startTestWorker(config);
    collector = new VerdictCollector(config);
    client = new ModerationClient({ config });
    inspector = new QueueInspector(config);
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await collector?.close();
    await inspector?.close();
    await worker?.close(10_000);
    await proxy?.close();
    await svgTarget?.close();
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('gives every object exactly one verdict: a stable error code, or a normal verdict for odd but valid images', async () => {
    const requests: SubmitRequest[] = cases.map((c) => ({ bucket: BUCKET, key: c.key, meta: { case: c.key } }));
    const submitted = await client.submitBulk(requests);
    const verdicts = await collector.waitFor(cases.length, 60_000);
    const counts = await inspector.settledCounts(); // a duplicate, if any were published, has arrived by now
    expect(counts).toMatchObject({ completed: cases.length, failed: 0, active: 0, waiting: 0, delayed: 0 });
    expect(verdicts).toHaveLength(cases.length);
    expect(new Set(verdicts.map((v) => v.id))).toEqual(new Set(submitted.map((s) => s.jobId)));

    const byKey = new Map(verdicts.map((v) => [v.key, v] as const));
    const problems: string[] = [];
    for (const c of cases) {
      const v = byKey.get(c.key)!;
      const got = v.error ? `${v.error.code}: ${v.error.message}` : `scored violate=${v.scores?.violate?.toFixed(3)}`;
      expect(v.meta).toEqual({ case: c.key });
      expect(v.attempt).toBe(1); // nothing here is transient: no retries
      if ('code' in c.expect) {
        const ok = v.error?.code === c.expect.code && (c.expect.message?.test(v.error.message) ?? true) &&
          v.decision === 'review' && v.reasons.join() === 'error' && v.scores === null && v.label === null && v.batch === null;
        if (!ok) problems.push(`${c.key}: expected ${c.expect.code}, got ${got} (${v.decision})`);
      } else {
        const range = c.expect.violate;
        const ok = v.error === undefined && v.scores !== null && v.batch !== null &&
          v.decision === legacyDecide(v.scores as unknown as LegacyScores, worker.status().thresholds!).decision &&
          (range === undefined || (v.scores.violate! >= range[0] && v.scores.violate! <= range[1]));
        if (!ok) problems.push(`${c.key}: expected a scored verdict${range ? ` with violate in [${range.join(', ')}]` : ''}, got ${got}`);
      }
    }
    expect(problems).toEqual([]);

    // Decodable oddities were batched together with the good photos.
    const mixed = verdicts.filter((v) => v.key.startsWith('odd/') && v.batch !== null &&
      verdicts.some((w) => w.key.startsWith('good/') && w.batch?.id === v.batch!.id));
    expect(mixed.length).toBeGreaterThan(0);
    expect(Math.max(...verdicts.map((v) => v.batch?.size ?? 0))).toBeGreaterThan(1);

    // The worker kept running: same thread, still ready, and it takes the next job.
    expect(worker.ready).toBe(true);
    expect(worker.inferenceEngine!.restartCount).toBe(0);
    const next = await solid(20, 20, 230);
    await s3.put(BUCKET, 'after/blue.jpg', next);
    await client.submit({ bucket: BUCKET, key: 'after/blue.jpg' });
    const after = (await collector.waitFor(cases.length + 1, 20_000)).find((v) => v.key === 'after/blue.jpg')!;
    expect(after.error).toBeUndefined();
    expect(after.label).toBe('normal');
  });

  it('refused the oversized object from its Content-Length, without downloading its body', () => {
    const path = `/${BUCKET}/hostile/oversized.jpg`;
    expect(proxy.requests(path)).toBeGreaterThanOrEqual(1);
    // The proxy holds big bodies back 1 s after the headers: the worker had hung up by then. Reading
    // the body and stopping at maxBytes would have pulled more than MAX_BYTES through.
    expect(proxy.bodyBytesSent(path)).toBeLessThan(MAX_BYTES);
    // Small objects passed through whole (the proxy does count what clients read).
    expect(proxy.bodyBytesSent(`/${BUCKET}/odd/panorama.jpg`)).toBe(cases.find((c) => c.key === 'odd/panorama.jpg')!.bytes!.length);
  });

  it('never fetched what the SVG references', () => {
    expect(svgTarget.count()).toBe(0);
  });

  describe('invalid payloads', () => {
    const invalid: Array<[string, unknown, ErrorCode, RegExp]> = [
      ['missing key', { bucket: BUCKET }, 'INVALID_JOB', /key must be a non-empty string, received undefined/],
      ['key of the wrong type', { bucket: BUCKET, key: 42 }, 'INVALID_JOB', /key must be a non-empty string, received 42/],
      ['bucket of the wrong type', { bucket: ['x'], key: 'a.jpg' }, 'INVALID_JOB', /bucket must be an S3 bucket name.*received \["x"\]/],
      ['a key with ..', { bucket: BUCKET, key: 'shop/../../etc/passwd' }, 'INVALID_JOB', /key must not contain "\." or "\.\." path segments/],
      ['meta of the wrong type', { bucket: BUCKET, key: 'a.jpg', meta: 'review-1' }, 'INVALID_JOB', /meta must be a plain object/],
      ['a bucket outside the allow-list', { bucket: 'billing-exports', key: 'a.jpg' }, 'BUCKET_NOT_ALLOWED', /bucket "billing-exports" is not in the allow-list \(reviews-hostile\)/],
    ];

    it.each(invalid)('the SDK refuses %s at submit with a clear error', async (_name, request, code, message) => {
      const err = await client.submit(request as SubmitRequest).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(RevmodError);
      expect(err).toMatchObject({ code, retryable: false, message: expect.stringMatching(message) });
    });

    it('the SDK refuses a bulk with one invalid request, names its index and enqueues nothing', async () => {
      const before = await client.queue.count();
      const bulk = [{ bucket: BUCKET, key: 'bulk/ok-1.jpg' }, { bucket: BUCKET, key: 'bulk/../x.jpg' }, { bucket: BUCKET, key: 'bulk/ok-2.jpg' }];
      await expect(client.submitBulk(bulk)).rejects.toMatchObject({ code: 'INVALID_JOB', message: expect.stringMatching(/^requests\[1\]: key must not contain/) });
      expect(await client.queue.count()).toBe(before);
      expect(await client.queue.getJob(jobIdFor(BUCKET, 'bulk/ok-1.jpg'))).toBeUndefined();
    });

    it('the worker fails payloads injected straight into the queue at once, without retries', async () => {
      const raw = new Queue<ModerationJobData>(config.queues.moderation, { connection: { url: config.redis.url }, prefix });
      try {
        const jobs = await Promise.all(invalid.map(([name, data], i) =>
          raw.add('moderate', data as ModerationJobData, { jobId: `raw-invalid-${i}`, attempts: 3, backoff: { type: 'fixed', delay: 100 } }).then((job) => ({ name, job }))));
        for (const [i, { name, job }] of jobs.entries()) {
          const state = await waitUntil(`job "${name}" to fail`, async () => {
            const s = await raw.getJobState(job.id!);
            return s === 'failed' || s === 'completed' ? s : undefined;
          });
          const failed = (await raw.getJob(job.id!))!;
          const [, , code, message] = invalid[i]!;
          expect({ name, state, attemptsMade: failed.attemptsMade }).toEqual({ name, state: 'failed', attemptsMade: 1 });
          expect(failed.failedReason).toMatch(new RegExp(`^${code}: ${message.source}`));
        }
        const failedIds = (await raw.getFailed(0, -1)).map((j) => j.id);
        expect(failedIds).toEqual(expect.arrayContaining(jobs.map(({ job }) => job.id)));
        // No verdict was published for them, and the worker is still serving.
        expect(collector.verdicts.filter((v) => v.id.startsWith('raw-invalid-'))).toEqual([]);
        expect(worker.ready).toBe(true);
      } finally {
        await raw.close();
      }
    });
  });
});
