import type { Command } from 'commander';
import { createRedisConnection, type ReviewDecision } from '@revmod/client';
import { loadConfig, type RevmodConfig } from '../../config';
import { truthByJob } from '../../eval/decision-truth';
import { formatShadowReport, shadowReport } from '../../eval/shadow-eval';
import { DecisionLog } from '../../review/decision-log';
import { loadTaxonomy } from '../../review/taxonomy';
import { ShadowLog, type ShadowRecord } from '../../shadow/shadow-log';
import { createS3Client } from '../../storage/s3-object-store';
import { EXIT, UsageError, type CliContext } from '../cli-context';
import type { Runner } from '../program';
import { parseSince } from './review-data-commands';

interface ShadowEvalOptions {
  readonly since: string;
  readonly until?: string;
  readonly challenger?: string;
  readonly decisions: boolean;
  readonly json?: boolean;
}

/** The shadow log's records in [sinceMs, untilMs). */
export async function readShadowRecords(config: RevmodConfig, sinceMs: number, untilMs: number | undefined): Promise<ShadowRecord[]> {
  const redis = createRedisConnection(config, 'producer');
  redis.on('error', () => undefined);
  const records: ShadowRecord[] = [];
  try {
    for await (const r of new ShadowLog(redis, config.redis.prefix, config.shadow.logMaxEntries).read(sinceMs, untilMs)) records.push(r);
  } finally {
    redis.disconnect();
  }
  return records;
}

/** Every decision logged since `sinceMs` (REVMOD_DECISION_LOG_BUCKET must be set). */
export async function readDecisions(config: RevmodConfig & { review: { logBucket: string } }, sinceMs: number): Promise<ReviewDecision[]> {
  const s3 = createS3Client(config.s3);
  try {
    return await new DecisionLog({ s3, bucket: config.review.logBucket, prefix: config.review.logPrefix }).decisions(sinceMs);
  } finally {
    s3.destroy();
  }
}

/** `revmod eval shadow`: the shadow log (Redis) against the decision log (S3), per model pair. */
export function registerShadowEval(evalCmd: Command, ctx: CliContext, run: Runner): void {
  evalCmd.command('shadow')
    .description('how the challenger scored in shadow compares with the champion: agreement on decisions and top groups, the decision matrix, review rates, and which was right where people decided (decision log)')
    .option('--since <when>', 'since an ISO date or an age (24h, 7d)', '7d')
    .option('--until <when>', 'before an ISO date or an age')
    .option('--challenger <name@version>', 'only this challenger')
    .option('--no-decisions', 'do not read the decision log (no accuracy)')
    .option('--json', 'print JSON')
    .action(run(async (opts: ShadowEvalOptions) => {
      const config = loadConfig({}, ctx.env);
      const sinceMs = parseSince(opts.since);
      const untilMs = opts.until !== undefined ? parseSince(opts.until, '--until') : undefined;
      if (untilMs !== undefined && untilMs <= sinceMs) throw new UsageError(`--until must be after --since, received ${opts.until} (since ${opts.since})`);
      const records = (await readShadowRecords(config, sinceMs, untilMs)).filter((r) => opts.challenger === undefined || r.challenger.model === opts.challenger);
      const logBucket = config.review.logBucket;
      const truth = opts.decisions && logBucket !== undefined
        ? truthByJob(await readDecisions({ ...config, review: { ...config.review, logBucket } }, sinceMs), loadTaxonomy(config.review.taxonomyFile))
        : undefined;
      const report = shadowReport(records, truth);
      ctx.out(opts.json ? JSON.stringify(report) : formatShadowReport(report));
      return EXIT.ok;
    }));
}
