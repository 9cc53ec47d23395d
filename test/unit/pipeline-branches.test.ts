import { createHash } from 'node:crypto';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import pino from 'pino';
import sharp from 'sharp';
import { RevmodError, type ModerationJobData, type Verdict } from '@revmod/client';
import type { BatchResult, InferenceBackend } from '../../src/model/inference-backend';
import { ModerationPipeline } from '../../src/pipeline/moderation-pipeline';
import { StorageBreaker } from '../../src/pipeline/storage-breaker';
import type { VerdictPublisher } from '../../src/pipeline/verdict-publisher';
import { parseModelCard } from '../../src/model/model-card';
import { DEFAULT_DECODE_OPTIONS } from '../../src/preprocess';
import type { FetchedObject, ObjectStore } from '../../src/storage';
import { decode, hash } from '../../src/pool/decode-task';
import { compilePolicy, DEFAULT_RULES } from '../../src/policy';
import { jobIdFor } from '@revmod/client';
import type { KnownImages } from '../../src/known/known-images';
import type { TextDetection } from '../../src/pipeline/moderation-pipeline';
import { createTextDetector, type OcrRunner } from '../../src/detectors/text/text-detector';
import type { OcrLine, OcrResult } from '../../src/detectors/text/paddle-ocr';

/** OCR that reads fixed lines, or fails as told; counts its calls. */
class FakeOcr implements OcrRunner {
  calls = 0;
  failWith: RevmodError | undefined;
  constructor(private readonly lines: readonly string[]) {}
  async recognise(): Promise<OcrResult> {
    this.calls += 1;
    if (this.failWith) throw this.failWith;
    const box = [{ x: 0, y: 0 }, { x: 1, y: 0 }, { x: 1, y: 1 }, { x: 0, y: 1 }] as unknown as OcrLine['box'];
    return { lines: this.lines.map((text) => ({ text, confidence: 0.99, box })), textAreaFraction: 0.1, detMs: 1, recMs: 1 };
  }
}

/** Text detection whose gate lets every image through (the test photo has no text to find). */
function textDetection(ocr: OcrRunner): TextDetection {
  return { detector: createTextDetector(ocr), gate: { minScore: -1000 }, options: {} };
}

/** A backend that answers fixed logits, or fails as told. */
class FakeBackend implements InferenceBackend {
  readonly maxInFlight = 2;
  readonly provider = 'fake';
  runs = 0;
  failNext: RevmodError | undefined;
  /** Output rows (normal, violate logits) to answer instead of a confident pass, per image index. */
  rows: Array<[number, number]> | undefined;
  async run(images: readonly Float32Array[]): Promise<BatchResult> {
    const count = images.length;
    this.runs += 1;
    const err = this.failNext;
    this.failNext = undefined;
    if (err) throw err;
    if (this.rows) return { logits: Float32Array.from({ length: 2 * count }, (_, i) => this.rows![Math.floor(i / 2) % this.rows!.length]![i % 2]!), inferMs: 1 };
    // normal 0, violate −3: a confident pass.
    return { logits: Float32Array.from({ length: 2 * count }, (_, i) => (i % 2 === 0 ? 0 : -3)), inferMs: 1 };
  }
}

/** A store that serves one photo, or throws what it is told. */
class FakeStore implements ObjectStore {
  failWith: RevmodError | undefined;
  constructor(private readonly photo: Buffer) {}
  async fetch(_bucket: string, key: string): Promise<FetchedObject> {
    if (this.failWith) throw this.failWith;
    return { bytes: key.includes('corrupt') ? this.photo.subarray(0, 200) : this.photo, etag: 'e1', versionId: undefined };
  }
  close(): void {}
}

/** A job as the SDK makes it: its id derives from its payload (here: an ETag per name). */
function fakeJob(name: string, attemptsMade = 0, attempts = 3): Job<ModerationJobData> & { delayedUntil?: number } {
  const data = { bucket: 'photos', key: `${name}.jpg`, etag: name, meta: {}, submittedAtMs: Date.now() };
  const job = {
    id: jobIdFor(data.bucket, data.key, data), attemptsMade, timestamp: Date.now(), data, opts: { attempts },
    async moveToDelayed(until: number) { job.delayedUntil = until; },
    delayedUntil: undefined as number | undefined,
  };
  return job as unknown as Job<ModerationJobData> & { delayedUntil?: number };
}

describe('ModerationPipeline branches (fake backend, store and publisher)', () => {
  let photo: Buffer;
  beforeAll(async () => {
    photo = await sharp({ create: { width: 300, height: 260, channels: 3, background: { r: 90, g: 140, b: 60 } } }).jpeg().toBuffer();
  });

  function pipeline(store: FakeStore, backend: FakeBackend, options: { breaker?: StorageBreaker; pauses?: number[]; broken?: string[]; batchSize?: number; maxWaitMs?: number; known?: KnownImages; skipClassifierFor?: string[]; text?: TextDetection } = {}) {
    const published: Verdict[] = [];
    const retries: string[] = [];
    const publisher = { publish: async (vs: readonly Verdict[]) => { published.push(...vs); } } as unknown as VerdictPublisher;
    const p = new ModerationPipeline({
      store, engine: backend, publisher,
      // The real decode, in this thread (the pool's threads run the same function).
      decoder: { decode, hash: async (bytes: Uint8Array) => hash({ bytes }) },
      model: { name: 'fake', version: '1', sha256: 'f'.repeat(64) },
      policy: compilePolicy('default', DEFAULT_RULES, { violate: 0.7, confidence: 0.7, block: null }, ['violate'], options.skipClassifierFor ?? []),
      ...(options.known ? { known: options.known } : {}),
      ...(options.text ? { text: options.text } : {}),
      detectors: {}, maxFrames: 1,
      card: parseModelCard({
        name: 'fake', version: '1', description: '', trained: false, classes: ['normal', 'violate'],
        input: { name: 'input', shape: ['N', 3, 224, 224] }, output: { name: 'logits', shape: ['N', 2] },
      }, 'fake card'),
      preprocess: DEFAULT_DECODE_OPTIONS,
      requestLimits: { allowedBuckets: [], maxMetaBytes: 4096 },
      maxBytes: 1 << 20, batchSize: options.batchSize ?? 4, maxWaitMs: options.maxWaitMs ?? 1,
      maxInvalidBatches: 2, onModelBroken: (reason: string) => options.broken?.push(reason),
      logger: pino({ level: 'silent' }),
      observer: { onRetry: (code) => retries.push(code) },
      ...(options.breaker ? { storageBreaker: options.breaker, pauseIntake: (ms: number) => options.pauses?.push(ms) } : {}),
    });
    return { p, published, retries };
  }

  it('scores and publishes a good image', async () => {
    const { p, published } = pipeline(new FakeStore(photo), new FakeBackend());
    const v = await p.process(fakeJob('a1'));
    expect(v).toMatchObject({ schemaVersion: 2, decision: 'pass', label: 'normal', model: { executionProvider: 'fake' }, batch: { size: 1 } });
    expect(published.map((x) => x.key)).toEqual(['a1.jpg']);
    expect(v.version).toEqual({ etag: 'e1', sha256: createHash('sha256').update(photo).digest('hex') });
    expect(v.policy).toEqual({ name: 'default', version: expect.stringMatching(/^[0-9a-f]{16}$/) });
    await p.drain();
  });

  it('turns a permanent storage error into an error verdict (review), published at once', async () => {
    const store = new FakeStore(photo);
    store.failWith = new RevmodError('OBJECT_NOT_FOUND', 'no such key');
    const { p, published } = pipeline(store, new FakeBackend());
    const v = await p.process(fakeJob('b1'));
    expect(v).toMatchObject({ decision: 'review', reasons: ['error'], error: { code: 'OBJECT_NOT_FOUND' }, batch: null });
    expect(published).toHaveLength(1);
  });

  it('hands a transient storage error back to BullMQ for a retry, with its code first', async () => {
    const store = new FakeStore(photo);
    store.failWith = new RevmodError('STORAGE_UNAVAILABLE', 'connect ECONNREFUSED');
    const { p, published, retries } = pipeline(store, new FakeBackend());
    await expect(p.process(fakeJob('c1'))).rejects.toThrow(/^STORAGE_UNAVAILABLE: connect ECONNREFUSED$/);
    expect(published).toEqual([]);
    expect(retries).toEqual(['STORAGE_UNAVAILABLE']);
  });

  it('with the breaker open, pauses this worker and delays the job without spending an attempt', async () => {
    const store = new FakeStore(photo);
    store.failWith = new RevmodError('STORAGE_TIMEOUT', 'timed out');
    const pauses: number[] = [];
    const { p } = pipeline(store, new FakeBackend(), { breaker: new StorageBreaker(2, 5_000), pauses });
    await expect(p.process(fakeJob('d1'))).rejects.toThrow(/^STORAGE_TIMEOUT/);
    expect(pauses).toEqual([]);
    const job = fakeJob('d2');
    const before = Date.now();
    await expect(p.process(job)).rejects.toBeInstanceOf(DelayedError);
    expect(pauses).toEqual([5_000]);
    expect(job.delayedUntil).toBeGreaterThanOrEqual(before + 5_000);
  });

  it('counts STORAGE_AUTH (expired token, clock skew) towards the breaker', async () => {
    const store = new FakeStore(photo);
    store.failWith = new RevmodError('STORAGE_AUTH', 'ExpiredToken');
    const pauses: number[] = [];
    const { p } = pipeline(store, new FakeBackend(), { breaker: new StorageBreaker(1, 1_000), pauses });
    await expect(p.process(fakeJob('d3'))).rejects.toBeInstanceOf(DelayedError);
    expect(pauses).toEqual([1_000]);
  });

  it('fails closed on non-finite model output: error verdicts, never a pass; a broken model stops intake', async () => {
    const backend = new FakeBackend();
    backend.rows = [[Number.NaN, 0], [0, Number.POSITIVE_INFINITY], [0, -3]];
    const broken: string[] = [];
    // Batches of exactly 3, then 2: a long wait so that they fill whatever the decode times.
    const { p } = pipeline(new FakeStore(photo), backend, { broken, batchSize: 3, maxWaitMs: 5_000 });
    const mixed = await Promise.all(['n1', 'n2', 'n3'].map((id) => p.process(fakeJob(id))));
    const outcomes = mixed.map((v) => `${v.decision}:${v.error?.code ?? '-'}`).sort();
    expect(outcomes).toEqual(['pass:-', 'review:MODEL_OUTPUT_INVALID', 'review:MODEL_OUTPUT_INVALID']);
    expect(mixed.map((v) => v.error?.message).filter(Boolean).sort()).toEqual([
      expect.stringMatching(/non-finite scores \[0, Infinity\]/), expect.stringMatching(/non-finite scores \[NaN, 0\]/),
    ]);
    backend.rows = [[Number.NaN, Number.NaN]];
    await Promise.all(['n4', 'n5', 'n6'].map((id) => p.process(fakeJob(id))));
    expect(broken).toEqual([]);
    await Promise.all(['n7', 'n8', 'n9'].map((id) => p.process(fakeJob(id))));
    expect(broken).toEqual(['2 batches in a row with only non-finite scores']);
    await p.drain();
  });

  it('retries a whole batch when inference fails, and the next batch succeeds', async () => {
    const backend = new FakeBackend();
    backend.failNext = new RevmodError('INFERENCE_FAILED', 'thread died');
    const { p, published } = pipeline(new FakeStore(photo), backend);
    await expect(p.process(fakeJob('e1'))).rejects.toThrow(/^INFERENCE_FAILED: thread died$/);
    await expect(p.process(fakeJob('e2'))).resolves.toMatchObject({ decision: 'pass' });
    expect(published.map((v) => v.key)).toEqual(['e2.jpg']);
    await p.drain();
  });

  it('fails an invalid payload for good (no retry can fix it)', async () => {
    const { p } = pipeline(new FakeStore(photo), new FakeBackend());
    const job = fakeJob('f1');
    (job.data as { bucket: string }).bucket = 'Bad_Bucket';
    await expect(p.process(job)).rejects.toBeInstanceOf(UnrecoverableError);
  });

  it('reuses a verdict about identical bytes without inference, and remembers scored ones', async () => {
    const backend = new FakeBackend();
    const remembered: Verdict[] = [];
    let cached: Verdict | undefined;
    const known: KnownImages = {
      usesPdq: true,
      exact: async (sha256) => (cached && cached.version?.sha256 === sha256 ? { verdict: cached, source: 'decision' } : undefined),
      similar: async (pdq) => {
        expect(pdq.hashes).toHaveLength(8);
        expect(pdq.hashes.every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true);
        return [];
      },
      remember: async (v) => { remembered.push(v); },
    };
    const { p } = pipeline(new FakeStore(photo), backend, { known });
    const first = await p.process(fakeJob('k1'));
    expect(backend.runs).toBe(1);
    expect(remembered.map((v) => v.id)).toEqual([first.id]);
    cached = { ...first, decision: 'block', reasons: ['reviewer_rejected'] };
    const copy = await p.process(fakeJob('k2'));
    expect(backend.runs).toBe(1);
    expect(copy).toMatchObject({ decision: 'block', reusedFrom: first.id, key: 'k2.jpg', reasons: ['known_decision', 'reviewer_rejected'], batch: null });
    expect(remembered).toHaveLength(1);
    await p.drain();
  });

  it('decides on signals alone when the policy trusts them (known_ok skips the classifier)', async () => {
    const backend = new FakeBackend();
    const known: KnownImages = {
      usesPdq: true, exact: async () => undefined,
      similar: async () => [{ detector: 'known-images', reason: 'known_ok', evidence: { list: 'shop-banners', distance: 3 } }],
      remember: async () => undefined,
    };
    const { p } = pipeline(new FakeStore(photo), backend, { known, skipClassifierFor: ['known_ok'] });
    const v = await p.process(fakeJob('k3'));
    expect(backend.runs).toBe(0);
    expect(v).toMatchObject({ decision: 'pass', scores: null, labels: ['known_ok'], evidence: { known_ok: { list: 'shop-banners', distance: 3 } } });
  });

  it('adds OCR\'s findings to the classifier\'s verdict, with the OCR time', async () => {
    const ocr = new FakeOcr(['加微信 wx_shop8866']);
    const backend = new FakeBackend();
    const { p } = pipeline(new FakeStore(photo), backend, { text: textDetection(ocr) });
    const v = await p.process(fakeJob('t1'));
    expect(ocr.calls).toBe(1);
    expect(backend.runs).toBe(1);
    expect(v).toMatchObject({ decision: 'review', reasons: ['contact_info'], label: 'normal' });
    expect(v.timings.ocrMs).toBeGreaterThanOrEqual(0);
    await p.drain();
  });

  it('retries a job whose OCR failed, and on its last attempt fails closed (review with the code)', async () => {
    const ocr = new FakeOcr([]);
    ocr.failWith = new RevmodError('OCR_FAILED', 'OCR failed: the thread died');
    const { p, published, retries } = pipeline(new FakeStore(photo), new FakeBackend(), { text: textDetection(ocr) });
    await expect(p.process(fakeJob('t2', 0, 2))).rejects.toThrow(/^OCR_FAILED: OCR failed: the thread died$/);
    expect(published).toEqual([]);
    expect(retries).toEqual(['OCR_FAILED']);
    const last = await p.process(fakeJob('t2', 1, 2));
    expect(last).toMatchObject({ decision: 'review', reasons: ['error'], error: { code: 'OCR_FAILED' } });
    expect(published).toHaveLength(1);
    await p.drain();
  });

  it('refuses a job whose id is not the one its payload derives (a forged id)', async () => {
    const { p } = pipeline(new FakeStore(photo), new FakeBackend());
    const job = fakeJob('h1');
    (job as { id: string }).id = jobIdFor('photos', 'someone-else.jpg', { etag: 'x' });
    await expect(p.process(job)).rejects.toThrow(/INVALID_JOB: job id .* is not the id its payload derives/);
  });

  it('gives a corrupt image its error verdict while its batch-mates are scored', async () => {
    const { p, published } = pipeline(new FakeStore(photo), new FakeBackend());
    const [good, broken, other] = await Promise.all([p.process(fakeJob('g1')), p.process(fakeJob('g2-corrupt')), p.process(fakeJob('g3'))]);
    expect([good.decision, other.decision]).toEqual(['pass', 'pass']);
    expect(published.map((v) => v.key).sort()).toEqual(['g1.jpg', 'g2-corrupt.jpg', 'g3.jpg']);
    expect(broken).toMatchObject({ decision: 'review', error: { code: 'IMAGE_CORRUPT' } });
    await p.drain();
  });
});
