import type { Command } from 'commander';
import { loadConfig } from '../../config';
import { UsersDirectory } from '../../identity';
import { checkConsoleConfig, createConsoleApp } from '../../review/console-app';
import { createLogger } from '../../util/logger';
import { UsageError, type CliContext } from '../cli-context';
import { serveUntilSignal } from '../serve';
import type { Runner } from '../program';

/**
 * The review console as its own server. It is not part of `revmod ops` on purpose: reviewers are
 * many (often outsourced) people on their own network path, the dashboard is for a few on-call
 * engineers; apart, each binds where its users are and a console session never reaches Bull Board.
 */
export async function runReview(ctx: CliContext): Promise<number> {
  const config = loadConfig({}, ctx.env);
  checkConsoleConfig(config);
  if (config.identity.usersFile === undefined) throw new UsageError('the review console needs REVMOD_USERS_FILE (reviewer and lead logins; add them with `revmod users add`), received nothing');
  const logger = createLogger(config.log.level);
  const users = new UsersDirectory(config.identity.usersFile, 1_000, (err) => logger.error({ err }, 'users file unreadable; keeping the last good copy'));
  const consoleApp = createConsoleApp({ config, users, logger });
  return serveUntilSignal(ctx, logger, {
    app: consoleApp.app, host: config.review.host, port: config.review.port, what: 'review console', close: () => consoleApp.close(),
    started: (server) => logger.info({
      url: server.url, users: users.size, queue: config.queues.review, decisions: config.queues.decisions,
      log: `s3://${config.review.logBucket}/${config.review.logPrefix}`, claimTtlMs: config.review.claimTtlMs,
    }, `review console listening: ${server.url}/ (metrics ${server.url}/metrics)`),
  });
}

export function registerReviewCommand(program: Command, ctx: CliContext, run: Runner): void {
  program.command('review')
    .description('run the review console: sign-in, claims, decisions to the decisions queue and the S3 log, the image proxy, /metrics')
    .action(run(() => runReview(ctx)));
}
