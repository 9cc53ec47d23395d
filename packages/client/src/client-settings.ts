import { defineSettings, type ConfigInputOf, type ConfigOf } from './settings/define';
import { loadSettings } from './settings/load';

/**
 * The settings the SDK reads: where Redis is, the queue names, what a valid request is and how
 * moderation jobs are retried and retained. The worker reads the same ones (and more, in its own
 * tree), so a producer and a worker configured from one environment agree.
 */
export const CLIENT_SETTINGS = defineSettings({
  redis: {
    url: { env: 'REDIS_URL', kind: 'string', default: 'redis://127.0.0.1:6379', pattern: /^rediss?:\/\//, patternHint: 'start with redis:// or rediss://', urlWithCredentials: true, doc: 'Redis URL (redis:// or rediss:// for TLS).' },
    password: { env: 'REDIS_PASSWORD', fileEnv: 'REDIS_PASSWORD_FILE', kind: 'string', secret: true, doc: 'Redis password (or put it in the URL); REDIS_PASSWORD_FILE names a file holding it (a mounted secret).' },
    tls: { env: 'REDIS_TLS', kind: 'boolean', default: false, doc: 'Force TLS to Redis.' },
    prefix: { env: 'REVMOD_QUEUE_PREFIX', kind: 'string', default: 'revmod', doc: 'BullMQ key prefix; `{revmod}` on Redis Cluster.' },
  },
  queues: {
    moderation: { env: 'REVMOD_QUEUE', kind: 'string', default: 'moderation', doc: 'Moderation (input) queue name.' },
    results: { env: 'REVMOD_RESULTS_QUEUE', kind: 'string', default: 'moderation-results', doc: 'Results queue name (every verdict).' },
    review: { env: 'REVMOD_REVIEW_QUEUE', kind: 'string', default: 'moderation-review', doc: 'Human-review queue name (review/block verdicts and QC samples); the review console owns it.' },
    decisions: { env: 'REVMOD_DECISIONS_QUEUE', kind: 'string', default: 'moderation-decisions', doc: 'Decisions queue name (every reviewer decision, for `consumeDecisions`).' },
    appeals: { env: 'REVMOD_APPEALS_QUEUE', kind: 'string', default: 'moderation-appeals', doc: 'Appeals queue name (`appeal()` requests, read by the review console).' },
    lists: { env: 'REVMOD_LISTS_QUEUE', kind: 'string', default: 'moderation-lists', doc: 'Known-image list requests (`addToList`, `removeFromList`, `lookup`), answered by workers with REVMOD_KNOWN_IMAGES on.' },
  },
  requests: {
    allowedBuckets: { env: 'REVMOD_ALLOWED_BUCKETS', kind: 'list', default: [], doc: 'Comma-separated bucket allow-list; empty allows all.' },
    maxMetaBytes: { env: 'REVMOD_MAX_META_BYTES', kind: 'int', default: 4_096, min: 1, doc: 'Largest serialized `meta` accepted with a job.' },
    listTimeoutMs: { env: 'REVMOD_KNOWN_REQUEST_TIMEOUT_MS', kind: 'int', default: 30_000, min: 100, doc: 'Longest a known-image list request (`ListsClient`: addToList, removeFromList, lookup) waits for a worker to answer.' },
  },
  signing: {
    key: { env: 'REVMOD_SIGNING_KEY', fileEnv: 'REVMOD_SIGNING_KEY_FILE', kind: 'string', secret: true, doc: 'HMAC key: workers sign every verdict with it; consumers (consumeVerdicts, getVerdict) refuse verdicts it did not sign. Unset: no signatures.' },
    previousKey: { env: 'REVMOD_SIGNING_PREVIOUS_KEY', fileEnv: 'REVMOD_SIGNING_PREVIOUS_KEY_FILE', kind: 'string', secret: true, doc: 'While rotating: the old key, still accepted by consumers (never used to sign).' },
  },
  jobs: {
    attempts: { env: 'REVMOD_ATTEMPTS', kind: 'int', default: 5, min: 1, doc: 'Attempts for transient failures (set at submit).' },
    backoffMs: { env: 'REVMOD_BACKOFF_MS', kind: 'int', default: 2_000, min: 1, doc: 'First exponential backoff delay (set at submit).' },
    retainCompletedSeconds: { env: 'REVMOD_RETAIN_COMPLETED_S', kind: 'int', default: 86_400, min: 0, doc: 'Keep completed jobs (dedupe window).' },
    retainFailedSeconds: { env: 'REVMOD_RETAIN_FAILED_S', kind: 'int', default: 1_209_600, min: 0, doc: 'Keep failed jobs (dead-letter view).' },
    verdictAttempts: { env: 'REVMOD_VERDICT_ATTEMPTS', kind: 'int', default: 60, min: 1, doc: 'Deliveries of one verdict to a consumer whose handler keeps failing (60 at the defaults: about 4 hours).' },
    verdictBackoffMs: { env: 'REVMOD_VERDICT_BACKOFF_MS', kind: 'int', default: 1_000, min: 1, doc: 'First delay before a verdict is delivered again; it doubles each time…' },
    verdictMaxBackoffMs: { env: 'REVMOD_VERDICT_MAX_BACKOFF_MS', kind: 'int', default: 300_000, min: 1, doc: '…up to this.' },
  },
});

export type ClientConfig = ConfigOf<typeof CLIENT_SETTINGS>;
export type ClientConfigInput = ConfigInputOf<typeof CLIENT_SETTINGS>;

/**
 * The SDK's config: `overrides` win over the environment (REDIS_URL, REVMOD_QUEUE_PREFIX, …).
 * Throws CONFIG_INVALID naming the field, its variable and the value received. A config loaded by
 * the worker (a superset) may be passed: sections the SDK does not read are ignored.
 */
export function loadClientConfig(overrides: ClientConfigInput = {}, env: Readonly<Record<string, string | undefined>> = process.env): ClientConfig {
  return loadSettings(CLIENT_SETTINGS, overrides, env, { ignoreUnknownSections: true });
}
