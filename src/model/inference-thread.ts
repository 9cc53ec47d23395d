// Inference thread entry: owns the one onnxruntime session of the process. session.run() blocks
// the thread that calls it for the whole batch, so it must not be the event loop's thread.
import * as ort from 'onnxruntime-node';
import { parentPort, workerData } from 'node:worker_threads';
import { CHANNELS, tensorFloatsPerImage } from '../preprocess/constants';
import { describeAttempts, isDeviceLoss, providerChain, providerErrorReason, providerPreflight, sessionOptionsFor, type ExecutionProviderName, type ProviderAttempt } from './execution-providers';
import type { FromThread, InferenceThreadData, ToThread } from './inference-protocol';
import { checkModelIo } from './model-io';

const data = workerData as InferenceThreadData;
const port = parentPort!;
const send = (msg: FromThread, transfer?: ArrayBuffer[]) => port.postMessage(msg, transfer);
const PROVIDER_TITLE: Record<ExecutionProviderName, string> = { cuda: 'CUDA', webgpu: 'WebGPU', cpu: 'CPU' };

/** A model error: the file or its card is wrong, so no other provider would do better. */
class ModelError extends Error {}

interface Loaded {
  readonly session: ort.InferenceSession;
  readonly io: ReturnType<typeof checkModelIo>;
  readonly provider: ExecutionProviderName;
  readonly fallbacks: ProviderAttempt[];
  readonly warmUpMs: Record<number, number>;
}

/** Runs one batch of `size` zero images: the first run on a GPU compiles its shaders and proves the device works. */
async function runZeros(session: ort.InferenceSession, inputName: string, size: number): Promise<number> {
  const t0 = performance.now();
  const { cropSize } = data.contract;
  await session.run({ [inputName]: new ort.Tensor('float32', new Float32Array(size * tensorFloatsPerImage(cropSize)), [size, CHANNELS, cropSize, cropSize]) });
  return performance.now() - t0;
}

/**
 * Tries the providers in order. A provider that fails to create its session, or whose warm-up run
 * fails, is recorded with its reason and the next one is tried; a session made before the failure
 * is released first, so nothing half-made stays behind.
 */
async function load(): Promise<Loaded> {
  const fallbacks: ProviderAttempt[] = [];
  const chain = providerChain(data.executionProvider, { restart: data.restart });
  for (const provider of chain) {
    const ruledOut = providerPreflight(provider, data.executionProvider);
    if (ruledOut !== undefined) {
      fallbacks.push({ provider, reason: ruledOut });
      continue;
    }
    let session: ort.InferenceSession | undefined;
    try {
      session = await ort.InferenceSession.create(data.modelPath, sessionOptionsFor(provider, { intraOpThreads: data.intraOpThreads, webgpuLayout: data.webgpuLayout }));
      let io: ReturnType<typeof checkModelIo>;
      try {
        io = checkModelIo(session.inputMetadata, session.outputMetadata, data.contract, data.batchSize);
      } catch (err) {
        throw new ModelError((err as Error).message);
      }
      const warmUpMs: Record<number, number> = {};
      if (provider !== 'cpu') {
        const sizes = Number.isFinite(io.maxBatch) ? [io.maxBatch] : warmUpSizes();
        for (const size of sizes) warmUpMs[size] = Math.round(await runZeros(session, io.inputName, size));
      }
      return { session, io, provider, fallbacks, warmUpMs };
    } catch (err) {
      await session?.release().catch(() => undefined);
      // The CPU provider is the last resort: its error is the model's (unreadable file, unsupported op).
      if (err instanceof ModelError || provider === 'cpu') throw err;
      fallbacks.push({ provider, reason: providerErrorReason(err) });
    }
  }
  const requested = data.executionProvider === 'auto' ? 'no execution provider' : `${PROVIDER_TITLE[data.executionProvider]} execution provider requested but`;
  throw new Error(`${requested} unavailable: ${describeAttempts(fallbacks)}`);
}

/** The warm-up sizes that fit this thread's batches, ascending, at least the largest batch. */
function warmUpSizes(): number[] {
  const sizes = new Set(data.warmUpSizes.filter((n) => n >= 1 && n <= data.batchSize));
  if (sizes.size === 0 || data.padToWarmUpSizes) sizes.add(data.batchSize);
  return [...sizes].sort((a, b) => a - b);
}

async function main(): Promise<void> {
  let loaded: Loaded;
  try {
    loaded = await load();
  } catch (err) {
    send({ type: 'init-error', message: (err as Error).message });
    return;
  }
  const { session, io, provider } = loaded;
  const { cropSize, classCount } = data.contract;
  const floatsPerImage = tensorFloatsPerImage(cropSize);
  const fixedBatch = Number.isFinite(io.maxBatch) ? io.maxBatch : undefined;
  const padSizes = provider !== 'cpu' && data.padToWarmUpSizes ? warmUpSizes() : [];
  // One input tensor for the thread's life, sized for the largest run; a fixed batch axis is padded with zeros.
  const capacity = fixedBatch ?? data.batchSize;
  const input = new Float32Array(capacity * floatsPerImage);
  let lost: string | undefined;
  /** Runs one batch; resolves once its answer is sent. */
  const handle = async (msg: ToThread): Promise<void> => {
    if (lost !== undefined) {
      send({ type: 'run-error', id: msg.id, message: lost });
      return;
    }
    try {
      const t0 = performance.now();
      const count = msg.images.length;
      if (count < 1 || count > capacity) throw new Error(`a batch of ${count} images, expected 1–${capacity}`);
      msg.images.forEach((buffer, i) => {
        const image = new Float32Array(buffer);
        if (image.length !== floatsPerImage) throw new Error(`image ${i} has ${image.length} floats, expected ${floatsPerImage}`);
        input.set(image, i * floatsPerImage);
      });
      const images = fixedBatch ?? padSizes.find((s) => s >= count) ?? count;
      if (images > count) input.fill(0, count * floatsPerImage, images * floatsPerImage);
      const tensor = new ort.Tensor('float32', input.subarray(0, images * floatsPerImage), [images, CHANNELS, cropSize, cropSize]);
      let out: ort.InferenceSession.ReturnType;
      try {
        out = await session.run({ [io.inputName]: tensor });
      } catch (err) {
        const message = (err as Error).message;
        send({ type: 'run-error', id: msg.id, message });
        if (provider !== 'cpu' && isDeviceLoss(message)) {
          // Nothing more runs on this session: later batches fail at once (retried), the engine replaces the thread.
          lost = `${provider} device lost: ${providerErrorReason(err)}`;
          send({ type: 'device-lost', message: lost });
        }
        return;
      }
      const logits = out[io.outputName];
      if (logits === undefined || logits.dims.length !== 2 || logits.dims[0] !== images || logits.dims[1] !== classCount) {
        throw new Error(`model output ${io.outputName} has dims [${logits?.dims.join(',')}], expected [${images},${classCount}]`);
      }
      const copy = (logits.data as Float32Array).slice(0, count * classCount);
      send({ type: 'result', id: msg.id, logits: copy, inferMs: performance.now() - t0, provider }, [copy.buffer as ArrayBuffer]);
    } catch (err) {
      send({ type: 'run-error', id: msg.id, message: (err as Error).message });
    }
  };
  // One batch at a time, in order: every run reads the one input tensor, and onnxruntime-node's
  // run() only starts the native call on a later turn of the event loop (setImmediate), so a second
  // batch gathered before it would overwrite the first one's images.
  let queue = Promise.resolve();
  port.on('message', (msg: ToThread) => {
    queue = queue.then(() => handle(msg));
  });
  send({
    type: 'ready', provider, fallbacks: loaded.fallbacks, inputName: io.inputName, outputName: io.outputName, maxBatch: io.maxBatch, warmUpMs: loaded.warmUpMs,
  });
}

void main();
