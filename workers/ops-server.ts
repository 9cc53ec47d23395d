// Process entry: config → wire → run → graceful shutdown. Bull Board, queue metrics and health checks.
import { createServer } from 'node:http';
import { loadConfig, type RevmodConfig } from '../src/config';
import { listen, type RunningHttpServer } from '../src/ops/listen';
import { createOpsApp } from '../src/ops/ops-app';
import { resolveOpsCredentials, type OpsCredentials } from '../src/ops/ops-auth';
import { createLogger } from '../src/util/logger';
import { onShutdownSignals } from '../src/util/shutdown';

// The AWS SDK is pinned to a release that supports Node 20; its notice about later releases is noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(): Promise<void> {
  let config: RevmodConfig;
  let credentials: OpsCredentials | null;
  try {
    config = loadConfig();
    credentials = resolveOpsCredentials(config.ops);
  } catch (err) {
    process.stderr.write(`revmod ops server: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.log.level);
  const ops = createOpsApp({ config, credentials, readOnly: config.ops.readOnly });
  let server: RunningHttpServer;
  try {
    server = await listen(createServer(ops.app), config.ops.port, config.ops.host);
  } catch (err) {
    logger.fatal({ host: config.ops.host, port: config.ops.port }, `ops server cannot listen: ${(err as Error).message}`);
    await ops.close();
    process.exit(1);
  }
  onShutdownSignals(logger,
    async () => {
      await server.close();
      await ops.close();
      process.exit(0);
    },
    () => process.exit(130));
  if (!credentials) logger.warn('dashboard served WITHOUT authentication (REVMOD_OPS_ALLOW_NO_AUTH=true, loopback only): development use');
  logger.info({
    url: server.url, auth: credentials ? 'basic' : 'none', readOnly: config.ops.readOnly,
    queues: [config.queues.moderation, config.queues.results, config.queues.review], prefix: config.redis.prefix,
  }, `ops server listening: dashboard ${server.url}/, metrics ${server.url}/metrics`);
}

void main();
