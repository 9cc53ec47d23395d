import type { Command } from 'commander';
import { createRedisConnection, type ReviewDecision } from '@revmod/client';
import { loadConfig } from '../../config';
import { formatShadowReport, shadowReport, truthByJob } from '../../eval/shadow-eval';
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
      const redis = createRedisConnection(config, 'producer');
      redis.on('error', () => undefined);
      const records: ShadowRecord[] = [];
      try {
        for await (const r of new ShadowLog(redis, config.redis.prefix, config.shadow.logMaxEntries).read(sinceMs, untilMs)) {
          if (opts.challenger === undefined || r.challenger.model === opts.challenger) records.push(r);
        }
      } finally {
        redis.disconnect();
      }
      let truth: ReturnType<typeof truthByJob> | undefined;
      if (opts.decisions && config.review.logBucket !== undefined) {
        const s3 = createS3Client(config.s3);
        try {
          const decisions: ReviewDecision[] = [];
          const log = new DecisionLog({ s3, bucket: config.review.logBucket, prefix: config.review.logPrefix });
          for await (const obj of log.objects(sinceMs)) decisions.push(...obj.decisions);
          truth = truthByJob(decisions, loadTaxonomy(config.review.taxonomyFile));
        } finally {
          s3.destroy();
        }
      }
      const report = shadowReport(records, truth);
      ctx.out(opts.json ? JSON.stringify(report) : formatShadowReport(report));
      return EXIT.ok;
    }));
}
