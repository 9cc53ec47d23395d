import type { Command } from 'commander';
import { loadConfig } from '../../config';
import { createOpsApp } from '../../ops/ops-app';
import { resolveOpsCredentials } from '../../ops/ops-auth';
import { UsersDirectory } from '../../identity';
import { createLogger } from '../../util/logger';
import type { CliContext } from '../cli-context';
import { serveUntilSignal } from '../serve';
import type { Runner } from '../program';

/** The ops server (Bull Board, queue metrics, health): config → wire → run → shutdown. */
export async function runOps(ctx: CliContext): Promise<number> {
  const config = loadConfig({}, ctx.env);
  const { identity } = config;
  const proxy = identity.proxyHeader !== undefined ? { header: identity.proxyHeader, trusted: identity.proxyTrusted } : undefined;
  const credentials = resolveOpsCredentials(config.ops, identity.usersFile !== undefined || proxy !== undefined);
  const logger = createLogger(config.log.level);
  const users = identity.usersFile !== undefined
    ? new UsersDirectory(identity.usersFile, 1_000, (err) => logger.error({ err }, 'users file unreadable; keeping the last good copy'))
    : undefined;
  const ops = createOpsApp({
    config, credentials, readOnly: config.ops.readOnly,
    ...(users ? { users } : {}), ...(proxy ? { proxy } : {}),
    loginMaxFailures: identity.loginMaxFailures, loginWindowSeconds: identity.loginWindowSeconds,
  });
  if (identity.trustProxy.length > 0) ops.app.set('trust proxy', identity.trustProxy);
  return serveUntilSignal(ctx, logger, {
    app: ops.app, host: config.ops.host, port: config.ops.port, what: 'ops server', close: () => ops.close(),
    started: (server) => {
      if (!credentials && !users && !proxy) logger.warn('dashboard served WITHOUT authentication (REVMOD_OPS_ALLOW_NO_AUTH=true, loopback only): development use');
      logger.info({
        url: server.url, auth: credentials || users ? 'basic' : proxy ? 'proxy' : 'none', readOnly: config.ops.readOnly,
        queues: ops.queues.map((q) => q.name), prefix: config.redis.prefix,
      }, `ops server listening: dashboard ${server.url}/, metrics ${server.url}/metrics`);
    },
  });
}

export function registerOpsCommand(program: Command, ctx: CliContext, run: Runner): void {
  program.command('ops')
    .description('run the ops server: Bull Board on the queues (basic auth; viewer and admin roles), /metrics, /healthz, /readyz')
    .action(run(() => runOps(ctx)));
}
