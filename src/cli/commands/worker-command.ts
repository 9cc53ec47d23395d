import type { Command } from 'commander';
import { loadConfig } from '../../config';
import type { RunningHttpServer } from '../../ops/listen';
import { createWorkerMetrics } from '../../ops/metrics';
import { startWorkerHttpServer } from '../../ops/worker-http-server';
import { createLogger } from '../../util/logger';
import { onShutdownSignals } from '../../util/shutdown';
import { ModerationWorker, type ModerationWorkerDeps } from '../../worker/moderation-worker';
import { EXIT, type CliContext } from '../cli-context';
import type { Runner } from '../program';

/**
 * The moderation worker: config → wire → run → graceful shutdown. Resolves with the exit code once
 * a signal has drained it (0, or 1 when the drain was cut short) or it failed to start (1).
 */
export async function runWorker(ctx: CliContext, extraDeps: Partial<Pick<ModerationWorkerDeps, 'poolEntryFile' | 'inferenceThreadEntryFile'>> = {}): Promise<number> {
  const config = loadConfig({}, ctx.env);
  const logger = createLogger(config.log.level);
  const metricsPort = config.worker.metricsPort;
  const metrics = metricsPort !== undefined ? createWorkerMetrics() : undefined;
  let fatal: ((reason: string) => void) | undefined;
  const worker = new ModerationWorker(config, {
    logger, ...(metrics ? { observer: metrics.observer } : {}), ...extraDeps,
    onFatal: (reason) => fatal?.(reason),
  });
  metrics?.attachWorker(worker);

  let http: RunningHttpServer | undefined;
  if (metrics && metricsPort !== undefined) {
    // Up before the model loads: liveness answers at once, readiness says 503 until the worker is ready.
    try {
      http = await startWorkerHttpServer({
        port: metricsPort, host: config.worker.metricsHost, registry: metrics.registry,
        readiness: () => { const st = worker.status(); return { ready: st.ready, state: st.notReadyReason ?? st.state }; },
      });
      logger.info({ url: http.url }, 'metrics and health endpoints: /metrics /healthz /readyz');
    } catch (err) {
      logger.fatal({ host: config.worker.metricsHost, port: metricsPort }, `metrics server cannot listen: ${(err as Error).message}`);
      return EXIT.failure;
    }
  }

  let stopped!: (code: number) => void;
  const done = new Promise<number>((resolve) => { stopped = resolve; });
  // The worker cannot go on (its inference engine is stuck or gone): drain what can be drained and
  // exit non-zero, so that the orchestrator starts a fresh process.
  fatal = (reason) => {
    logger.fatal({ reason }, 'worker cannot go on; exiting for a restart');
    void worker.close().then(() => http?.close()).finally(() => stopped(EXIT.failure));
  };
  onShutdownSignals(logger,
    async () => {
      // close() marks the worker draining at once, so /readyz turns 503 while the drain runs.
      const { forced } = await worker.close();
      await http?.close();
      stopped(forced ? EXIT.failure : EXIT.ok);
    },
    () => { void worker.stopInference().finally(() => ctx.exit(EXIT.forced)); });
  try {
    await worker.start();
  } catch (err) {
    const e = err as Error & { code?: string };
    logger.fatal({ code: e.code }, `worker failed to start: ${e.message}`);
    await worker.close(1_000).catch(() => undefined);
    await http?.close();
    return EXIT.failure;
  }
  return done;
}

export function registerWorkerCommand(program: Command, ctx: CliContext, run: Runner): void {
  program.command('worker')
    .description('run a moderation worker: takes jobs from Redis, fetches from S3, infers in batches, publishes verdicts (configured by environment variables; see .env.example)')
    .action(run(() => runWorker(ctx)));
}
