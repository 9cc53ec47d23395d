import { createServer, type RequestListener } from 'node:http';
import type { Logger } from 'pino';
import { listen, type RunningHttpServer } from '../ops/listen';
import { onShutdownSignals } from '../util/shutdown';
import { EXIT, type CliContext } from './cli-context';

/** What {@link serveUntilSignal} serves. */
export interface ServeOptions {
  readonly app: RequestListener;
  readonly host: string;
  readonly port: number;
  /** For the log line when the port cannot be had, e.g. `ops server`. */
  readonly what: string;
  /** Releases what the app holds (queues, connections) once the HTTP server has closed. */
  readonly close: () => Promise<void>;
  /** Called once listening: log where. */
  readonly started: (server: RunningHttpServer) => void;
}

/** Serves an app until SIGTERM/SIGINT (a second signal forces the exit); resolves with the exit code. */
export async function serveUntilSignal(ctx: CliContext, logger: Logger, o: ServeOptions): Promise<number> {
  let server: RunningHttpServer;
  try {
    server = await listen(createServer(o.app), o.port, o.host);
  } catch (err) {
    logger.fatal({ host: o.host, port: o.port }, `${o.what} cannot listen: ${(err as Error).message}`);
    await o.close();
    return EXIT.failure;
  }
  let stopped!: (code: number) => void;
  const done = new Promise<number>((resolve) => { stopped = resolve; });
  onShutdownSignals(logger,
    async () => {
      await server.close();
      await o.close();
      stopped(EXIT.ok);
    },
    () => ctx.exit(EXIT.forced));
  o.started(server);
  return done;
}
