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
    /**
     * Short on purpose: a lone upload should not wait for company. Under load batches still fill,
     * because while two batches are in flight the next one keeps collecting (see MicroBatcher).
     */
    maxWaitMs: 2,
  },
  model: {
    path: 'models/revmod-resnet18-seed0.onnx',
    executionProvider: 'auto' as 'auto' | 'cuda' | 'cpu',
    /** 0: let onnxruntime choose (all cores). */
    intraOpThreads: 0,
    preprocessMode: 'torchvision' as 'torchvision' | 'fast',
  },
  worker: {
    /**
     * Job lock. BullMQ renews it every lockDuration/2 from a timer on the event loop, for every job
     * held, whether it is fetching, waiting for its batch or being inferred (inference runs in its
     * own thread). So it need not cover batch times (a batch of 32 is ~1 s on CPU); it must outlast
     * the longest event-loop stall (preprocessing's JS loops on big images, GC) plus a Redis blip,
     * else a live worker's jobs are taken over (harmless, verdict ids dedupe, but wasted work).
     * After a crash its jobs wait up to lockDuration + 2 × stalledInterval (~60 s) to be taken over.
     */
    lockDurationMs: 30_000,
    /** How often each worker looks for jobs whose lock expired (their worker died). */
    stalledIntervalMs: 15_000,
    /** Takeovers before a job fails for good: an image that crashes every worker ends in the failed list. */
    maxStalledCount: 2,
    attempts: 5,
    backoffMs: 2_000,
    shutdownTimeoutMs: 30_000,
    /** Keep finished moderation jobs this long: resubmitting the same key meanwhile is a no-op. */
    retainCompletedSeconds: 24 * 3600,
    retainFailedSeconds: 14 * 24 * 3600,
    /** Storage failures in a row (no success between) that mean "S3 is down": intake pauses, attempts are kept. */
    storageFailureThreshold: 5,
    /** How long intake pauses each time the object store looks down. */
    storagePauseMs: 5_000,
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
