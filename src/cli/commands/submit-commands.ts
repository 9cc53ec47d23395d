import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { ModerationClient, type SubmitRequest } from '@revmod/client';
import { clientConfigOf, loadConfig } from '../../config';
import { EXIT, UsageError, type CliContext } from '../cli-context';
import type { Runner } from '../program';

/** A client from the environment's config; closed by `use` whatever happens. */
export async function withClient<T>(ctx: CliContext, use: (client: ModerationClient) => Promise<T>): Promise<T> {
  const client = new ModerationClient({ config: clientConfigOf(loadConfig({}, ctx.env)) });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

function parseMeta(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--meta must be a JSON object, received ${JSON.stringify(text)} (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--meta must be a JSON object, received ${JSON.stringify(text)}`);
  return value as Record<string, unknown>;
}

/** Keys from a file: one per line; blank lines and lines starting with # are skipped. */
async function keysFromFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--from must name a readable file of keys, received ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

export function registerSubmitCommands(program: Command, ctx: CliContext, run: Runner): void {
  program.command('submit')
    .description('submit images for moderation; prints one job id per key (idempotent per bucket/key)')
    .argument('<bucket>', 'S3 bucket holding the images')
    .argument('[keys...]', 'object keys')
    .option('--from <file>', 'read keys from FILE, one per line (# comments allowed)')
    .option('--meta <json>', 'JSON object carried to every verdict, e.g. {"shopId":42}')
    .action(run(async (bucket: string, keys: string[], opts: { from?: string; meta?: string }) => {
      const all = [...keys, ...(opts.from !== undefined ? await keysFromFile(opts.from) : [])];
      if (all.length === 0) throw new UsageError('submit needs at least one KEY or --from FILE, received none');
      const meta = parseMeta(opts.meta);
      const requests: SubmitRequest[] = all.map((key) => ({ bucket, key, ...(meta ? { meta } : {}) }));
      const results = await withClient(ctx, (client) => client.submitBulk(requests));
      results.forEach((r, i) => ctx.out(`${r.jobId}\t${bucket}/${all[i]}`));
      return EXIT.ok;
    }));

  program.command('verdict')
    .description('print the verdict of a finished job as JSON (exit 1 while it is pending or unknown)')
    .argument('<jobId>', 'the id `submit` printed')
    .action(run(async (jobId: string) => {
      if (!/^[0-9a-f]{1,64}(-[0-9a-z]{1,32})?$/.test(jobId)) throw new UsageError(`JOB_ID must be a job id as submit prints it, received ${JSON.stringify(jobId)}`);
      const verdict = await withClient(ctx, (client) => client.getVerdict(jobId));
      if (!verdict) {
        ctx.err(`revmod: no verdict for job ${jobId} (pending, unknown, or past retention)`);
        return EXIT.failure;
      }
      ctx.out(JSON.stringify(verdict, null, 2));
      return EXIT.ok;
    }));
}
