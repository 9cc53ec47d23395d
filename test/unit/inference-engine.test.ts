import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { InferenceEngine } from '../../src/model/inference-engine';
import { armInferenceCrash, CRASHABLE_THREAD_ENTRY } from '../helpers/inference-crash';
import { checkModelIo } from '../../src/model/model-io';
import { probeViolateScore } from '../../tools/model-gen/probe-graph';
import { TENSOR_FLOATS_PER_IMAGE, IMAGENET_MEAN, IMAGENET_STD } from '../../src/preprocess/constants';

const probe = defaultModelPath('probe');
const CUDA_PROVIDER_INSTALLED = existsSync(join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'));

/** Fills image i of a batch tensor with a solid colour, normalized as the pipeline does. */
function fillSolid(view: Float32Array, i: number, rgb: readonly [number, number, number]): void {
  const plane = TENSOR_FLOATS_PER_IMAGE / 3;
  for (let c = 0; c < 3; c++) {
    view.fill((rgb[c]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!, i * TENSOR_FLOATS_PER_IMAGE + c * plane, i * TENSOR_FLOATS_PER_IMAGE + (c + 1) * plane);
  }
}

describe('InferenceEngine (onnxruntime in a worker thread)', () => {
  let engine: InferenceEngine | undefined;
  afterEach(async () => { await engine?.close(); engine = undefined; });

  it('runs a batch and returns one pair of logits per image', async () => {
    engine = new InferenceEngine({ modelPath: probe, executionProvider: 'cpu', maxBatchSize: 4 });
    expect((await engine.start()).provider).toBe('cpu');
    const buf = await engine.acquire();
    fillSolid(buf.view, 0, [255, 0, 0]);
    fillSolid(buf.view, 1, [0, 0, 255]);
    const { logits, inferMs } = await engine.run(buf, 2);
    engine.release(buf);
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

  withoutCuda('falls back to CPU under `auto` and says why (CPU build of onnxruntime-node)', async () => {
    engine = new InferenceEngine({ modelPath: probe, executionProvider: 'auto', maxBatchSize: 1 });
    const info = await engine.start();
    expect(info.provider).toBe('cpu');
    expect(info.fallbackReason).toMatch(/installed without its CUDA provider/);
  });

  withoutCuda('refuses to start on `cuda` with MODEL_INVALID (CPU build of onnxruntime-node)', async () => {
    engine = new InferenceEngine({ modelPath: probe, executionProvider: 'cuda', maxBatchSize: 1 });
    await expect(engine.start()).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(/CUDA execution provider requested but unavailable/) });
  });

  withCuda('runs a batch on `cuda` (skipped here: needs onnxruntime-node installed with its CUDA provider and a GPU)', async () => {
    engine = new InferenceEngine({ modelPath: probe, executionProvider: 'cuda', maxBatchSize: 2 });
    expect((await engine.start()).provider).toBe('cuda');
    const buf = await engine.acquire();
    fillSolid(buf.view, 0, [255, 0, 0]);
    const { logits } = await engine.run(buf, 1);
    engine.release(buf);
    expect(1 / (1 + Math.exp(logits[0]! - logits[1]!))).toBeCloseTo(probeViolateScore([255, 0, 0]), 3);
  });

  it('rejects a file that is not an ONNX model, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'revmod-bad-model-'));
    try {
      const path = join(dir, 'not-a-model.onnx');
      writeFileSync(path, 'this is not protobuf');
      engine = new InferenceEngine({ modelPath: path, executionProvider: 'cpu', maxBatchSize: 1 });
      await expect(engine.start()).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining('not-a-model.onnx') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the batch in flight when the thread dies, then serves the next batch from a new thread', async () => {
    const thread = armInferenceCrash();
    engine = new InferenceEngine({ modelPath: defaultModelPath('resnet18'), executionProvider: 'cpu', intraOpThreads: 1, maxBatchSize: 8, threadEntryFile: CRASHABLE_THREAD_ENTRY });
    await engine.start();
    const restarted = new Promise((r) => engine!.once('restart', r));
    const buf = await engine.acquire();
    const running = engine.run(buf, 8);
    thread.crash();
    await expect(running).rejects.toMatchObject({ code: 'INFERENCE_FAILED', retryable: true });
    engine.release(buf);
    await restarted;
    expect(engine.restartCount).toBe(1);
    const again = await engine.acquire();
    const { logits } = await engine.run(again, 1);
    engine.release(again);
    expect(logits).toHaveLength(2);
  });
});

describe('checkModelIo (model contract)', () => {
  const input = { name: 'input', isTensor: true, type: 'float32', shape: ['N', 3, 224, 224] };
  const output = { name: 'logits', isTensor: true, type: 'float32', shape: ['N', 2] };
  it('accepts the contract and reports the names', () => {
    expect(checkModelIo([input], [output])).toEqual({ inputName: 'input', outputName: 'logits', maxBatch: Infinity });
  });
  it('lists every problem', () => {
    expect(() => checkModelIo([{ ...input, shape: ['N', 3, 299, 299] }], [{ ...output, shape: ['N', 1000] }]))
      .toThrow('input must be [N,3,224,224], found input: float32[N,3,299,299]; output must be [N,2] logits over [normal, violate], found logits: float32[N,1000]');
    expect(() => checkModelIo([input, input], [output])).toThrow(/expected exactly 1 input, found 2/);
    expect(() => checkModelIo([{ ...input, type: 'uint8' }], [output])).toThrow(/input input must be float32, found uint8/);
  });
});
