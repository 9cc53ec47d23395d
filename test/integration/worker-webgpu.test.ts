import sharp from 'sharp';
import { ModerationClient, type Verdict } from '@revmod/client';
import { InferenceEngine } from '../../src/model/inference-engine';
import { ioContractOf } from '../../src/model/model-io';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/ops/metrics';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { S3Server } from '../../tools/dev/s3-server';
import { defaultModelPath, generatedModelCard } from '../../tools/model-gen/ensure-model';
import { probeViolateScore, type Rgb } from '../../tools/model-gen/probe-graph';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../src/preprocess/constants';
import { QueueInspector, waitUntil } from '../helpers/fault-harness';
import { armGpuFaults, GPU_FAULT_THREAD_ENTRY } from '../helpers/gpu-faults';
import { armInferenceCrash } from '../helpers/inference-crash';
import { parsePromText, samples, total, type PromSample } from '../helpers/prom-text';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';
import { webgpuAdapterProblem } from '../helpers/webgpu-adapter';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';

const BUCKET = 'reviews-webgpu';
const BATCH_SIZE = 4;
const BLUE: Rgb = [20, 20, 230]; // probe: violate ≈ 0.01 → pass
const RED: Rgb = [230, 20, 20]; // probe: violate ≈ 0.99 → block (threshold 0.95)

const problem = webgpuAdapterProblem();
if (problem !== undefined) console.warn(`worker-webgpu: the end-to-end cases are skipped, ${problem}`);
const describeWebGpu = problem === undefined ? describe : describe.skip;

async function solidJpeg(rgb: Rgb): Promise<Buffer> {
  return sharp({ create: { width: 160, height: 120, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).jpeg({ quality: 95 }).toBuffer();
}

/** The prom-client text of `metrics`, parsed. */
async function scrapeRegistry(metrics: WorkerMetrics): Promise<PromSample[]> {
  return parsePromText(await metrics.registry.metrics());
}

/**
 * A worker on the WebGPU provider (Mesa's software Vulkan in CI), against real Redis and s3rver,
 * with the probe model (cheap on software Vulkan). The inference thread is the test entry that can
 * crash (as a native crash would) and fail on the GPU: a lost device, an adapter that is gone.
 */
describeWebGpu('a worker on webgpu, end to end', () => {
  const prefix = uniquePrefix('webgpu');
  let s3: S3Server;
  let worker: ModerationWorker;
  let client: ModerationClient;
  let collector: VerdictCollector;
  let inspector: QueueInspector;
  let metrics: WorkerMetrics;
  const restarts: string[] = [];
  const retries: string[] = [];
  const crash = armInferenceCrash();
  const gpu = armGpuFaults();
  let round = 0;
  const submitted: string[] = [];

  /** Submits `blue` + `red` fresh images and waits for their verdicts. */
  async function moderate(blue: number, red: number, timeoutMs = 120_000): Promise<Verdict[]> {
    round += 1;
    const keys = [...Array.from({ length: blue }, (_, i) => `r${round}/blue-${i}.jpg`), ...Array.from({ length: red }, (_, i) => `r${round}/red-${i}.jpg`)];
    const [blueJpeg, redJpeg] = await Promise.all([solidJpeg(BLUE), solidJpeg(RED)]);
    await Promise.all(keys.map((k) => s3.put(BUCKET, k, k.includes('blue') ? blueJpeg : redJpeg)));
    const before = collector.verdicts.length;
    const jobIds = (await client.submitBulk(keys.map((key) => ({ bucket: BUCKET, key })))).map((r) => r.jobId);
    await collector.waitFor(before + keys.length, timeoutMs);
    submitted.push(...jobIds);
    // Every job so far has exactly one verdict on the results queue, and no other verdict is there.
    expect(await inspector.ledger(submitted, collector.verdicts)).toEqual({ missing: [], unexpected: [], duplicateResultJobs: [], duplicateDeliveries: [], resultCount: submitted.length });
    return collector.verdicts.filter((v) => jobIds.includes(v.jobId));
  }

  const decisionsByColour = (verdicts: readonly Verdict[]) => ({
    blue: [...new Set(verdicts.filter((v) => v.key.includes('blue')).map((v) => v.decision))],
    red: [...new Set(verdicts.filter((v) => v.key.includes('red')).map((v) => v.decision))],
  });

  beforeAll(async () => {
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    const config = testConfig({
      redis: { prefix },
      s3: s3.s3Config,
      batch: { size: BATCH_SIZE, maxWaitMs: 20 },
      model: { path: defaultModelPath('probe'), executionProvider: 'webgpu', intraOpThreads: 1 },
      policy: { blockThreshold: 0.95 },
      jobs: { attempts: 4, backoffMs: 100 }, worker: { concurrency: 8 },
    });
    metrics = createWorkerMetrics({ defaultMetrics: false });
    worker = await startTestWorker(config, { ...metrics.observer, onRetry: (code) => { retries.push(code); metrics.observer.onRetry?.(code); } }, GPU_FAULT_THREAD_ENTRY);
    metrics.attachWorker(worker);
    worker.inferenceEngine!.on('restart', (reason: string) => restarts.push(reason));
    collector = new VerdictCollector(config);
    client = new ModerationClient({ config });
    inspector = new QueueInspector(config);
  }, 120_000);

  afterAll(async () => {
    gpu.reset();
    await client?.close();
    await collector?.close();
    await worker?.close(10_000);
    await inspector?.close();
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('moderates on webgpu: verdicts and metrics say so, and the probe tells blue from red', async () => {
    expect(worker.status().executionProvider).toBe('webgpu');
    expect(worker.inferenceEngine!.info?.warmUpMs[1]).toBeGreaterThan(0);
    const verdicts = await moderate(4, 4);
    expect(verdicts.every((v) => v.error === undefined && v.model.executionProvider === 'webgpu')).toBe(true);
    expect(decisionsByColour(verdicts)).toEqual({ blue: ['pass'], red: ['block'] });
    const m = await scrapeRegistry(metrics);
    expect(samples(m, 'revmod_model_info', { execution_provider: 'webgpu' })).toHaveLength(1);
  });

  it('the inference thread dies: a new one starts on webgpu and serves the next batches', async () => {
    const engine = worker.inferenceEngine!;
    const before = engine.restartCount;
    crash.crash();
    await waitUntil('the thread to be replaced', () => (engine.restartCount > before ? true : undefined), 30_000);
    const verdicts = await moderate(2, 2);
    expect(restarts.at(-1)).toMatch(/inference thread exited with code 70/);
    expect(verdicts.every((v) => v.error === undefined && v.model.executionProvider === 'webgpu')).toBe(true);
    expect(decisionsByColour(verdicts)).toEqual({ blue: ['pass'], red: ['block'] });
  });

  it('the device is lost in a run: the batch is retried, the engine recreated on webgpu', async () => {
    const engine = worker.inferenceEngine!;
    const before = engine.restartCount;
    const retriesBefore = retries.length;
    gpu.loseDevice();
    const verdicts = await moderate(2, 2);
    expect(engine.restartCount).toBe(before + 1);
    expect(restarts.at(-1)).toMatch(/webgpu device lost: WebGPU device lost \(2\): Device was destroyed/);
    expect(retries.slice(retriesBefore)).toContain('INFERENCE_FAILED');
    expect(verdicts.filter((v) => v.attempt > 1).length).toBeGreaterThan(0);
    expect(verdicts.every((v) => v.error === undefined && v.model.executionProvider === 'webgpu')).toBe(true);
    expect(worker.status().executionProvider).toBe('webgpu');
  });

  it('the device is lost and the adapter gone: the batch is retried on CPU, with the reason counted', async () => {
    const engine = worker.inferenceEngine!;
    gpu.loseDevice();
    gpu.removeAdapter();
    const verdicts = await moderate(2, 2);
    expect(engine.info).toMatchObject({ provider: 'cpu', fallbacks: [{ provider: 'webgpu', reason: 'Failed to get a WebGPU adapter: No supported adapters' }] });
    expect(verdicts.every((v) => v.error === undefined && v.model.executionProvider === 'cpu')).toBe(true);
    expect(decisionsByColour(verdicts)).toEqual({ blue: ['pass'], red: ['block'] });
    expect(worker.status()).toMatchObject({ ready: true, executionProvider: 'cpu', executionProviderFallbacks: { webgpu: 1 } });
    const m = await scrapeRegistry(metrics);
    expect(samples(m, 'revmod_model_info', { execution_provider: 'cpu' })).toHaveLength(1);
    expect(total(m, 'revmod_execution_provider_fallbacks_total', { provider: 'webgpu' })).toBe(1);
    expect(total(m, 'revmod_inference_thread_restarts_total')).toBe(engine.restartCount);
  });
});

describeWebGpu('a WebGPU session that fails its warm-up', () => {
  const gpu = armGpuFaults();
  afterAll(() => gpu.reset());

  it('is released before the next provider is tried; nothing half-made stays behind', async () => {
    const engine = new InferenceEngine({
      modelPath: defaultModelPath('probe'), executionProvider: 'webgpu', maxBatchSize: 2, contract: ioContractOf(generatedModelCard('probe')), threadEntryFile: GPU_FAULT_THREAD_ENTRY,
    });
    try {
      expect((await engine.start()).provider).toBe('webgpu');
      const earlier = gpu.sessions().created.length; // this process's other tests use the same ledger
      const restarted = new Promise<string>((resolve) => engine.once('restart', resolve));
      gpu.loseDevice(2); // the run, then the new thread's warm-up
      await expect(engine.run([new Float32Array(3 * 224 * 224)])).rejects.toMatchObject({ code: 'INFERENCE_FAILED', retryable: true, message: expect.stringMatching(/device lost/) });
      await restarted;
      const info = await engine.start();
      expect(info).toMatchObject({ provider: 'cpu', fallbacks: [{ provider: 'webgpu', reason: 'WebGPU device lost (2): Device was destroyed.' }] });
      const sessions = gpu.sessions();
      const created = sessions.created.slice(earlier - 1);
      // The first thread's session went with its thread (terminated); the second's was released by the thread itself.
      expect(created).toHaveLength(2);
      expect(sessions.released.filter((id) => created.includes(id))).toEqual([created[1]]);
      expect((await engine.run([new Float32Array(3 * 224 * 224)])).provider).toBe('cpu');
    } finally {
      await engine.close();
    }
  }, 60_000);
});

describeWebGpu('batches padded to the warmed-up sizes (REVMOD_GPU_PAD_BATCHES)', () => {
  it('warms up the sizes asked and the largest batch, and returns only the real images\' rows', async () => {
    const engine = new InferenceEngine({
      modelPath: defaultModelPath('probe'), executionProvider: 'webgpu', maxBatchSize: 4, warmUpSizes: [2], padToWarmUpSizes: true, contract: ioContractOf(generatedModelCard('probe')),
    });
    try {
      expect(Object.keys((await engine.start()).warmUpMs)).toEqual(['2', '4']);
      const colours: Rgb[] = [RED, BLUE, [120, 120, 120]];
      const tensorOf = (rgb: Rgb) => {
        const t = new Float32Array(3 * 224 * 224);
        for (let c = 0; c < 3; c++) t.fill((rgb[c]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!, c * 224 * 224, (c + 1) * 224 * 224);
        return t;
      };
      const violate = (logits: Float32Array, i: number) => 1 / (1 + Math.exp(logits[2 * i]! - logits[2 * i + 1]!));
      const one = await engine.run([tensorOf(RED)]); // runs as 2
      expect(one.logits).toHaveLength(2);
      expect(violate(one.logits, 0)).toBeCloseTo(probeViolateScore(RED), 3);
      const three = await engine.run(colours.map(tensorOf)); // runs as 4
      expect(three.logits).toHaveLength(6);
      colours.forEach((c, i) => expect(violate(three.logits, i)).toBeCloseTo(probeViolateScore(c), 3));
    } finally {
      await engine.close();
    }
  }, 60_000);
});

describe('webgpu named but no adapter', () => {
  const gpu = armGpuFaults();
  afterAll(() => gpu.reset());

  it('refuses to start with MODEL_INVALID and Dawn\'s reason (a GPU box misconfigured must not start quietly on CPU)', async () => {
    gpu.removeAdapter();
    const before = gpu.sessions().created;
    const engine = new InferenceEngine({
      modelPath: defaultModelPath('probe'), executionProvider: 'webgpu', maxBatchSize: 1, contract: ioContractOf(generatedModelCard('probe')), threadEntryFile: GPU_FAULT_THREAD_ENTRY,
    });
    try {
      await expect(engine.start()).rejects.toMatchObject({
        code: 'MODEL_INVALID', message: expect.stringContaining('WebGPU execution provider requested but unavailable: webgpu: Failed to get a WebGPU adapter: No supported adapters'),
      });
      expect(gpu.sessions().created.filter((id) => !before.includes(id))).toEqual([]);
    } finally {
      await engine.close();
    }
  }, 60_000);
});
