import { Option, type Command } from 'commander';
import { Queue } from 'bullmq';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import { createRedisConnection, type ReviewDecision } from '@revmod/client';
import { loadConfig, type RevmodConfig } from '../../config';
import { verdictCacheOf } from '../../known/verdict-cache';
import { DecisionLog } from '../../review/decision-log';
import { exportDataset, parseTarget, type DatasetLayout } from '../../review/dataset-export';
import { eraseImage, type EraseSelector } from '../../review/erase';
import { replayDecisions } from '../../review/replay';
import { applyRetention } from '../../review/retention';
import { ReviewStore } from '../../review/review-store';
import { loadTaxonomy } from '../../review/taxonomy';
import { createS3Client } from '../../storage/s3-object-store';
import { EXIT, UsageError, type CliContext } from '../cli-context';
import type { Runner } from '../program';

/** What the data commands work on: the decision log in S3 and the review store in Redis. */
interface ReviewData {
  readonly config: RevmodConfig;
  readonly redis: Redis;
  readonly s3: S3Client;
  readonly store: ReviewStore;
  readonly log: DecisionLog;
  /** Where `dataset export` records its locations (retention and erasure read it). */
  readonly exportsKey: string;
}

async function withReviewData<T>(ctx: CliContext, use: (d: ReviewData) => Promise<T>): Promise<T> {
  const config = loadConfig({}, ctx.env);
  if (config.review.logBucket === undefined) throw new UsageError('REVMOD_DECISION_LOG_BUCKET must name the decision log bucket, received nothing');
  const redis = createRedisConnection(config, 'producer');
  redis.on('error', () => undefined);
  const s3 = createS3Client(config.s3);
  const store = new ReviewStore({
    redis, prefix: config.redis.prefix, claimTtlMs: config.review.claimTtlMs, skipMs: config.review.skipMs,
    retainSeconds: config.retention.reviewItemsSeconds, eventsMax: config.retention.reviewEventsMax,
  });
  const log = new DecisionLog({ s3, bucket: config.review.logBucket, prefix: config.review.logPrefix });
  try {
    return await use({ config, redis, s3, store, log, exportsKey: `${store.base}:exports` });
  } finally {
    s3.destroy();
    await redis.quit().catch(() => redis.disconnect());
  }
}

const UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: an ISO date or time, or an age such as `30m`, `24h`, `7d`. */
export function parseSince(value: string, name = '--since', nowMs = Date.now()): number {
  const age = /^(\d+)([mhd])$/.exec(value.trim());
  if (age) return nowMs - Number(age[1]) * UNITS[age[2]!]!;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`${name} must be an ISO date (2026-11-01, 2026-11-01T08:00Z) or an age (30m, 24h, 7d), received ${JSON.stringify(value)}`);
  return ms;
}

/** `--key s3://bucket/key`, or `--bucket B --key K`, or `--sha256 HEX`: exactly one image. */
function selectorOf(opts: { key?: string; bucket?: string; sha256?: string }): EraseSelector {
  if (opts.sha256 !== undefined) {
    if (opts.key !== undefined || opts.bucket !== undefined) throw new UsageError('--sha256 and --key select differently: give one, received both');
    if (!/^[0-9a-f]{64}$/i.test(opts.sha256)) throw new UsageError(`--sha256 must be 64 hex digits, received ${JSON.stringify(opts.sha256)}`);
    return { sha256: opts.sha256.toLowerCase() };
  }
  if (opts.key === undefined) throw new UsageError('delete needs --key s3://BUCKET/KEY (or --bucket B --key K) or --sha256 HEX, received neither');
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(opts.key);
  if (m) return { bucket: m[1]!, key: m[2]! };
  if (opts.bucket === undefined) throw new UsageError(`--key needs --bucket, or the form s3://BUCKET/KEY, received ${JSON.stringify(opts.key)}`);
  return { bucket: opts.bucket, key: opts.key };
}

/** Queues by name for `use`, closed whatever happens. */
async function withQueues<T>(d: ReviewData, names: readonly string[], use: (queues: Queue[]) => Promise<T>): Promise<T> {
  const queues = names.map((name) => new Queue(name, { connection: d.redis, prefix: d.config.redis.prefix }));
  try {
    return await use(queues);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

export function registerReviewDataCommands(program: Command, ctx: CliContext, run: Runner): void {
  /** An action whose result is printed as one JSON line. */
  const reporting = <A extends unknown[]>(fn: (...args: A) => Promise<unknown>) => run(async (...args: A) => {
    ctx.out(JSON.stringify(await fn(...args)));
    return EXIT.ok;
  });
  const decisions = program.command('decisions').description('the reviewers\' decisions');
  decisions.command('replay')
    .description('re-publish the S3 decision log to the decisions queue (what Redis lost) and restore final states; idempotent')
    .option('--since <when>', 'only decisions since an ISO date or an age (24h, 7d); default all')
    .option('--dry-run', 'count, change nothing')
    .action(reporting(async (opts: { since?: string; dryRun?: boolean }) => {
      const sinceMs = opts.since === undefined ? undefined : parseSince(opts.since);
      return withReviewData(ctx, (d) => withQueues(d, [d.config.queues.decisions], ([queue]) => replayDecisions({
        log: d.log, queue: queue as Queue<ReviewDecision>, store: d.store, retainDecisionsSeconds: d.config.retention.decisionsSeconds,
        dryRun: opts.dryRun ?? false, ...(sinceMs !== undefined ? { sinceMs } : {}),
        ...(d.config.known.enabled ? { known: verdictCacheOf(d.redis, d.config) } : {}),
      })));
    }));

  const dataset = program.command('dataset').description('training data from the decisions');
  dataset.command('export')
    .description('write an ImageFolder and a manifest.jsonl (deduplicated by sha256) from the decisions since a date')
    .requiredOption('--since <when>', 'decisions since an ISO date or an age (24h, 7d)')
    .requiredOption('--out <dir|s3://bucket/prefix>', 'a local folder or an S3 location')
    .option('--until <when>', 'decisions before this ISO date or age')
    .addOption(new Option('--layout <layout>', 'normal/violate folders, or one folder per taxonomy category').choices(['binary', 'category']).default('binary'))
    .action(reporting(async (opts: { since: string; out: string; until?: string; layout: DatasetLayout }) => {
      const sinceMs = parseSince(opts.since);
      const untilMs = opts.until === undefined ? undefined : parseSince(opts.until, '--until');
      if (opts.out.trim() === '' || opts.out === 's3://') throw new UsageError(`--out must be a folder or s3://bucket/prefix, received ${JSON.stringify(opts.out)}`);
      return withReviewData(ctx, (d) => exportDataset({
        log: d.log, s3: d.s3, target: parseTarget(opts.out), sinceMs, ...(untilMs !== undefined ? { untilMs } : {}), layout: opts.layout,
        taxonomy: loadTaxonomy(d.config.review.taxonomyFile), maxBytes: d.config.limits.maxBytes, registry: { redis: d.redis, key: d.exportsKey },
      }));
    }));

  program.command('delete')
    .description("erase an image's data everywhere revmod keeps it (review items, queue jobs, decision log, exports) and record the erasure")
    .option('--key <key>', 'the object: s3://BUCKET/KEY, or KEY with --bucket')
    .option('--bucket <bucket>', 'the bucket of --key')
    .option('--sha256 <hex>', 'every object with this content')
    .option('--export <location...>', 'also prune these dataset exports (recorded exports are always pruned)')
    .option('--by <name>', 'who asked for the erasure (recorded)', 'cli')
    .option('--dry-run', 'count what would go, change nothing')
    .action(reporting(async (opts: { key?: string; bucket?: string; sha256?: string; export?: string[]; by: string; dryRun?: boolean }) => {
      const selector = selectorOf(opts);
      return withReviewData(ctx, (d) => {
        const q = d.config.queues;
        return withQueues(d, [q.moderation, q.results, q.review, q.decisions], (queues) => eraseImage({
          selector, by: opts.by, store: d.store, log: d.log, s3: d.s3, queues, exportsKey: d.exportsKey, exports: opts.export ?? [], dryRun: opts.dryRun ?? false,
          ...(d.config.known.enabled ? { known: verdictCacheOf(d.redis, d.config) } : {}),
        }));
      });
    }));

  const retention = program.command('retention').description('retention of what revmod keeps in S3 (Redis keys expire by themselves)');
  retention.command('apply')
    .description('delete decision-log objects and dataset exports older than REVMOD_RETAIN_DECISION_LOG_DAYS / REVMOD_RETAIN_EXPORTS_DAYS')
    .option('--dry-run', 'count, change nothing')
    .action(reporting(async (opts: { dryRun?: boolean }) => withReviewData(ctx, (d) => applyRetention({
      log: d.log, s3: d.s3, redis: d.redis, exportsKey: d.exportsKey,
      decisionLogDays: d.config.retention.decisionLogDays, exportsDays: d.config.retention.exportsDays, dryRun: opts.dryRun ?? false,
    }))));
}
