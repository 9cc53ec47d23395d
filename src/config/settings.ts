import { CLIENT_SETTINGS, defineSettings, listSettings, type ConfigInputOf, type ConfigOf } from '@revmod/client';

/**
 * Every setting of the worker and the ops server beyond the SDK's (CLIENT_SETTINGS), declared once:
 * variable, type, default, bounds and doc. The README's configuration table and `.env.example` are
 * rendered from here (`npm run docs`).
 */
export const SERVER_SETTINGS = defineSettings({
  s3: {
    endpoint: { env: 'S3_ENDPOINT', kind: 'string', url: true, urlWithCredentials: true, doc: 'S3-compatible endpoint URL (MinIO, ...); unset for AWS.' },
    region: { env: 'S3_REGION', kind: 'string', default: 'us-east-1', doc: 'S3 region.' },
    forcePathStyle: { env: 'S3_FORCE_PATH_STYLE', kind: 'boolean', default: true, doc: 'Path-style addressing (MinIO needs it).' },
    accessKeyId: { env: 'S3_ACCESS_KEY_ID', fileEnv: 'S3_ACCESS_KEY_ID_FILE', kind: 'string', secret: true, doc: 'Access key; unset to use the AWS default chain. S3_ACCESS_KEY_ID_FILE names a file holding it.' },
    secretAccessKey: { env: 'S3_SECRET_ACCESS_KEY', fileEnv: 'S3_SECRET_ACCESS_KEY_FILE', kind: 'string', secret: true, doc: 'Secret key. S3_SECRET_ACCESS_KEY_FILE names a file holding it.' },
    connectTimeoutMs: { env: 'S3_CONNECT_TIMEOUT_MS', kind: 'int', default: 3_000, min: 1, doc: 'TCP connect timeout.' },
    requestTimeoutMs: { env: 'S3_REQUEST_TIMEOUT_MS', kind: 'int', default: 15_000, min: 1, doc: 'Whole GetObject timeout.' },
  },
  limits: {
    maxBytes: { env: 'REVMOD_MAX_BYTES', kind: 'int', default: 20 * 1024 * 1024, min: 1, doc: 'Largest object fetched (checked from Content-Length).' },
    maxPixels: { env: 'REVMOD_MAX_PIXELS', kind: 'int', default: 40_000_000, min: 1, doc: 'Largest declared width×height decoded (decompression-bomb guard; a decoded 40 MP RGB image is 120 MB).' },
    allowSvg: { env: 'REVMOD_ALLOW_SVG', kind: 'boolean', default: false, doc: 'Decode SVG (external references are never fetched).' },
    maxInflightBytes: { env: 'REVMOD_MAX_INFLIGHT_BYTES', kind: 'int', default: 0, min: 0, doc: 'Upload bodies a worker holds at once before the image pool has them; 0 = an eighth of the container memory (cgroup limit, else RAM), at least 2 × REVMOD_MAX_BYTES.' },
    maxFrames: { env: 'REVMOD_MAX_FRAMES', kind: 'int', default: 8, min: 1, max: 64, doc: 'Frames of an animated GIF/WebP judged (first, last, evenly between); the verdict takes the worst.' },
  },
  pool: {
    threads: { env: 'REVMOD_POOL_THREADS', kind: 'int', default: 0, min: 0, max: 256, doc: 'Image pool threads (decode, resample, normalize, cheap detectors); 0 = one per core.' },
  },
  batch: {
    size: { env: 'REVMOD_BATCH_SIZE', kind: 'int', default: 32, min: 1, max: 1024, doc: 'Images per inference batch.' },
    // Short on purpose: a lone upload should not wait for company. Under load batches still fill,
    // because while two batches are in flight the next one keeps collecting (see MicroBatcher).
    maxWaitMs: { env: 'REVMOD_BATCH_MAX_WAIT_MS', kind: 'int', default: 2, min: 0, doc: 'Longest a partial batch waits for more images.' },
  },
  model: {
    path: { env: 'REVMOD_MODEL_PATH', kind: 'string', default: 'models/revmod-resnet18-seed0.onnx', doc: 'ONNX model (its card is `<name>.card.json` beside it), or a registry reference `s3://BUCKET/PREFIX/models/NAME@ALIAS` (or `@VERSION`) that workers follow when the alias moves.' },
    reloadPollMs: { env: 'REVMOD_MODEL_RELOAD_POLL_MS', kind: 'int', default: 15_000, min: 0, doc: 'With a registry reference: how often workers check the alias besides the Redis announcement of `revmod model alias`; 0 = announcements only.' },
    executionProvider: { env: 'REVMOD_EXECUTION_PROVIDER', kind: 'enum', values: ['auto', 'cuda', 'webgpu', 'cpu'], default: 'auto', doc: '`auto` (CUDA, else WebGPU on a GPU device, else CPU; each step that fails is logged), `cuda`, `webgpu` (Vulkan, any GPU driver; software Vulkan too) or `cpu`. A named GPU provider must work at start; a GPU lost later falls back to CPU.' },
    webgpuLayout: { env: 'REVMOD_WEBGPU_LAYOUT', kind: 'enum', values: ['NCHW', 'NHWC'], default: 'NCHW', doc: 'Layout the WebGPU provider computes convolutions in (the model input stays NCHW); NCHW compiled fewer shaders per new batch size on software Vulkan (docs/benchmarks.md).' },
    gpuWarmUpSizes: { env: 'REVMOD_GPU_WARMUP_SIZES', kind: 'list', default: ['1'], doc: 'Batch sizes run once with zeros when a GPU session loads (shader compilation; proves the device works); comma-separated, each 1 to REVMOD_BATCH_SIZE.' },
    gpuPadBatches: { env: 'REVMOD_GPU_PAD_BATCHES', kind: 'boolean', default: false, doc: 'On a GPU provider, pad a partial batch to the smallest warm-up size holding it (REVMOD_BATCH_SIZE is then warmed up too), so no batch shape is first compiled while serving.' },
    intraOpThreads: { env: 'REVMOD_INTRA_OP_THREADS', kind: 'int', default: 0, min: 0, doc: 'onnxruntime intra-op threads; 0 = all cores.' },
    preprocessMode: { env: 'REVMOD_PREPROCESS_MODE', kind: 'enum', values: ['torchvision', 'fast'], default: 'torchvision', doc: '`torchvision` (parity) or `fast`.' },
    allowUntrained: { env: 'REVMOD_ALLOW_UNTRAINED_MODEL', kind: 'boolean', default: false, doc: 'Serve a model whose card says `trained: false` (demo and tests only: its verdicts mean nothing).' },
    loadTimeoutMs: { env: 'REVMOD_MODEL_LOAD_TIMEOUT_MS', kind: 'int', default: 120_000, min: 1, doc: 'Longest the inference thread may take to load the model and warm up a GPU session (software Vulkan compiles its shaders for minutes).' },
    inferenceTimeoutMs: { env: 'REVMOD_INFERENCE_TIMEOUT_MS', kind: 'int', default: 60_000, min: 0, doc: 'Longest one inference run may take; a late run is abandoned (its thread replaced) and its batch retried; 0 = no deadline.' },
    maxInvalidBatches: { env: 'REVMOD_MAX_INVALID_BATCHES', kind: 'int', default: 3, min: 1, doc: 'Batches in a row with only non-finite model outputs after which the worker stops taking jobs and reports not ready.' },
  },
  shadow: {
    alias: { env: 'REVMOD_SHADOW_ALIAS', kind: 'string', default: 'challenger', pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, patternHint: 'be an alias name (letters, digits, . _ -)', doc: 'With a registry reference in REVMOD_MODEL_PATH: the alias of the model scored in shadow beside it, off the decision path (`revmod model alias challenger V`); nothing happens while the alias is unset. REVMOD_SHADOW_SHARE=0 turns shadow scoring off.' },
    share: { env: 'REVMOD_SHADOW_SHARE', kind: 'number', default: 0.2, min: 0, max: 1, doc: 'Most of the wall-clock time the challenger may take (its tensor building plus inference, over time); images beyond it are not shadowed. 0 turns shadow scoring off.' },
    reviewRate: { env: 'REVMOD_SHADOW_REVIEW_RATE', kind: 'number', default: 0, min: 0, max: 1, doc: 'Share of disagreements where the champion passed and the challenger would not that are also sent to review (as blind samples), for people to settle.' },
    intraOpThreads: { env: 'REVMOD_SHADOW_INTRA_OP_THREADS', kind: 'int', default: 1, min: 0, doc: 'onnxruntime intra-op threads of the challenger; 0 = all cores (on CPU it competes with the champion).' },
    jobTtlSeconds: { env: 'REVMOD_SHADOW_JOB_TTL_S', kind: 'int', default: 604_800, min: 60, doc: 'Each comparison is also kept by job id this long, so that the console can count which model was right when a person decides the image (revmod_shadow_decided_total).' },
    logMaxEntries: { env: 'REVMOD_SHADOW_LOG_MAX_ENTRIES', kind: 'int', default: 100_000, min: 100, doc: 'Shadow comparisons kept in Redis for `revmod eval shadow` (the stream is trimmed to about this length).' },
  },
  detectors: {
    blur: { env: 'REVMOD_DETECT_BLUR', kind: 'boolean', default: true, doc: 'Blur pre-filter (block Laplacian sharpness on the 512-px grey view, in the image pool): reason `blurry`.' },
    blurMinSharpness: { env: 'REVMOD_BLUR_MIN_SHARPNESS', kind: 'number', default: 12, min: 0, doc: 'Sharpness below which an image is `blurry` (calibrated: σ ≥ 2 Gaussian blur falls below 12, unblurred photos stay above 14; docs/detectors.md).' },
    qr: { env: 'REVMOD_DETECT_QR', kind: 'boolean', default: true, doc: 'QR and other matrix codes (zxing, in the image pool): reason `qr_code`, with the payload and its host as evidence.' },
    qrFormats: { env: 'REVMOD_QR_FORMATS', kind: 'list', default: ['QRCode', 'MicroQRCode', 'DataMatrix'], doc: 'zxing formats looked for (each a pass); add e.g. `EAN13`, `Code128` or `AllLinear` to report barcodes too.' },
    qrTryHarder: { env: 'REVMOD_QR_TRY_HARDER', kind: 'boolean', default: false, doc: 'zxing\'s slower, more thorough search.' },
    text: { env: 'REVMOD_DETECT_TEXT', kind: 'boolean', default: true, doc: 'Text detection: a text gate in the image pool on every image, PaddleOCR (its own threads) on those it lets through, then the contact, banned-words and text-heavy rules.' },
    textGateMinScore: { env: 'REVMOD_TEXT_GATE_MIN_SCORE', kind: 'number', min: -1000, max: 1000, doc: 'Text gate threshold (best-cell logit); lower sends more images to OCR. Unset = the trained threshold (≥ 99 % recall on held-out text images).' },
    contactKinds: { env: 'REVMOD_CONTACT_KINDS', kind: 'list', default: ['phone', 'wechat', 'qq', 'url', 'email'], doc: 'Contact details reported as `contact_info` (any of phone, wechat, qq, url, email).' },
    bannedWordsFile: { env: 'REVMOD_BANNED_WORDS_FILE', kind: 'string', doc: 'Terms reported as `banned_text`, one per line (`#` starts a comment); replaces the built-in list. Matched ignoring case, width, spaces and punctuation.' },
    textHeavyMinLines: { env: 'REVMOD_TEXT_HEAVY_MIN_LINES', kind: 'int', default: 6, min: 1, doc: '`text_heavy` (a screenshot or a page of text) needs at least this many OCR lines…' },
    textHeavyMinChars: { env: 'REVMOD_TEXT_HEAVY_MIN_CHARS', kind: 'int', default: 50, min: 1, doc: '…and at least this many characters.' },
    ocrTextInEvidence: { env: 'REVMOD_OCR_TEXT_IN_EVIDENCE', kind: 'boolean', default: false, doc: 'Put the whole OCR text into verdict evidence (it may hold personal data); off keeps only the matches.' },
    ocrThreads: { env: 'REVMOD_OCR_THREADS', kind: 'int', default: 1, min: 1, max: 64, doc: 'OCR threads per worker process (each holds ~100 MB of PaddleOCR sessions; ~340 ms CPU per text image).' },
    ocrMaxQueued: { env: 'REVMOD_OCR_MAX_QUEUED', kind: 'int', default: 64, min: 0, doc: 'Images that may wait for an OCR thread; beyond it jobs are retried later (OCR_OVERLOADED) instead of piling up in memory.' },
  },
  policy: {
    file: { env: 'REVMOD_POLICY_FILE', kind: 'string', doc: 'Rules policy file (JSON or YAML); unset = the built-in default (README "Decision policy").' },
    sensitivity: { env: 'REVMOD_SENSITIVITY', kind: 'enum', values: ['card', 'very-low', 'low', 'medium', 'high', 'very-high'], default: 'card', doc: 'Preset review threshold for `violate` and every category (very-low 0.9 … medium 0.7 … very-high 0.3); `card` keeps the card\'s.' },
    violateThreshold: { env: 'REVMOD_VIOLATE_THRESHOLD', kind: 'number', min: 0, max: 1, doc: 'violate score ≥ this → review (card default 0.7).' },
    confidenceThreshold: { env: 'REVMOD_CONFIDENCE_THRESHOLD', kind: 'number', min: 0, max: 1, doc: 'max score < this → review (card default 0.7).' },
    blockThreshold: { env: 'REVMOD_BLOCK_THRESHOLD', kind: 'nullable-number', min: 0, max: 1, doc: 'violate score ≥ this → block; `off` disables (card default off).' },
  },
  worker: {
    // BullMQ renews the lock every lockDuration/2 from a timer on the event loop, for every job held
    // (fetching, waiting for its batch or being inferred in its own thread), so it need not cover batch
    // times; it must outlast the longest event-loop stall plus a Redis blip. After a crash its jobs
    // wait up to lockDuration + 2 × stalledInterval (~60 s) to be taken over.
    lockDurationMs: { env: 'REVMOD_LOCK_DURATION_MS', kind: 'int', default: 30_000, min: 1, doc: 'BullMQ job lock, renewed every half; must outlast event-loop stalls and Redis blips.' },
    stalledIntervalMs: { env: 'REVMOD_STALLED_INTERVAL_MS', kind: 'int', default: 15_000, min: 1, doc: 'How often stalled jobs (dead workers) are reclaimed.' },
    maxStalledCount: { env: 'REVMOD_MAX_STALLED_COUNT', kind: 'int', default: 5, min: 1, doc: 'Stalls (its worker died) before BullMQ fails a job: a backstop above REVMOD_POISON_CRASHES.' },
    poisonCrashes: { env: 'REVMOD_POISON_CRASHES', kind: 'int', default: 2, min: 1, doc: 'Worker deaths while a job was being decoded or inferred after which it is poison: it gets a PROCESSING_CRASHED verdict (review); jobs that were only in flight beside it are retried.' },
    shutdownTimeoutMs: { env: 'REVMOD_SHUTDOWN_TIMEOUT_MS', kind: 'int', default: 30_000, min: 1, doc: 'Drain deadline after SIGTERM.' },
    storageFailureThreshold: { env: 'REVMOD_STORAGE_FAILURE_THRESHOLD', kind: 'int', default: 5, min: 1, doc: 'Storage failures in a row that pause intake (outage: attempts are kept).' },
    storagePauseMs: { env: 'REVMOD_STORAGE_PAUSE_MS', kind: 'int', default: 5_000, min: 1, doc: 'Intake pause while the object store looks down.' },
    concurrency: { env: 'REVMOD_CONCURRENCY', kind: 'int', default: 0, min: 0, doc: 'Jobs in flight; 0 = 2 × batch size.' },
    metricsPort: { env: 'REVMOD_METRICS_PORT', kind: 'int', min: 0, max: 65_535, doc: 'Worker /metrics, /healthz, /readyz port; unset = off.' },
    metricsHost: { env: 'REVMOD_METRICS_HOST', kind: 'string', default: '0.0.0.0', doc: 'Interface the worker metrics/health server binds.' },
  },
  ops: {
    host: { env: 'REVMOD_OPS_HOST', kind: 'string', default: '127.0.0.1', doc: 'Ops server (dashboard) interface; non-loopback requires credentials.' },
    port: { env: 'REVMOD_OPS_PORT', kind: 'int', default: 3_000, min: 0, max: 65_535, doc: 'Ops server port.' },
    user: { env: 'REVMOD_OPS_USER', kind: 'string', doc: 'Dashboard basic-auth user.' },
    password: { env: 'REVMOD_OPS_PASSWORD', fileEnv: 'REVMOD_OPS_PASSWORD_FILE', kind: 'string', secret: true, doc: 'Dashboard basic-auth password; REVMOD_OPS_PASSWORD_FILE names a file holding it.' },
    allowNoAuth: { env: 'REVMOD_OPS_ALLOW_NO_AUTH', kind: 'boolean', default: false, doc: 'Development only: no credentials, accepted on a loopback host only.' },
    readOnly: { env: 'REVMOD_OPS_READ_ONLY', kind: 'boolean', default: false, doc: 'Dashboard read-only: no retry/clean/pause/remove.' },
  },
  identity: {
    usersFile: { env: 'REVMOD_USERS_FILE', kind: 'string', doc: 'Users file (JSON, scrypt hashes; `revmod users add`): console logins (reviewer, lead) and dashboard logins (viewer, admin).' },
    proxyHeader: { env: 'REVMOD_AUTH_PROXY_HEADER', kind: 'string', pattern: /^[A-Za-z0-9-]+$/, patternHint: 'be an HTTP header name', doc: 'Trust this header (e.g. `X-Forwarded-User`) to name the signed-in user, from the proxies in REVMOD_AUTH_PROXY_TRUSTED only; roles still come from the users file.' },
    proxyTrusted: { env: 'REVMOD_AUTH_PROXY_TRUSTED', kind: 'list', default: [], doc: 'Addresses of the auth proxies whose identity header is trusted (IPs or CIDRs, comma-separated).' },
    loginMaxFailures: { env: 'REVMOD_LOGIN_MAX_FAILURES', kind: 'int', default: 5, min: 1, doc: 'Failed logins per user and client address within REVMOD_LOGIN_WINDOW_S before logins are refused (429).' },
    loginWindowSeconds: { env: 'REVMOD_LOGIN_WINDOW_S', kind: 'int', default: 900, min: 1, doc: 'Window of the failed-login limit.' },
    trustProxy: { env: 'REVMOD_TRUST_PROXY', kind: 'list', default: [], doc: 'Reverse proxies whose X-Forwarded-For/-Proto are believed (express `trust proxy`: IPs, CIDRs or `loopback`); empty trusts none.' },
  },
  review: {
    host: { env: 'REVMOD_REVIEW_HOST', kind: 'string', default: '127.0.0.1', doc: 'Review console interface.' },
    port: { env: 'REVMOD_REVIEW_PORT', kind: 'int', default: 3_001, min: 0, max: 65_535, doc: 'Review console port.' },
    sessionSecret: { env: 'REVMOD_SESSION_SECRET', fileEnv: 'REVMOD_SESSION_SECRET_FILE', kind: 'string', secret: true, pattern: /^.{32,}$/s, patternHint: 'be at least 32 characters', doc: 'Signs the console session cookies (≥ 32 characters); required by `revmod review`.' },
    sessionTtlSeconds: { env: 'REVMOD_SESSION_TTL_S', kind: 'int', default: 43_200, min: 60, doc: 'Console session lifetime after the last request.' },
    cookieSecure: { env: 'REVMOD_COOKIE_SECURE', kind: 'enum', values: ['auto', 'always', 'never'], default: 'auto', doc: 'Secure flag on the session cookie: `auto` when the request came over https (see REVMOD_TRUST_PROXY).' },
    claimTtlMs: { env: 'REVMOD_REVIEW_CLAIM_TTL_MS', kind: 'int', default: 300_000, min: 1_000, doc: 'A claim (lease) lapses after this long without activity from its reviewer; the item returns to the queue.' },
    claimBatch: { env: 'REVMOD_REVIEW_CLAIM_BATCH', kind: 'int', default: 12, min: 1, max: 48, doc: 'Items a reviewer holds at once (one grid page).' },
    skipMs: { env: 'REVMOD_REVIEW_SKIP_MS', kind: 'int', default: 600_000, min: 0, doc: 'A skipped item is not offered to the same reviewer again for this long.' },
    taxonomyFile: { env: 'REVMOD_REVIEW_TAXONOMY_FILE', kind: 'string', doc: 'JSON list of rejection reasons `[{ code, zh, en, category }]`; unset uses the built-in taxonomy.' },
    imageBuckets: { env: 'REVMOD_REVIEW_IMAGE_BUCKETS', kind: 'list', default: [], doc: 'Buckets the console may show images from; empty uses REVMOD_ALLOWED_BUCKETS, and the console refuses to start when both are empty.' },
    sampleRate: { env: 'REVMOD_REVIEW_SAMPLE_RATE', kind: 'number', default: 0, min: 0, max: 1, doc: 'Fraction of auto-passed images the worker also sends to review as blind QC samples.' },
    logBucket: { env: 'REVMOD_DECISION_LOG_BUCKET', kind: 'string', doc: 'S3 bucket of the decision log (JSONL); required by `revmod review`.' },
    logPrefix: { env: 'REVMOD_DECISION_LOG_PREFIX', kind: 'string', default: 'revmod/decisions/', doc: 'Key prefix of the decision log objects.' },
    logOcrText: { env: 'REVMOD_DECISION_LOG_OCR_TEXT', kind: 'boolean', default: false, doc: 'Keep OCR text in the decision log\'s verdict snapshots (it may hold phone numbers); off keeps only the matched kinds and spans.' },
    blockList: { env: 'REVMOD_REVIEW_BLOCK_LIST', kind: 'string', default: 'review-rejected', pattern: /^[a-z0-9][a-z0-9._-]{0,63}$/, patternHint: 'be a list name (a-z 0-9 . _ -)', doc: 'Known-image block list that the console\'s "reject and block similar" (key K) adds images to; created on first use. Needs REVMOD_KNOWN_IMAGES and REVMOD_KNOWN_JOURNAL_BUCKET.' },
  },
  retention: {
    reviewItemsSeconds: { env: 'REVMOD_RETAIN_REVIEW_S', kind: 'int', default: 2_592_000, min: 60, doc: 'Keep decided review items, their history and final states in Redis (`getDecision`, earlier decisions on the same content).' },
    decisionsSeconds: { env: 'REVMOD_RETAIN_DECISIONS_S', kind: 'int', default: 1_209_600, min: 0, doc: 'Keep consumed jobs of the decisions and appeals queues (dedupe window of replays).' },
    decisionLogDays: { env: 'REVMOD_RETAIN_DECISION_LOG_DAYS', kind: 'int', default: 0, min: 0, doc: 'Delete decision log objects older than this (`revmod retention apply`); 0 keeps them.' },
    exportsDays: { env: 'REVMOD_RETAIN_EXPORTS_DAYS', kind: 'int', default: 0, min: 0, doc: 'Delete dataset exports recorded by `revmod dataset export` older than this (`revmod retention apply`); 0 keeps them.' },
    reviewEventsMax: { env: 'REVMOD_REVIEW_EVENTS_MAX', kind: 'int', default: 100_000, min: 100, doc: 'Review events kept for `watchReview` (the stream is trimmed to about this length).' },
  },
  known: {
    enabled: { env: 'REVMOD_KNOWN_IMAGES', kind: 'boolean', default: false, doc: 'Known images on workers: reuse verdicts and people\'s decisions on identical bytes, and match PDQ hashes against the block/allow lists (docs/known-images.md).' },
    verdictTtlSeconds: { env: 'REVMOD_KNOWN_VERDICT_TTL_S', kind: 'int', default: 604_800, min: 0, doc: 'A machine verdict is reused for identical bytes (same model and policy versions) for this long; 0 = never reused.' },
    decisionTtlSeconds: { env: 'REVMOD_KNOWN_DECISION_TTL_S', kind: 'int', default: 31_536_000, min: 60, doc: 'A person\'s decision on an image stands for identical bytes re-uploaded within this long (beats machine verdicts, no second look).' },
    journalBucket: { env: 'REVMOD_KNOWN_JOURNAL_BUCKET', kind: 'string', doc: 'S3 bucket of the known-image lists\' journal (every change, so that a Redis loss loses no list); lists cannot be changed without it.' },
    journalPrefix: { env: 'REVMOD_KNOWN_JOURNAL_PREFIX', kind: 'string', default: 'revmod/known-lists/', doc: 'Key prefix of the lists\' journal objects.' },
    syncIntervalMs: { env: 'REVMOD_KNOWN_SYNC_INTERVAL_MS', kind: 'int', default: 1_000, min: 50, doc: 'Workers check the lists\' version this often, besides the change notices (pub/sub) that apply changes at once.' },
  },
  log: {
    level: { env: 'LOG_LEVEL', kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', doc: 'pino level.' },
  },
});

/** Every setting revmod reads: the SDK's and the server's. */
export const REVMOD_SETTINGS = defineSettings({ ...CLIENT_SETTINGS, ...SERVER_SETTINGS });

export type RevmodConfig = ConfigOf<typeof REVMOD_SETTINGS>;
/** What callers may pass: every section and field optional, defaults filled in by `loadConfig`. */
export type RevmodConfigInput = ConfigInputOf<typeof REVMOD_SETTINGS>;

/** Every environment variable revmod reads (the `*_FILE` variants included). */
export function envVarNames(): string[] {
  return listSettings(REVMOD_SETTINGS).flatMap(({ setting }) => (setting.fileEnv ? [setting.env, setting.fileEnv] : [setting.env]));
}
