import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The test-only inference thread entry (see crashable-inference-thread.ts). */
export const CRASHABLE_THREAD_ENTRY = join(__dirname, 'crashable-inference-thread.ts');

/**
 * The flag file of this process. Threads share their process's pid, and jest runs one test file
 * per process at a time (its environment's process.env is a copy threads never see).
 */
export function crashFlagFile(): string {
  return join(tmpdir(), `revmod-test-crash-${process.pid}`);
}

export function stallFlagFile(): string {
  return join(tmpdir(), `revmod-test-stall-${process.pid}`);
}

/**
 * `crash()` makes this process's crashable inference thread exit within ~10 ms; `stall(ms)` makes
 * its next run block the thread for `ms` first.
 */
export function armInferenceCrash(): { crash(): void; stall(ms: number): void } {
  const flag = crashFlagFile();
  const stall = stallFlagFile();
  rmSync(flag, { force: true });
  rmSync(stall, { force: true });
  return { crash: () => writeFileSync(flag, ''), stall: (ms) => writeFileSync(stall, String(ms)) };
}
