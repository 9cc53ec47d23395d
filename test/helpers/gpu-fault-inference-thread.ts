// A test-only inference thread: the crashable one (crashable-inference-thread.ts), which in addition
// fails on the GPU on demand, through flag files of this process (see gpu-faults.ts):
// - adapter gone: creating a WebGPU session throws Dawn's own error for a machine without an adapter;
// - device lost: the next N WebGPU runs throw onnxruntime's error for a lost device (N in the flag);
// and it notes each WebGPU session made and released in a ledger file.
// onnxruntime itself is patched here, before the real thread loads it; never shipped.
import { appendFileSync, existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { gpuFaultFlags } from './gpu-faults';

const flags = gpuFaultFlags();
const NO_ADAPTER = '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters';
const DEVICE_LOST = 'WebGPU device lost (2): Device was destroyed.';

// `<thread id>-<n>`: unique across this process's threads.
let sessionCount = 0;

const onWebGpu = (options: ort.InferenceSession.SessionOptions | undefined): boolean =>
  (options?.executionProviders ?? []).some((ep) => (typeof ep === 'string' ? ep : ep.name) === 'webgpu');

const create = ort.InferenceSession.create.bind(ort.InferenceSession) as (path: string, options?: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>;
(ort.InferenceSession as { create: unknown }).create = async (path: string, options?: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> => {
  if (onWebGpu(options) && existsSync(flags.adapterGone)) throw new Error(NO_ADAPTER);
  const session = await create(path, options);
  if (!onWebGpu(options)) return session;
  const id = `${threadId}-${sessionCount++}`;
  appendFileSync(flags.ledger, `created ${id}\n`);
  const run = session.run.bind(session) as (...args: unknown[]) => Promise<ort.InferenceSession.ReturnType>;
  const release = session.release.bind(session);
  (session as { run: unknown }).run = async (...args: unknown[]) => {
    if (existsSync(flags.deviceLost)) {
      const left = Number(readFileSync(flags.deviceLost, 'utf8') || '1') - 1;
      if (left > 0) writeFileSync(flags.deviceLost, String(left));
      else unlinkSync(flags.deviceLost);
      throw new Error(DEVICE_LOST);
    }
    return run(...args);
  };
  (session as { release: unknown }).release = async () => {
    appendFileSync(flags.ledger, `released ${id}\n`);
    return release();
  };
  return session;
};

// Loaded after the patch (an import would be hoisted above it).
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('./crashable-inference-thread');
