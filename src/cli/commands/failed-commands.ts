import { Option, type Command } from 'commander';
import { ERROR_CODES, listFailed, retryFailed, type ErrorCode } from '@revmod/client';
import { EXIT, type CliContext } from '../cli-context';
import type { Runner } from '../program';
import { withClient } from './submit-commands';

const codeOption = (): Option => new Option('--code <code>', 'only failures with this error code').choices(Object.keys(ERROR_CODES));

export function registerFailedCommands(program: Command, ctx: CliContext, run: Runner): void {
  const failed = program.command('failed').description('the dead-letter view: moderation jobs that failed for good');
  failed.command('list')
    .description('list failed jobs, newest first: id, code, attempts, bucket/key, reason')
    .addOption(codeOption())
    .option('--json', 'one JSON object per line')
    .action(run(async (opts: { code?: ErrorCode; json?: boolean }) => {
      const letters = await withClient(ctx, (client) => listFailed(client.queue, { end: 999 }));
      const shown = letters.filter((d) => opts.code === undefined || d.code === opts.code);
      for (const d of shown) {
        ctx.out(opts.json ? JSON.stringify(d) : `${d.jobId}\t${d.code ?? '-'}\t${d.attemptsMade}\t${d.bucket ?? '?'}/${d.key ?? '?'}\t${d.failedReason}`);
      }
      if (!opts.json) ctx.err(`${shown.length} failed job(s)`);
      return EXIT.ok;
    }));
  failed.command('retry')
    .description('move failed jobs back to the queue with a fresh attempt budget; prints the ids retried')
    .addOption(codeOption())
    .action(run(async (opts: { code?: ErrorCode }) => {
      const retried = await withClient(ctx, (client) => retryFailed(client.queue, opts.code !== undefined ? { code: opts.code } : {}));
      for (const id of retried) ctx.out(id);
      ctx.err(`${retried.length} job(s) retried`);
      return EXIT.ok;
    }));
}
