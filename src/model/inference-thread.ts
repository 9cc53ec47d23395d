// Inference thread entry: owns the one onnxruntime session of the process. session.run() blocks
// the thread that calls it for the whole batch, so it must not be the event loop's thread.
import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { CHANNELS, tensorFloatsPerImage } from '../preprocess/constants';
import type { FromThread, InferenceThreadData, ToThread } from './inference-protocol';
import { checkModelIo } from './model-io';

const data = workerData as InferenceThreadData;
const port = parentPort!;
const send = (msg: FromThread, transfer?: ArrayBuffer[]) => port.postMessage(msg, transfer);

/** The CUDA provider library, present only when onnxruntime-node was installed with ONNXRUNTIME_NODE_INSTALL=cuda12. */
function cudaProviderMissing(): string | undefined {
  const root = dirname(require.resolve('onnxruntime-node/package.json'));
  const lib = join(root, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
  return existsSync(lib) ? undefined : `onnxruntime-node was installed without its CUDA provider (${lib} is missing; install with ONNXRUNTIME_NODE_INSTALL=cuda12)`;
}

async function createSession(): Promise<{ session: ort.InferenceSession; provider: 'cuda' | 'cpu'; fallbackReason?: string }> {
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    ...(data.intraOpThreads > 0 ? { intraOpNumThreads: data.intraOpThreads } : {}),
    // No busy-waiting between parallel sections: the intra-op threads share the cores with the decoding
    // threads, and spinning burns the time those need (measured on 2 cores: −15–20 % inference CPU per
    // image end to end, and 2× faster batch-1 inference when another thread is busy).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  if (data.executionProvider === 'cpu') {
    return { session: await ort.InferenceSession.create(data.modelPath, { ...base, executionProviders: ['cpu'] }), provider: 'cpu' };
  }
  const missing = cudaProviderMissing();
  if (missing !== undefined) {
    if (data.executionProvider === 'cuda') throw new Error(`CUDA execution provider requested but unavailable: ${missing}`);
    return { session: await ort.InferenceSession.create(data.modelPath, { ...base, executionProviders: ['cpu'] }), provider: 'cpu', fallbackReason: missing };
  }
  try {
    // ORT does not fall back by itself: with CUDA libraries missing, create() throws.
    const session = await ort.InferenceSession.create(data.modelPath, { ...base, executionProviders: ['cuda'] });
    return { session, provider: 'cuda' };
  } catch (err) {
    if (data.executionProvider === 'cuda') throw new Error(`CUDA execution provider requested but unavailable: ${(err as Error).message}`);
    const fallbackReason = (err as Error).message.split('\n')[0] ?? 'unknown';
    const session = await ort.InferenceSession.create(data.modelPath, { ...base, executionProviders: ['cpu'] });
    return { session, provider: 'cpu', fallbackReason };
  }
}

async function main(): Promise<void> {
  let session: ort.InferenceSession;
  let io: ReturnType<typeof checkModelIo>;
  let provider: 'cuda' | 'cpu';
  let fallbackReason: string | undefined;
  try {
    ({ session, provider, fallbackReason } = await createSession());
    io = checkModelIo(session.inputMetadata, session.outputMetadata, data.contract, data.batchSize);
  } catch (err) {
    send({ type: 'init-error', message: (err as Error).message });
    return;
  }
  const { cropSize, classCount } = data.contract;
  const floatsPerImage = tensorFloatsPerImage(cropSize);
  const fixedBatch = Number.isFinite(io.maxBatch) ? io.maxBatch : undefined;
  // One input tensor for the thread's life, sized for the largest run; a fixed batch axis is padded with zeros.
  const capacity = fixedBatch ?? data.batchSize;
  const input = new Float32Array(capacity * floatsPerImage);
  port.on('message', (msg: ToThread) => {
    try {
      const t0 = performance.now();
      const count = msg.images.length;
      if (count < 1 || count > capacity) throw new Error(`a batch of ${count} images, expected 1–${capacity}`);
      msg.images.forEach((buffer, i) => {
        const image = new Float32Array(buffer);
        if (image.length !== floatsPerImage) throw new Error(`image ${i} has ${image.length} floats, expected ${floatsPerImage}`);
        input.set(image, i * floatsPerImage);
      });
      const images = fixedBatch ?? count;
      if (images > count) input.fill(0, count * floatsPerImage, images * floatsPerImage);
      const tensor = new ort.Tensor('float32', input.subarray(0, images * floatsPerImage), [images, CHANNELS, cropSize, cropSize]);
      // run() is synchronous underneath; awaiting here only resolves its wrapper.
      void session.run({ [io.inputName]: tensor }).then((out) => {
        const logits = out[io.outputName];
        if (logits === undefined || logits.dims.length !== 2 || logits.dims[0] !== images || logits.dims[1] !== classCount) {
          throw new Error(`model output ${io.outputName} has dims [${logits?.dims.join(',')}], expected [${images},${classCount}]`);
        }
        const copy = (logits.data as Float32Array).slice(0, count * classCount);
        send({ type: 'result', id: msg.id, logits: copy, inferMs: performance.now() - t0 }, [copy.buffer as ArrayBuffer]);
      }).catch((err: Error) => send({ type: 'run-error', id: msg.id, message: err.message }));
    } catch (err) {
      send({ type: 'run-error', id: msg.id, message: (err as Error).message });
    }
  });
  send({ type: 'ready', provider, inputName: io.inputName, outputName: io.outputName, maxBatch: io.maxBatch, ...(fallbackReason ? { fallbackReason } : {}) });
}

void main();
