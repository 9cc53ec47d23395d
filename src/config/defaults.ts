/**
 * Every default in one place. Units are in the names. These values are what the worker runs with
 * when no environment variable overrides them (see README "Configuration").
 */
export const DEFAULTS = {
  redis: {
    url: 'redis://127.0.0.1:6379',
    /** BullMQ key prefix; use a `{hash-tag}` on Redis Cluster, e.g. `{revmod}`. */
    prefix: 'revmod',
  },
  queues: {
    moderation: 'moderation',
    results: 'moderation-results',
    review: 'moderation-review',
  },
  s3: {
    region: 'us-east-1',
    forcePathStyle: true,
    connectTimeoutMs: 3_000,
    requestTimeoutMs: 15_000,
    /** Empty: every bucket is allowed. */
    allowedBuckets: [] as string[],
  },
  limits: {
    /** Objects larger than this are refused from their Content-Length, before download. */
    maxBytes: 20 * 1024 * 1024,
    /** Images declaring more pixels are refused before decode (decompression bombs). */
    maxPixels: 40_000_000,
    allowSvg: false,
    /** Largest `meta` object accepted with a job, serialized. */
    maxMetaBytes: 4_096,
  },
  batch: {
    size: 32,
    maxWaitMs: 20,
  },
  model: {
    path: 'models/revmod-resnet18-seed0.onnx',
    executionProvider: 'auto' as 'auto' | 'cuda' | 'cpu',
    /** 0: let onnxruntime choose (all cores). */
    intraOpThreads: 0,
    preprocessMode: 'torchvision' as 'torchvision' | 'fast',
  },
  worker: {
    /** Must cover the longest time a job can wait for its batch's inference; renewed every half. */
    lockDurationMs: 60_000,
    stalledIntervalMs: 30_000,
    maxStalledCount: 2,
    attempts: 5,
    backoffMs: 2_000,
    shutdownTimeoutMs: 30_000,
    /** Keep finished moderation jobs this long: resubmitting the same key meanwhile is a no-op. */
    retainCompletedSeconds: 24 * 3600,
    retainFailedSeconds: 14 * 24 * 3600,
    /** Jobs in flight per worker; 0 means 2 × batch.size so the next batch fills during inference. */
    concurrency: 0,
    /** Interface of the worker's /metrics, /healthz, /readyz server (probes and scrapes come from outside). */
    metricsHost: '0.0.0.0',
  },
  ops: {
    /** Dashboard interface; loopback by default so nothing is exposed without credentials. */
    host: '127.0.0.1',
    port: 3000,
    /** Serve the dashboard without credentials (only accepted on a loopback host). */
    allowNoAuth: false,
    /** Bull Board read-only mode: no retry, clean, pause or remove from the dashboard. */
    readOnly: false,
  },
  log: {
    level: 'info',
  },
} as const;
