import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The test-only inference thread entry with GPU faults on demand (see gpu-fault-inference-thread.ts). */
export const GPU_FAULT_THREAD_ENTRY = join(__dirname, 'gpu-fault-inference-thread.ts');

/** Flag files of this process (threads share the pid; jest runs one test file per process at a time). */
export function gpuFaultFlags(): { readonly deviceLost: string; readonly adapterGone: string; readonly ledger: string } {
  return {
    deviceLost: join(tmpdir(), `revmod-test-device-lost-${process.pid}`),
    adapterGone: join(tmpdir(), `revmod-test-adapter-gone-${process.pid}`),
    ledger: join(tmpdir(), `revmod-test-webgpu-sessions-${process.pid}`),
  };
}

/** WebGPU sessions the fault threads made, and which of them were released (`<thread id>-<n>`, in order). */
export interface WebGpuSessionLedger {
  readonly created: string[];
  readonly released: string[];
}

/**
 * `loseDevice(runs)`: the next `runs` WebGPU runs (warm-ups included) of this process's fault
 * threads fail as onnxruntime reports a lost device. `removeAdapter()`: from now on, WebGPU
 * sessions fail to find an adapter, until `restoreAdapter()` (also called by `reset()`).
 * `sessions()`: the WebGPU sessions made and released since `armGpuFaults()`.
 */
export function armGpuFaults(): { loseDevice(runs?: number): void; removeAdapter(): void; restoreAdapter(): void; sessions(): WebGpuSessionLedger; reset(): void } {
  const flags = gpuFaultFlags();
  const reset = () => {
    rmSync(flags.deviceLost, { force: true });
    rmSync(flags.adapterGone, { force: true });
  };
  reset();
  rmSync(flags.ledger, { force: true });
  return {
    loseDevice: (runs = 1) => writeFileSync(flags.deviceLost, String(runs)),
    sessions: () => {
      const lines = existsSync(flags.ledger) ? readFileSync(flags.ledger, 'utf8').split('\n').filter(Boolean) : [];
      const of = (verb: string) => lines.filter((l) => l.startsWith(`${verb} `)).map((l) => l.slice(verb.length + 1));
      return { created: of('created'), released: of('released') };
    },
    removeAdapter: () => writeFileSync(flags.adapterGone, ''),
    restoreAdapter: () => rmSync(flags.adapterGone, { force: true }),
    reset,
  };
}
