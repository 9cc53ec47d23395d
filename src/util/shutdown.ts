import type { Logger } from 'pino';

/**
 * Wires SIGTERM/SIGINT to a graceful close. The first signal starts `close`; a second one calls
 * `force` at once. Returns nothing: the entry point decides the exit code from `close`'s outcome.
 */
export function onShutdownSignals(logger: Logger, close: (signal: string) => Promise<void>, force: (signal: string) => void): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn({ signal }, 'second signal: forcing exit');
      force(signal);
      return;
    }
    closing = true;
    logger.info({ signal }, 'signal received: draining');
    void close(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
