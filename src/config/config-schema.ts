import { z } from 'zod';
import { DEFAULTS } from './defaults';

const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);

/** The validated, typed configuration of a worker or client. Build it with `loadConfig`. */
export const configSchema = z.object({
  redis: z.object({
    url: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').default(DEFAULTS.redis.url),
    password: z.string().optional(),
    tls: z.boolean().default(false),
    prefix: z.string().min(1).default(DEFAULTS.redis.prefix),
  }).prefault({}),
  queues: z.object({
    moderation: z.string().min(1).default(DEFAULTS.queues.moderation),
    results: z.string().min(1).default(DEFAULTS.queues.results),
    review: z.string().min(1).default(DEFAULTS.queues.review),
  }).prefault({}),
  s3: z.object({
    endpoint: z.url().optional(),
    region: z.string().min(1).default(DEFAULTS.s3.region),
    forcePathStyle: z.boolean().default(DEFAULTS.s3.forcePathStyle),
    accessKeyId: z.string().optional(),
    secretAccessKey: z.string().optional(),
    connectTimeoutMs: positiveInt.default(DEFAULTS.s3.connectTimeoutMs),
    requestTimeoutMs: positiveInt.default(DEFAULTS.s3.requestTimeoutMs),
    allowedBuckets: z.array(z.string().min(1)).default([...DEFAULTS.s3.allowedBuckets]),
  }).prefault({}),
  limits: z.object({
    maxBytes: positiveInt.default(DEFAULTS.limits.maxBytes),
    maxPixels: positiveInt.default(DEFAULTS.limits.maxPixels),
    allowSvg: z.boolean().default(DEFAULTS.limits.allowSvg),
    maxMetaBytes: positiveInt.default(DEFAULTS.limits.maxMetaBytes),
  }).prefault({}),
  batch: z.object({
    size: positiveInt.max(1024).default(DEFAULTS.batch.size),
    maxWaitMs: z.number().int().min(0).default(DEFAULTS.batch.maxWaitMs),
  }).prefault({}),
  model: z.object({
    path: z.string().min(1).default(DEFAULTS.model.path),
    executionProvider: z.enum(['auto', 'cuda', 'cpu']).default(DEFAULTS.model.executionProvider),
    intraOpThreads: z.number().int().min(0).default(DEFAULTS.model.intraOpThreads),
    preprocessMode: z.enum(['torchvision', 'fast']).default(DEFAULTS.model.preprocessMode),
  }).prefault({}),
  policy: z.object({
    /** Overrides the model card's thresholds when set. */
    violateThreshold: probability.optional(),
    confidenceThreshold: probability.optional(),
    blockThreshold: probability.nullable().optional(),
  }).prefault({}),
  worker: z.object({
    lockDurationMs: positiveInt.default(DEFAULTS.worker.lockDurationMs),
    stalledIntervalMs: positiveInt.default(DEFAULTS.worker.stalledIntervalMs),
    maxStalledCount: z.number().int().min(0).default(DEFAULTS.worker.maxStalledCount),
    attempts: positiveInt.default(DEFAULTS.worker.attempts),
    backoffMs: positiveInt.default(DEFAULTS.worker.backoffMs),
    shutdownTimeoutMs: positiveInt.default(DEFAULTS.worker.shutdownTimeoutMs),
    retainCompletedSeconds: z.number().int().min(0).default(DEFAULTS.worker.retainCompletedSeconds),
    retainFailedSeconds: z.number().int().min(0).default(DEFAULTS.worker.retainFailedSeconds),
    storageFailureThreshold: positiveInt.default(DEFAULTS.worker.storageFailureThreshold),
    storagePauseMs: positiveInt.default(DEFAULTS.worker.storagePauseMs),
    concurrency: z.number().int().min(0).default(DEFAULTS.worker.concurrency),
    metricsPort: z.number().int().min(0).max(65535).optional(),
    metricsHost: z.string().min(1).default(DEFAULTS.worker.metricsHost),
  }).prefault({}),
  /** The ops server (Bull Board, queue metrics); see src/ops/ops-auth.ts for the credential rules. */
  ops: z.object({
    host: z.string().min(1).default(DEFAULTS.ops.host),
    port: z.number().int().min(0).max(65535).default(DEFAULTS.ops.port),
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    allowNoAuth: z.boolean().default(DEFAULTS.ops.allowNoAuth),
    readOnly: z.boolean().default(DEFAULTS.ops.readOnly),
  }).prefault({}),
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(DEFAULTS.log.level),
  }).prefault({}),
});

export type RevmodConfig = z.output<typeof configSchema>;
/** What callers may pass: every field optional, defaults filled in by `loadConfig`. */
export type RevmodConfigInput = z.input<typeof configSchema>;
