import type { S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createRedisConnection, isRevmodError, RevmodError, type ErrorCode, type ReviewDecision } from '@revmod/client';
import type { RevmodConfig } from '../config';
import { CONSOLE_ROLES, createWebAuth, hasRole, securityHeaders, sendError, type Identity, type UsersDirectory } from '../identity';
import { createS3Client } from '../storage/s3-object-store';
import { verdictCacheOf } from '../known/verdict-cache';
import { KnownLists } from '../known/known-lists';
import { listStoreOf } from '../known/list-store';
import { S3ObjectStore } from '../storage';
import { DecisionLog } from './decision-log';
import { DecisionService } from './decision-service';
import { MESSAGES, languageOf, isLanguage } from './i18n';
import { ImageProxy, type ImageSize } from './image-proxy';
import { startIngest, type Ingest } from './ingester';
import { createReviewMetrics, type ReviewMetrics } from './review-metrics';
import { isLane, ReviewStore, type Claim, type DecisionSummary, type HistoryEntry, type Lane, type ReviewItem } from './review-store';
import { loadTaxonomy, type Reason } from './taxonomy';
import { consoleScript } from './ui/console-assets';
import { renderConsolePage, renderLoginPage } from './ui/console-page';
import { CONSOLE_CSS } from './ui/console-styles';
import { verdictForReviewer } from './verdict-view';
import { ShadowLog } from '../shadow/shadow-log';

/** Options of {@link createConsoleApp}. */
export interface ConsoleAppOptions {
  readonly config: RevmodConfig;
  readonly users: UsersDirectory;
  readonly logger: Logger;
  /** Defaults to one from `config.s3`. */
  readonly s3?: S3Client;
  /** Consume the review and appeals queues in this process. @defaultValue true */
  readonly ingest?: boolean;
  /** Node.js process metrics on /metrics. @defaultValue true */
  readonly defaultMetrics?: boolean;
  /** How often lapsed leases are returned and the outbox is drained. @defaultValue 5000 */
  readonly sweepMs?: number;
}

export interface ConsoleApp {
  readonly app: Express;
  readonly store: ReviewStore;
  readonly decisions: DecisionService;
  readonly log: DecisionLog;
  readonly metrics: ReviewMetrics;
  readonly taxonomy: readonly Reason[];
  close(): Promise<void>;
}

/** HTTP status of each error code the console answers with. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401, FORBIDDEN: 403, CSRF_REJECTED: 403, BUCKET_NOT_ALLOWED: 403, ACCESS_DENIED: 502,
  ITEM_NOT_FOUND: 404, OBJECT_NOT_FOUND: 404, CLAIM_EXPIRED: 409, CLAIM_NOT_HELD: 409, DECISION_CONFLICT: 409, CONTENT_MISMATCH: 409,
  DECISION_INVALID: 400, INVALID_JOB: 400, DECISION_LOG_UNAVAILABLE: 503, STORAGE_UNAVAILABLE: 503, STORAGE_TIMEOUT: 504,
  OBJECT_TOO_LARGE: 422, IMAGE_CORRUPT: 422, IMAGE_TOO_LARGE: 422,
};

/** The image allow-list of the console: its own setting, else the SDK's; never empty. */
export function consoleImageBuckets(config: Pick<RevmodConfig, 'review' | 'requests'>): readonly string[] {
  const buckets = config.review.imageBuckets.length > 0 ? config.review.imageBuckets : config.requests.allowedBuckets;
  if (buckets.length === 0) {
    throw new RevmodError('CONFIG_INVALID', 'the review console serves images only from listed buckets: set REVMOD_REVIEW_IMAGE_BUCKETS (or REVMOD_ALLOWED_BUCKETS), received neither');
  }
  return buckets;
}

/** Refuses to build a console that could not keep its promises, naming the missing settings. */
export function checkConsoleConfig(config: RevmodConfig): { logBucket: string; sessionSecret: string } {
  const missing: string[] = [];
  if (config.review.logBucket === undefined) missing.push('REVMOD_DECISION_LOG_BUCKET (decisions are acknowledged only once in the S3 log)');
  if (config.review.sessionSecret === undefined) missing.push('REVMOD_SESSION_SECRET or REVMOD_SESSION_SECRET_FILE (signs the session cookies)');
  if (missing.length > 0) throw new RevmodError('CONFIG_INVALID', `the review console needs ${missing.join(' and ')}`);
  consoleImageBuckets(config);
  return { logBucket: config.review.logBucket!, sessionSecret: config.review.sessionSecret! };
}

const oneOf = <T extends string>(value: unknown, allowed: readonly T[], fallback: T): T => (allowed.includes(value as T) ? (value as T) : fallback);

/**
 * The review console: sign-in, the single-page console, and its API (claims, decisions, escalation,
 * the image proxy, counts, the leads' views), plus /healthz, /readyz and /metrics. It also runs the
 * review-queue and appeals consumers, the lease sweeper and the outbox drain, unless told not to.
 */
export function createConsoleApp(o: ConsoleAppOptions): ConsoleApp {
  const { config, logger } = o;
  const { logBucket, sessionSecret } = checkConsoleConfig(config);
  const redis: Redis = createRedisConnection(config, 'producer');
  const blocking: Redis = createRedisConnection(config, 'worker');
  for (const c of [redis, blocking]) c.on('error', () => undefined);
  const s3 = o.s3 ?? createS3Client(config.s3);
  const taxonomy = loadTaxonomy(config.review.taxonomyFile);
  const store = new ReviewStore({
    redis, prefix: config.redis.prefix, claimTtlMs: config.review.claimTtlMs, skipMs: config.review.skipMs,
    retainSeconds: config.retention.reviewItemsSeconds, eventsMax: config.retention.reviewEventsMax,
  });
  const log = new DecisionLog({ s3, bucket: logBucket, prefix: config.review.logPrefix });
  const metrics = createReviewMetrics({ store, defaultMetrics: o.defaultMetrics ?? true });
  const queue = new Queue<ReviewDecision>(config.queues.decisions, { connection: redis, prefix: config.redis.prefix });
  queue.on('error', () => undefined);
  const decisions = new DecisionService({
    store, log, queue, taxonomy, retainDecisionsSeconds: config.retention.decisionsSeconds,
    keepOcrText: config.review.logOcrText, metrics, logger,
    shadow: new ShadowLog(redis, config.redis.prefix, config.shadow.logMaxEntries, config.shadow.jobTtlSeconds),
    ...(config.known.enabled ? {
      known: verdictCacheOf(redis, config),
    } : {}),
  });
  // "Reject and block similar": the rejected image goes on a block list (hashed from its S3 object).
  const blockList = config.known.enabled && config.known.journalBucket !== undefined ? config.review.blockList : undefined;
  const knownLists = blockList === undefined ? undefined : new KnownLists({
    store: listStoreOf(redis, s3, config), objects: new S3ObjectStore(config.s3, s3), allowedBuckets: consoleImageBuckets(config),
    verdictOf: async (id) => (await store.get(id))?.verdict, maxBytes: config.limits.maxBytes,
    decode: { maxPixels: config.limits.maxPixels, allowSvg: config.limits.allowSvg },
  });
  const proxy = new ImageProxy({ s3, allowedBuckets: consoleImageBuckets(config), maxBytes: config.limits.maxBytes, maxPixels: config.limits.maxPixels, timeoutMs: config.s3.requestTimeoutMs });
  const ingest: Ingest | undefined = (o.ingest ?? true) ? startIngest({ config, connection: blocking, store, logger, metrics }) : undefined;

  const { identity: id } = config;
  const auth = createWebAuth({
    users: o.users, redis, keyPrefix: `${store.base}:web:`, sessionSecret, sessionTtlSeconds: config.review.sessionTtlSeconds,
    cookieSecure: config.review.cookieSecure, allowedRoles: CONSOLE_ROLES,
    loginMaxFailures: id.loginMaxFailures, loginWindowSeconds: id.loginWindowSeconds,
    ...(id.proxyHeader !== undefined ? { proxy: { header: id.proxyHeader, trusted: id.proxyTrusted } } : {}),
    renderLogin: (req, res, state) => {
      res.status(state.status).type('html').set('cache-control', 'no-store').send(renderLoginPage(languageOf(req.headers.cookie), state));
    },
  });
  const reviewerOnly = auth.requireRole(CONSOLE_ROLES);
  const leadOnly = auth.requireRole(['lead']);
  const who = (req: Request): Identity => req.identity!;
  const isLead = (req: Request): boolean => hasRole(who(req), 'lead');

  async function view(item: ReviewItem, claim?: Claim, preloaded?: { history: HistoryEntry[]; earlier: DecisionSummary[] }) {
    const blind = item.kind === 'sample' && !item.appeal;
    const { history, earlier } = preloaded ?? (await store.contextOf([item]))[0]!;
    const held = claim ?? (item.claim ? { id: item.id, token: item.claim.token, expiresAtMs: item.claim.expiresAtMs } : undefined);
    // A blind sample must look like any item to decide: its kind and the outcome in force would tell.
    const strip = (h: HistoryEntry): HistoryEntry => (blind ? Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'kind')) as HistoryEntry : h);
    return {
      id: item.id, token: held?.token ?? '', expiresAtMs: held?.expiresAtMs ?? 0,
      kind: blind ? 'decide' : item.kind, lane: item.lane, reversal: item.claim?.reversal ?? false,
      enqueuedAtMs: item.enqueuedAtMs, round: item.round, outcome: blind ? null : item.outcome,
      bucket: item.bucket, key: item.key, verdict: verdictForReviewer(item.verdict, blind),
      ...(item.appeal ? { appeal: item.appeal } : {}), ...(item.escalation ? { escalation: item.escalation } : {}),
      ...(item.last ? { last: item.last } : {}),
      history: history.map(strip), earlier: earlier.filter((d) => d.jobId !== item.id),
    };
  }

  const app = express();
  app.disable('x-powered-by');
  if (id.trustProxy.length > 0) app.set('trust proxy', id.trustProxy);
  app.get('/healthz', (_req, res) => { res.type('text/plain').send('ok\n'); });
  app.get('/readyz', async (_req, res) => {
    const ok = await redis.ping().then((r) => r === 'PONG', () => false);
    res.status(ok ? 200 : 503).type('text/plain').send(ok ? 'ready\n' : 'not ready: redis unreachable\n');
  });
  app.get('/metrics', async (_req, res) => {
    res.set('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(securityHeaders());
  app.get('/assets/console.css', (_req, res) => { res.type('text/css').set('cache-control', 'no-cache').send(CONSOLE_CSS); });
  app.get('/assets/console.js', (_req, res) => { res.type('application/javascript').set('cache-control', 'no-cache').send(consoleScript()); });
  app.get('/favicon.ico', (_req, res) => { res.status(204).end(); });
  app.get('/lang', (req, res) => {
    const to = isLanguage(req.query.to) ? req.query.to : 'zh-CN';
    const back = typeof req.query.back === 'string' && /^\/(?!\/)/.test(req.query.back) ? req.query.back : '/';
    res.cookie('revmod_lang', to, { sameSite: 'lax', maxAge: 365 * 86_400_000, path: '/' }).redirect(303, back);
  });
  app.use(express.json({ limit: '32kb' }));
  app.use(...auth.middleware);
  app.use(auth.router);

  app.get('/', reviewerOnly, (req, res) => {
    const lang = languageOf(req.headers.cookie);
    const user = who(req);
    res.type('html').set('cache-control', 'no-store').send(renderConsolePage(lang, {
      user: { id: user.id, name: user.name, roles: user.roles }, isLead: isLead(req), csrf: auth.csrfToken(req), lang, messages: MESSAGES,
      taxonomy: taxonomy.map((r) => ({ code: r.code, zh: r.zh, en: r.en })), claimBatch: config.review.claimBatch, nowMs: Date.now(),
      ...(blockList !== undefined ? { blockList } : {}),
    }));
  });

  const api = express.Router();
  api.use(reviewerOnly);
  const wrap = (fn: (req: Request, res: Response) => Promise<unknown>) => (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).then((body) => { if (!res.headersSent) res.set('cache-control', 'no-store').json({ nowMs: Date.now(), ...(body as object) }); }, next);
  };
  const bodyOf = (req: Request): Record<string, unknown> => (typeof req.body === 'object' && req.body !== null ? req.body as Record<string, unknown> : {});
  const tokenOf = (req: Request): string => {
    const token = bodyOf(req).token;
    if (typeof token !== 'string' || token === '') throw new RevmodError('DECISION_INVALID', `token must be the claim token, received ${JSON.stringify(token)}`);
    return token;
  };
  const itemId = (req: Request): string => {
    const value = String(req.params.id ?? '');
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(value)) throw new RevmodError('ITEM_NOT_FOUND', `no review item ${JSON.stringify(value)}`);
    return value;
  };

  api.post('/claim', wrap(async (req) => {
    const body = bodyOf(req);
    const lane: Lane = isLane(body.lane) ? body.lane : 'decide';
    if (lane === 'escalated' && !isLead(req)) throw new RevmodError('FORBIDDEN', 'escalations are handled by leads');
    const want = Math.max(1, Math.min(config.review.claimBatch, Number.isInteger(body.want) ? Number(body.want) : config.review.claimBatch));
    const claims = await store.claim(who(req).id, lane, want);
    const items = await store.getMany(claims.map((c) => c.id));
    const found = items.filter((i): i is ReviewItem => i !== undefined);
    const context = await store.contextOf(found);
    const views = await Promise.all(claims.map((c, i) => {
      const item = items[i];
      return item ? view(item, c, context[found.indexOf(item)]) : undefined;
    }));
    return { items: views.filter((v) => v !== undefined).sort((a, b) => a!.enqueuedAtMs - b!.enqueuedAtMs) };
  }));
  api.post('/extend', wrap(async (req) => ({ claims: await store.extend(who(req).id) })));
  api.get('/counts', wrap(async (req) => {
    const now = Date.now();
    const lanes = (await store.laneStats()).filter((l) => l.lane !== 'escalated' || isLead(req));
    return { lanes: lanes.map((l) => ({ lane: l.lane, pending: l.pending, oldestAgeMs: l.oldestEnqueuedAtMs === null ? null : Math.max(0, now - l.oldestEnqueuedAtMs) })) };
  }));
  api.post('/items/:id/decision', wrap(async (req) => {
    const body = bodyOf(req);
    const similar = body.blockSimilar === true;
    if (similar && (!knownLists || body.outcome !== 'block')) {
      throw new RevmodError('DECISION_INVALID', knownLists ? `blockSimilar goes with outcome "block", received ${JSON.stringify(body.outcome)}` : 'blockSimilar needs known-image lists (REVMOD_KNOWN_IMAGES and REVMOD_KNOWN_JOURNAL_BUCKET) on the console');
    }
    const { decision, repeated } = await decisions.decide(who(req), itemId(req), tokenOf(req), body);
    if (!similar) return { decision, repeated };
    // The decision is recorded whatever happens next; a failed listing is reported beside it.
    try {
      return { decision, repeated, blockSimilar: await blockSimilar(decision, who(req)) };
    } catch (err) {
      const e = isRevmodError(err) ? err : new RevmodError('INTERNAL', (err as Error).message);
      logger.warn({ err: e.message, jobId: decision.jobId }, 'rejected, but the image could not be added to the block list');
      return { decision, repeated, blockSimilar: { error: { code: e.code, message: e.message } } };
    }
  }));
  api.post('/items/:id/release', wrap(async (req) => {
    await store.release(who(req).id, itemId(req), tokenOf(req), bodyOf(req).skip === true);
    return { released: true };
  }));
  api.post('/items/:id/escalate', wrap(async (req) => {
    const note = decisions.validateNote(bodyOf(req).note);
    await store.escalate(who(req).id, itemId(req), tokenOf(req), note);
    return { escalated: true };
  }));
  api.get('/items/:id/image', (req, res, next) => {
    (async () => {
      const item = await store.get(itemId(req));
      if (!item) throw new RevmodError('ITEM_NOT_FOUND', `no review item ${req.params.id}`);
      // Only the reviewer holding the claim (or a lead) sees the image, with a lease that still runs.
      const holds = item.state === 'claimed' && item.claim?.user === who(req).id && item.claim.expiresAtMs > Date.now();
      if (!holds && !isLead(req)) throw new RevmodError('FORBIDDEN', `you do not hold a claim on ${item.id}: its image is shown to its reviewer only`);
      const size: ImageSize = oneOf(req.query.size, ['thumb', 'full'] as const, 'full');
      const jpeg = await proxy.render(item, size);
      res.status(200).set({ 'content-type': 'image/jpeg', 'cache-control': 'private, no-store', 'content-disposition': 'inline' }).send(jpeg);
    })().catch(next);
  });
  api.get('/items/:id', leadOnly, wrap(async (req) => {
    const item = await store.get(itemId(req));
    if (!item) throw new RevmodError('ITEM_NOT_FOUND', `no review item ${req.params.id}`);
    return { item: await view(item) };
  }));
  api.get('/decided', leadOnly, wrap(async () => {
    const ids = await store.recentDecided(50);
    const items = await store.getMany(ids);
    return { items: items.filter((i): i is ReviewItem => i !== undefined && i.last !== undefined).map((i) => ({ id: i.id, key: i.key, last: i.last })) };
  }));
  api.post('/items/:id/reverse', leadOnly, wrap(async (req) => {
    const claim = await store.claimForReversal(who(req).id, itemId(req));
    const item = await store.get(claim.id);
    return { item: await view(item!, claim) };
  }));
  app.use('/api', api);

  /** Lists a rejected image on the console's block list (made on first use). */
  async function blockSimilar(decision: DecisionSummary, by: Identity): Promise<{ list: string; entry: string; hash: string }> {
    const existing = await knownLists!.show(blockList!, 0).catch((err: RevmodError) => { if (err.code === 'LIST_NOT_FOUND') return undefined; throw err; });
    if (!existing) await knownLists!.create({ name: blockList!, kind: 'block', description: 'rejected in the review console with "reject and block similar"' }, 'review-console');
    else if (existing.list.kind !== 'block') throw new RevmodError('LIST_INVALID', `REVMOD_REVIEW_BLOCK_LIST names ${blockList}, an ${existing.list.kind} list: it must be a block list`);
    const entry = await knownLists!.add(blockList!, { verdictId: decision.jobId }, by.id, `rejected in review (${decision.id}: ${decision.reasons.join(', ')})`);
    return { list: blockList!, entry: entry.id, hash: entry.hash };
  }

  app.use(auth.errorHandler);
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (isRevmodError(err)) {
      const status = STATUS[err.code] ?? 500;
      if (status >= 500) logger.warn({ err, path: req.path }, 'console request failed');
      return sendError(res, status, err.code, err.message);
    }
    if ((err as { type?: string }).type === 'entity.parse.failed') return sendError(res, 400, 'DECISION_INVALID', 'the request body is not JSON');
    logger.error({ err, path: req.path }, 'console request failed');
    sendError(res, 500, 'INTERNAL', 'internal error');
  });

  const sweepMs = o.sweepMs ?? 5_000;
  const sweeper = setInterval(() => {
    store.reap().catch(() => undefined);
    decisions.drainOutbox().catch((err) => logger.warn({ err: (err as Error).message }, 'outbox: publishing decisions failed; retrying'));
  }, sweepMs);
  sweeper.unref();

  return {
    app, store, decisions, log, metrics, taxonomy,
    async close() {
      clearInterval(sweeper);
      await ingest?.close();
      await queue.close().catch(() => undefined);
      if (!o.s3) s3.destroy();
      for (const c of [redis, blocking]) await c.quit().catch(() => c.disconnect());
    },
  };
}
