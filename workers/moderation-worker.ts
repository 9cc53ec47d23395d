// Process entry: config → wire → run → graceful shutdown. No business logic here.
import { loadConfig } from '../src/config';
import { createLogger } from '../src/util/logger';
import { onShutdownSignals } from '../src/util/shutdown';
import { ModerationWorker } from '../src/worker/moderation-worker';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`revmod worker: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.log.level);
  const worker = new ModerationWorker(config, { logger });
  onShutdownSignals(logger,
    async () => {
      const { forced } = await worker.close();
      process.exit(forced ? 1 : 0);
    },
    () => process.exit(130));
  try {
    await worker.start();
  } catch (err) {
    const e = err as Error & { code?: string };
    logger.fatal({ code: e.code }, `worker failed to start: ${e.message}`);
    await worker.close(1_000).catch(() => undefined);
    process.exit(1);
  }
}

void main();
