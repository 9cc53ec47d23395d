// Process entry: config → wire → run → graceful shutdown. No business logic here.
import { loadConfig } from '../src/config';
import type { RunningHttpServer } from '../src/ops/listen';
import { createWorkerMetrics } from '../src/ops/metrics';
import { startWorkerHttpServer } from '../src/ops/worker-http-server';
import { createLogger } from '../src/util/logger';
import { onShutdownSignals } from '../src/util/shutdown';
import { ModerationWorker } from '../src/worker/moderation-worker';

// The AWS SDK is pinned to a release that supports Node 20; its notice about later releases is noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`revmod worker: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.log.level);
  const metricsPort = config.worker.metricsPort;
  const metrics = metricsPort !== undefined ? createWorkerMetrics() : undefined;
  const worker = new ModerationWorker(config, { logger, ...(metrics ? { observer: metrics.observer } : {}) });
  metrics?.attachWorker(worker);

  let http: RunningHttpServer | undefined;
  if (metrics && metricsPort !== undefined) {
    // Up before the model loads: liveness answers at once, readiness says 503 until the worker is ready.
    try {
      http = await startWorkerHttpServer({
        port: metricsPort, host: config.worker.metricsHost, registry: metrics.registry,
        readiness: () => ({ ready: worker.ready, state: worker.state }),
      });
      logger.info({ url: http.url }, 'metrics and health endpoints: /metrics /healthz /readyz');
    } catch (err) {
      logger.fatal({ host: config.worker.metricsHost, port: metricsPort }, `metrics server cannot listen: ${(err as Error).message}`);
      process.exit(1);
    }
  }

  onShutdownSignals(logger,
    async () => {
      // close() marks the worker draining at once, so /readyz turns 503 while the drain runs.
      const { forced } = await worker.close();
      await http?.close();
      process.exit(forced ? 1 : 0);
    },
    () => { void worker.stopInference().finally(() => process.exit(130)); });
  try {
    await worker.start();
  } catch (err) {
    const e = err as Error & { code?: string };
    logger.fatal({ code: e.code }, `worker failed to start: ${e.message}`);
    await worker.close(1_000).catch(() => undefined);
    await http?.close();
    process.exit(1);
  }
}

void main();
