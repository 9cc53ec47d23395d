import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultModelPath, generatedModelCard } from '../../tools/model-gen/ensure-model';
import { InferenceEngine } from '../../src/model/inference-engine';
import { gpuDeviceNodes } from '../../src/model/execution-providers';
import { armInferenceCrash, CRASHABLE_THREAD_ENTRY } from '../helpers/inference-crash';
import { checkModelIo, ioContractOf, type ModelIoContract } from '../../src/model/model-io';
import type { Dim } from '../../src/onnx/graph-builder';
import { probeViolateScore } from '../../tools/model-gen/probe-graph';
import { TENSOR_FLOATS_PER_IMAGE, IMAGENET_MEAN, IMAGENET_STD } from '../../src/preprocess/constants';
import { channelMeanModel } from '../helpers/tiny-models';

const probe = defaultModelPath('probe');
const probeContract = ioContractOf(generatedModelCard('probe'));
const resnetContract = ioContractOf(generatedModelCard('resnet18'));
const CUDA_PROVIDER_INSTALLED = existsSync(join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'));

/** One image's tensor of a solid colour, normalized as the pipeline does. */
function solid(rgb: readonly [number, number, number]): Float32Array {
  const view = new Float32Array(TENSOR_FLOATS_PER_IMAGE);
  const plane = TENSOR_FLOATS_PER_IMAGE / 3;
  for (let c = 0; c < 3; c++) view.fill((rgb[c]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!, c * plane, (c + 1) * plane);
  return view;
}

describe('InferenceEngine (onnxruntime in a worker thread)', () => {
  let engine: InferenceEngine | undefined;
  afterEach(async () => { await engine?.close(); engine = undefined; });

  it('runs a batch and returns one pair of logits per image', async () => {
    engine = new InferenceEngine({ modelPath: probe, executionProvider: 'cpu', maxBatchSize: 4, contract: probeContract });
    expect((await engine.start()).provider).toBe('cpu');
    const { logits, inferMs } = await engine.run([solid([255, 0, 0]), solid([0, 0, 255])]);
    expect(logits).toHaveLength(4);
    expect(inferMs).toBeGreaterThan(0);
    const violate = (i: number) => 1 / (1 + Math.exp(logits[2 * i]! - logits[2 * i + 1]!));
    expect(violate(0)).toBeCloseTo(probeViolateScore([255, 0, 0]), 3);
    expect(violate(1)).toBeCloseTo(probeViolateScore([0, 0, 255]), 3);
  });

  // The CUDA provider library ships only with ONNXRUNTIME_NODE_INSTALL=cuda12 (the GPU image); CI and
  // this repository's default install have the CPU build. Each case runs on the build it is about.
  const withoutCuda = CUDA_PROVIDER_INSTALLED ? it.skip : it;
  const withCuda = CUDA_PROVIDER_INSTALLED ? it : it.skip;

  // Without a GPU device node, auto does not try WebGPU (it would find only a software Vulkan device).
  const withoutCudaOrGpu = !CUDA_PROVIDER_INSTALLED && gpuDeviceNodes().length === 0 ? it : it.skip;
  withoutCudaOrGpu('falls back to CPU under `auto` and says why at each step (CPU build of onnxruntime-node, no GPU device node)', async () => {
    engine = new InferenceEngine({ modelPath: probe, executionProvider: 'auto', maxBatchSize: 1, contract: probeContract });
    const reasons: string[] = [];
    engine.on('fallback', (reason: string) => reasons.push(reason));
    const info = await engine.start();
    expect(info.provider).toBe('cpu');
    expect(info.fallbacks.map((f) => f.provider)).toEqual(['cuda', 'webgpu']);
    expect(info.fallbackReason).toMatch(/^cuda: onnxruntime-node was installed without its CUDA provider.*; webgpu: no GPU device node/);
    expect(reasons).toEqual(info.fallbacks.map((f) => f.reason));
    expect(info.warmUpMs).toEqual({}); // CPU sessions are not warmed up
  });

  withoutCuda('refuses to start on `cuda` with MODEL_INVALID (CPU build of onnxruntime-node)', async () => {
    engine = new InferenceEngine({ modelPath: probe, executionProvider: 'cuda', maxBatchSize: 1, contract: probeContract });
    await expect(engine.start()).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(/CUDA execution provider requested but unavailable/) });
  });

  withCuda('runs a batch on `cuda` (skipped here: needs onnxruntime-node installed with its CUDA provider and a GPU)', async () => {
    engine = new InferenceEngine({ modelPath: probe, executionProvider: 'cuda', maxBatchSize: 2, contract: probeContract });
    expect((await engine.start()).provider).toBe('cuda');
    const { logits } = await engine.run([solid([255, 0, 0])]);
    expect(1 / (1 + Math.exp(logits[0]! - logits[1]!))).toBeCloseTo(probeViolateScore([255, 0, 0]), 3);
  });

  it('keeps batches sent back to back apart: each gets its own images\' scores', async () => {
    engine = new InferenceEngine({ modelPath: probe, executionProvider: 'cpu', maxBatchSize: 2, contract: probeContract });
    await engine.start();
    const colours: Array<readonly [number, number, number]> = [[255, 0, 0], [0, 0, 255], [200, 100, 0], [0, 60, 255]];
    // Posted together, the messages reach the thread before its first run starts.
    const results = await Promise.all(colours.map((c) => engine!.run([solid(c)])));
    results.forEach(({ logits }, i) => {
      expect(1 / (1 + Math.exp(logits[0]! - logits[1]!))).toBeCloseTo(probeViolateScore(colours[i]!), 3);
    });
  });

  it('rejects a file that is not an ONNX model, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'revmod-bad-model-'));
    try {
      const path = join(dir, 'not-a-model.onnx');
      writeFileSync(path, 'this is not protobuf');
      engine = new InferenceEngine({ modelPath: path, executionProvider: 'cpu', maxBatchSize: 1, contract: probeContract });
      await expect(engine.start()).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining('not-a-model.onnx') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the batch in flight when the thread dies, then serves the next batch from a new thread', async () => {
    const thread = armInferenceCrash();
    engine = new InferenceEngine({ modelPath: defaultModelPath('resnet18'), executionProvider: 'cpu', intraOpThreads: 1, maxBatchSize: 8, contract: resnetContract, threadEntryFile: CRASHABLE_THREAD_ENTRY });
    await engine.start();
    const restarted = new Promise((r) => engine!.once('restart', r));
    const running = engine.run(Array.from({ length: 8 }, () => solid([10, 10, 10])));
    thread.crash();
    await expect(running).rejects.toMatchObject({ code: 'INFERENCE_FAILED', retryable: true });
    await restarted;
    expect(engine.restartCount).toBe(1);
    const { logits } = await engine.run([solid([10, 10, 10])]);
    expect(logits).toHaveLength(2);
  });
});

describe('InferenceEngine run deadline', () => {
  let engine: InferenceEngine | undefined;
  afterEach(async () => { await engine?.close(); engine = undefined; });

  it('abandons a run past its deadline: the batch fails (retryable), a fresh thread serves the next one, the late thread is terminated once it returns', async () => {
    const thread = armInferenceCrash();
    engine = new InferenceEngine({ modelPath: probe, executionProvider: 'cpu', maxBatchSize: 2, contract: probeContract, runTimeoutMs: 500, threadEntryFile: CRASHABLE_THREAD_ENTRY });
    await engine.start();
    const restarts: string[] = [];
    engine.on('restart', (r: string) => restarts.push(r));
    thread.stall(2_000);
    const t0 = Date.now();
    await expect(engine.run([solid([200, 10, 10])])).rejects.toMatchObject({ code: 'INFERENCE_FAILED', message: expect.stringMatching(/exceeded 500 ms: its thread was abandoned/) });
    expect(Date.now() - t0).toBeLessThan(1_900);
    expect(engine.abandonedThreads).toBe(1);
    const { logits } = await engine.run([solid([200, 10, 10])]);
    expect(logits).toHaveLength(2);
    expect(restarts).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(engine.abandonedThreads).toBe(0); // its late run returned, and it was terminated
  });

  it('emits fatal when more threads are stuck than allowed: the process should restart', async () => {
    const thread = armInferenceCrash();
    engine = new InferenceEngine({ modelPath: probe, executionProvider: 'cpu', maxBatchSize: 1, contract: probeContract, runTimeoutMs: 300, maxAbandonedThreads: 0, threadEntryFile: CRASHABLE_THREAD_ENTRY });
    await engine.start();
    const fatal = new Promise<string>((resolve) => engine!.once('fatal', resolve));
    thread.stall(1_500);
    await expect(engine.run([solid([1, 2, 3])])).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
    await expect(fatal).resolves.toMatch(/1 inference threads are stuck past their deadline/);
    await new Promise((r) => setTimeout(r, 1_600)); // let the stuck thread return before close()
  });
});

describe('checkModelIo (the ONNX file against its card)', () => {
  const input = { name: 'input', isTensor: true, type: 'float32', shape: ['N', 3, 224, 224] };
  const output = { name: 'logits', isTensor: true, type: 'float32', shape: ['N', 2] };
  const contract: ModelIoContract = { inputName: 'input', outputName: 'logits', cropSize: 224, classCount: 2 };
  it('accepts the contract and reports the names', () => {
    expect(checkModelIo([input], [output], contract, 32)).toEqual({ inputName: 'input', outputName: 'logits', maxBatch: Infinity });
  });
  it('lists every problem', () => {
    expect(() => checkModelIo([{ ...input, shape: ['N', 3, 299, 299] }], [{ ...output, shape: ['N', 1000] }], contract, 1))
      .toThrow('input must be [N,3,224,224] (card preprocessing.cropSize 224), found input: float32[N,3,299,299]; ' +
        'output must be [N,2], one score per card class, found logits: float32[N,1000]');
    expect(() => checkModelIo([input, input], [output], contract, 1)).toThrow(/expected exactly 1 input, found 2/);
    expect(() => checkModelIo([{ ...input, type: 'uint8' }], [output], contract, 1)).toThrow(/input input must be float32, found uint8/);
  });
  it('follows the card\'s crop size and class count', () => {
    const card = { ...contract, cropSize: 160, classCount: 5 };
    expect(checkModelIo([{ ...input, shape: ['N', 3, 160, 160] }], [{ ...output, shape: ['N', 5] }], card, 8).maxBatch).toBe(Infinity);
    expect(() => checkModelIo([input], [output], card, 8)).toThrow(/input must be \[N,3,160,160\].*output must be \[N,5\]/);
  });
  it('refuses names other than the card\'s, listing the model\'s', () => {
    expect(() => checkModelIo([{ ...input, name: 'pixel_values' }], [output, { ...output, name: 'features' }], contract, 1))
      .toThrow("the card's input.name 'input' is not an input of the model (inputs: 'pixel_values')");
    // With several outputs, the card's is the one read.
    expect(checkModelIo([input], [{ ...output, name: 'features', shape: ['N', 512] }, output], contract, 1).outputName).toBe('logits');
    expect(() => checkModelIo([input], [{ ...output, name: 'probs' }], contract, 1))
      .toThrow("the card's output.name 'logits' is not an output of the model (outputs: 'probs')");
  });
  it('refuses a fixed batch axis smaller than batch.size, naming both', () => {
    const fixed = { ...input, shape: [1, 3, 224, 224] };
    expect(() => checkModelIo([fixed], [{ ...output, shape: [1, 2] }], contract, 8))
      .toThrow('input input has a fixed batch axis of 1, but batch.size is 8: set batch.size to at most 1, or export the model with a dynamic batch axis');
    expect(checkModelIo([fixed], [{ ...output, shape: [1, 2] }], contract, 1).maxBatch).toBe(1);
  });
  it('a number in the card\'s input.shape fixes the batch axis too, and must agree with the model\'s', () => {
    const card = { ...contract, fixedBatch: 4 };
    expect(checkModelIo([input], [output], card, 4).maxBatch).toBe(4);
    expect(() => checkModelIo([input], [output], card, 8))
      .toThrow("the card's input.shape fixes the batch axis at 4, but batch.size is 8: set batch.size to at most 4");
    expect(() => checkModelIo([{ ...input, shape: [2, 3, 224, 224] }], [output], card, 1))
      .toThrow("the card's input.shape fixes the batch axis at 4, the model's is 2");
    expect(ioContractOf(generatedModelCard('probe')).fixedBatch).toBeUndefined();
  });
});

describe('InferenceEngine follows the card: crop size, class count, fixed batch axis', () => {
  const CROP = 32;
  const CLASSES = 3;
  const contract: ModelIoContract = { inputName: 'pixels', outputName: 'scores', cropSize: CROP, classCount: CLASSES };
  const floats = 3 * CROP * CROP;
  let dir: string;
  let engine: InferenceEngine | undefined;
  const modelFile = (name: string, batch: Dim) => {
    const path = join(dir, name);
    writeFileSync(path, channelMeanModel(batch, CROP, CLASSES));
    return path;
  };
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'revmod-contract-model-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => { await engine?.close(); engine = undefined; });

  /** Runs images filled with `values` (one each) and returns the rows. */
  async function run(e: InferenceEngine, values: readonly number[]): Promise<number[][]> {
    const { logits } = await e.run(values.map((v) => new Float32Array(floats).fill(v)));
    expect(logits).toHaveLength(values.length * CLASSES);
    return values.map((_, i) => Array.from(logits.subarray(i * CLASSES, (i + 1) * CLASSES)));
  }

  it('a dynamic batch axis: images of 3 × 32² floats, [count, 3] back', async () => {
    engine = new InferenceEngine({ modelPath: modelFile('dynamic.onnx', 'N'), executionProvider: 'cpu', maxBatchSize: 4, contract });
    expect((await engine.start()).maxBatch).toBe(Infinity);
    const rows = await run(engine, [0.5, -1, 2]);
    rows.forEach((row, i) => {
      const v = [0.5, -1, 2][i]!;
      row.forEach((x, k) => expect(x).toBeCloseTo((k + 1) * v, 5));
    });
  });

  it('a fixed batch axis larger than batch.size is refused at start with MODEL_INVALID naming both numbers', async () => {
    engine = new InferenceEngine({ modelPath: modelFile('fixed4.onnx', 4), executionProvider: 'cpu', maxBatchSize: 8, contract });
    await expect(engine.start()).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringMatching(/fixed4\.onnx: input pixels has a fixed batch axis of 4, but batch\.size is 8/),
    });
  });

  it.each([4, 2])('a fixed batch axis of 4 with batch.size %d: smaller batches are padded, results for the real images only', async (size) => {
    engine = new InferenceEngine({ modelPath: modelFile(`fixed4-${size}.onnx`, 4), executionProvider: 'cpu', maxBatchSize: size, contract });
    expect((await engine.start()).maxBatch).toBe(4);
    for (const values of [[3], [1, -2], size === 4 ? [1, 2, 3, 4] : [7, 8]]) {
      const rows = await run(engine, values);
      rows.forEach((row, i) => row.forEach((x, k) => expect(x).toBeCloseTo((k + 1) * values[i]!, 5)));
    }
  });

  it('a model that does not match its card is refused at start, naming the field', async () => {
    const path = modelFile('dynamic-for-mismatch.onnx', 'N');
    for (const [wrong, message] of [
      [{ ...contract, cropSize: 64 }, /input must be \[N,3,64,64\] \(card preprocessing\.cropSize 64\)/],
      [{ ...contract, classCount: 2 }, /output must be \[N,2\], one score per card class/],
      [{ ...contract, inputName: 'input' }, /the card's input\.name 'input' is not an input of the model \(inputs: 'pixels'\)/],
    ] as const) {
      const e = new InferenceEngine({ modelPath: path, executionProvider: 'cpu', maxBatchSize: 1, contract: wrong });
      try {
        await expect(e.start()).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(message) });
      } finally {
        await e.close();
      }
    }
  });
});
