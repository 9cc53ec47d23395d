/**
 * Environment variables and the config field each sets. One table, so the README's configuration
 * section and the parser cannot drift apart.
 */
/** `secret-file`: the variable names a file whose content (one trailing newline dropped) is the secret. */
export type EnvKind = 'string' | 'int' | 'number' | 'boolean' | 'list' | 'secret' | 'secret-file' | 'nullable-number';

export interface EnvVarSpec {
  readonly name: string;
  readonly path: readonly [string, string];
  readonly kind: EnvKind;
  readonly help: string;
}

const v = (name: string, path: readonly [string, string], kind: EnvKind, help: string): EnvVarSpec =>
  ({ name, path, kind, help });

export const ENV_VARS: readonly EnvVarSpec[] = [
  v('REDIS_URL', ['redis', 'url'], 'string', 'Redis URL (redis:// or rediss:// for TLS).'),
  v('REDIS_PASSWORD', ['redis', 'password'], 'secret', 'Redis password (or put it in the URL).'),
  v('REDIS_PASSWORD_FILE', ['redis', 'password'], 'secret-file', 'File holding the Redis password (a mounted secret), instead of REDIS_PASSWORD.'),
  v('REDIS_TLS', ['redis', 'tls'], 'boolean', 'Force TLS to Redis.'),
  v('REVMOD_QUEUE_PREFIX', ['redis', 'prefix'], 'string', 'BullMQ key prefix; `{revmod}` on Redis Cluster.'),
  v('REVMOD_QUEUE', ['queues', 'moderation'], 'string', 'Moderation (input) queue name.'),
  v('REVMOD_RESULTS_QUEUE', ['queues', 'results'], 'string', 'Results queue name (every verdict).'),
  v('REVMOD_REVIEW_QUEUE', ['queues', 'review'], 'string', 'Human-review queue name (review/block verdicts).'),
  v('S3_ENDPOINT', ['s3', 'endpoint'], 'string', 'S3-compatible endpoint URL (MinIO, ...); unset for AWS.'),
  v('S3_REGION', ['s3', 'region'], 'string', 'S3 region.'),
  v('S3_FORCE_PATH_STYLE', ['s3', 'forcePathStyle'], 'boolean', 'Path-style addressing (MinIO needs it).'),
  v('S3_ACCESS_KEY_ID', ['s3', 'accessKeyId'], 'secret', 'Access key; unset to use the AWS default chain.'),
  v('S3_SECRET_ACCESS_KEY', ['s3', 'secretAccessKey'], 'secret', 'Secret key.'),
  v('S3_ACCESS_KEY_ID_FILE', ['s3', 'accessKeyId'], 'secret-file', 'File holding the access key, instead of S3_ACCESS_KEY_ID.'),
  v('S3_SECRET_ACCESS_KEY_FILE', ['s3', 'secretAccessKey'], 'secret-file', 'File holding the secret key, instead of S3_SECRET_ACCESS_KEY.'),
  v('S3_CONNECT_TIMEOUT_MS', ['s3', 'connectTimeoutMs'], 'int', 'TCP connect timeout.'),
  v('S3_REQUEST_TIMEOUT_MS', ['s3', 'requestTimeoutMs'], 'int', 'Whole GetObject timeout.'),
  v('REVMOD_ALLOWED_BUCKETS', ['s3', 'allowedBuckets'], 'list', 'Comma-separated bucket allow-list; empty allows all.'),
  v('REVMOD_MAX_BYTES', ['limits', 'maxBytes'], 'int', 'Largest object fetched (checked from Content-Length).'),
  v('REVMOD_MAX_PIXELS', ['limits', 'maxPixels'], 'int', 'Largest declared width×height decoded.'),
  v('REVMOD_ALLOW_SVG', ['limits', 'allowSvg'], 'boolean', 'Decode SVG (external references are never fetched).'),
  v('REVMOD_MAX_META_BYTES', ['limits', 'maxMetaBytes'], 'int', 'Largest serialized `meta` accepted with a job.'),
  v('REVMOD_BATCH_SIZE', ['batch', 'size'], 'int', 'Images per inference batch.'),
  v('REVMOD_BATCH_MAX_WAIT_MS', ['batch', 'maxWaitMs'], 'int', 'Longest a partial batch waits for more images.'),
  v('REVMOD_MODEL_PATH', ['model', 'path'], 'string', 'ONNX model; its card is `<name>.card.json` beside it.'),
  v('REVMOD_EXECUTION_PROVIDER', ['model', 'executionProvider'], 'string', '`auto` (CUDA, else CPU), `cuda` or `cpu`.'),
  v('REVMOD_INTRA_OP_THREADS', ['model', 'intraOpThreads'], 'int', 'onnxruntime intra-op threads; 0 = all cores.'),
  v('REVMOD_PREPROCESS_MODE', ['model', 'preprocessMode'], 'string', '`torchvision` (parity) or `fast`.'),
  v('REVMOD_VIOLATE_THRESHOLD', ['policy', 'violateThreshold'], 'number', 'violate score ≥ this → review (card default 0.7).'),
  v('REVMOD_CONFIDENCE_THRESHOLD', ['policy', 'confidenceThreshold'], 'number', 'max score < this → review (card default 0.7).'),
  v('REVMOD_BLOCK_THRESHOLD', ['policy', 'blockThreshold'], 'nullable-number', 'violate score ≥ this → block; `off` disables.'),
  v('REVMOD_LOCK_DURATION_MS', ['worker', 'lockDurationMs'], 'int', 'BullMQ job lock, renewed every half; must outlast event-loop stalls and Redis blips.'),
  v('REVMOD_STALLED_INTERVAL_MS', ['worker', 'stalledIntervalMs'], 'int', 'How often stalled jobs (dead workers) are reclaimed.'),
  v('REVMOD_MAX_STALLED_COUNT', ['worker', 'maxStalledCount'], 'int', 'Stalls before a job fails (poison-image guard).'),
  v('REVMOD_ATTEMPTS', ['worker', 'attempts'], 'int', 'Attempts for transient failures (set at submit).'),
  v('REVMOD_BACKOFF_MS', ['worker', 'backoffMs'], 'int', 'First exponential backoff delay (set at submit).'),
  v('REVMOD_SHUTDOWN_TIMEOUT_MS', ['worker', 'shutdownTimeoutMs'], 'int', 'Drain deadline after SIGTERM.'),
  v('REVMOD_RETAIN_COMPLETED_S', ['worker', 'retainCompletedSeconds'], 'int', 'Keep completed jobs (dedupe window).'),
  v('REVMOD_RETAIN_FAILED_S', ['worker', 'retainFailedSeconds'], 'int', 'Keep failed jobs (dead-letter view).'),
  v('REVMOD_STORAGE_FAILURE_THRESHOLD', ['worker', 'storageFailureThreshold'], 'int', 'Storage failures in a row that pause intake (outage: attempts are kept).'),
  v('REVMOD_STORAGE_PAUSE_MS', ['worker', 'storagePauseMs'], 'int', 'Intake pause while the object store looks down.'),
  v('REVMOD_CONCURRENCY', ['worker', 'concurrency'], 'int', 'Jobs in flight; 0 = 2 × batch size.'),
  v('REVMOD_METRICS_PORT', ['worker', 'metricsPort'], 'int', 'Worker /metrics, /healthz, /readyz port; unset = off.'),
  v('REVMOD_METRICS_HOST', ['worker', 'metricsHost'], 'string', 'Interface the worker metrics/health server binds.'),
  v('REVMOD_OPS_HOST', ['ops', 'host'], 'string', 'Ops server (dashboard) interface; non-loopback requires credentials.'),
  v('REVMOD_OPS_PORT', ['ops', 'port'], 'int', 'Ops server port.'),
  v('REVMOD_OPS_USER', ['ops', 'user'], 'string', 'Dashboard basic-auth user.'),
  v('REVMOD_OPS_PASSWORD', ['ops', 'password'], 'secret', 'Dashboard basic-auth password.'),
  v('REVMOD_OPS_PASSWORD_FILE', ['ops', 'passwordFile'], 'string', 'File holding the dashboard password (instead of REVMOD_OPS_PASSWORD).'),
  v('REVMOD_OPS_ALLOW_NO_AUTH', ['ops', 'allowNoAuth'], 'boolean', 'Development only: no credentials, accepted on a loopback host only.'),
  v('REVMOD_OPS_READ_ONLY', ['ops', 'readOnly'], 'boolean', 'Dashboard read-only: no retry/clean/pause/remove.'),
  v('LOG_LEVEL', ['log', 'level'], 'string', 'pino level.'),
];
