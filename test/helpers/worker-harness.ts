import pino from 'pino';
import type { RevmodConfig } from '../../src/config';
import type { PipelineObserver } from '../../src/pipeline/pipeline-observer';
import { consumeVerdicts, type VerdictConsumer, type Verdict } from '@revmod/client';
import { ModerationWorker } from '../../src/worker/moderation-worker';

/** Collects verdicts from the results queue through the SDK's consumer, as the upload service would. */
export class VerdictCollector {
  readonly verdicts: Verdict[] = [];
  private readonly consumer: VerdictConsumer;
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  constructor(config: RevmodConfig) {
    this.consumer = consumeVerdicts({
      config,
      handler: (v) => {
        this.verdicts.push(v);
        this.waiters = this.waiters.filter((w) => (this.verdicts.length >= w.n ? (w.resolve(), false) : true));
      },
    });
  }

  /** Resolves once `n` verdicts arrived; rejects after `timeoutMs` saying how many did. */
  waitFor(n: number, timeoutMs = 60_000): Promise<Verdict[]> {
    if (this.verdicts.length >= n) return Promise.resolve(this.verdicts);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms with ${this.verdicts.length}/${n} verdicts`)), timeoutMs);
      this.waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(this.verdicts); } });
    });
  }

  close(): Promise<void> {
    return this.consumer.close();
  }
}

/** A worker in this process with a quiet logger. */
export async function startTestWorker(config: RevmodConfig, observer?: PipelineObserver, inferenceThreadEntryFile?: string): Promise<ModerationWorker> {
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const worker = new ModerationWorker(config, { logger, ...(observer ? { observer } : {}), ...(inferenceThreadEntryFile ? { inferenceThreadEntryFile } : {}) });
  await worker.start();
  return worker;
}

/** Polls `ok` every 50 ms until it holds; throws after `timeoutMs` naming `what`. */
export async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
