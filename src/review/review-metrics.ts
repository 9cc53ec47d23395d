import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ReviewDecision } from '@revmod/client';
import { BACKLOG_AGE_BUCKETS_S, type ItemKind, type ReviewStore } from './review-store';
import type { ShadowRecord } from '../shadow/shadow-log';

/** Options of {@link createReviewMetrics}. */
export interface ReviewMetricsOptions {
  readonly store: ReviewStore;
  /** @defaultValue 'revmod_' */
  readonly prefix?: string;
  /** Node.js process metrics too. @defaultValue true */
  readonly defaultMetrics?: boolean;
  /** A scrape gives up on Redis after this long. @defaultValue 2000 */
  readonly timeoutMs?: number;
}

export interface ReviewMetrics {
  readonly registry: Registry;
  onIngest(kind: ItemKind): void;
  onDecision(decision: ReviewDecision): void;
  /** A decided image that a challenger scored in shadow: which of the two models the person agreed with. */
  onShadowDecided(record: ShadowRecord, decision: ReviewDecision): void;
  onAppeal(result: string): void;
  onLogFailure(): void;
}

/** Age bucket labels of the backlog gauge: `1m`, `5m`, … `24h`, `older`. */
export const BACKLOG_AGE_LABELS = [...BACKLOG_AGE_BUCKETS_S.map((s) => (s < 3_600 ? `${s / 60}m` : `${s / 3_600}h`)), 'older'] as const;

const seconds = (ms: number): number => Math.max(0, ms) / 1_000;

/**
 * The console's Prometheus metrics. The backlog is read from Redis at scrape time (every replica
 * reports the same numbers: take `max`, not `sum`); decision counters are per process (sum them).
 */
export function createReviewMetrics(o: ReviewMetricsOptions): ReviewMetrics {
  const p = o.prefix ?? 'revmod_';
  const registry = new Registry();
  const registers = [registry];
  if (o.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const timeoutMs = o.timeoutMs ?? 2_000;

  let inFlight: Promise<Snapshot | null> | undefined;
  interface Snapshot {
    readonly nowMs: number;
    readonly lanes: Awaited<ReturnType<ReviewStore['laneStats']>>;
    readonly byAge: Awaited<ReturnType<ReviewStore['backlogByAge']>>;
    readonly claims: number;
  }
  const snapshot = (): Promise<Snapshot | null> => {
    inFlight ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<null>((r) => { timer = setTimeout(() => r(null), timeoutMs); });
      const read = (async (): Promise<Snapshot> => {
        const nowMs = Date.now();
        const [lanes, byAge, claims] = await Promise.all([o.store.laneStats(), o.store.backlogByAge(nowMs), o.store.claimsHeld()]);
        return { nowMs, lanes, byAge, claims };
      })().catch(() => null);
      const s = await Promise.race([read, deadline]);
      clearTimeout(timer);
      return s;
    })().finally(() => { inFlight = undefined; });
    return inFlight;
  };

  new Gauge({
    name: `${p}review_pending_items`, registers, labelNames: ['lane'] as const,
    help: 'Review items waiting to be claimed, by lane (decide, audit, escalated); claimed items are not counted.',
    async collect() {
      this.reset();
      for (const l of (await snapshot())?.lanes ?? []) this.set({ lane: l.lane }, l.pending);
    },
  });
  new Gauge({
    name: `${p}review_oldest_pending_age_seconds`, registers, labelNames: ['lane'] as const,
    help: 'Exact age of the oldest unclaimed item per lane (since its verdict), 0 when the lane is empty.',
    async collect() {
      this.reset();
      const s = await snapshot();
      for (const l of s?.lanes ?? []) this.set({ lane: l.lane }, l.oldestEnqueuedAtMs === null ? 0 : seconds(s!.nowMs - l.oldestEnqueuedAtMs));
    },
  });
  new Gauge({
    name: `${p}review_backlog_items`, registers, labelNames: ['lane', 'age'] as const,
    help: `Unclaimed review items by lane and age bucket (not cumulative): ${BACKLOG_AGE_LABELS.join(', ')}.`,
    async collect() {
      this.reset();
      const s = await snapshot();
      const labelOf = new Map<string, string>(BACKLOG_AGE_BUCKETS_S.map((b, i) => [String(b), BACKLOG_AGE_LABELS[i]!]));
      labelOf.set('+Inf', 'older');
      for (const b of s?.byAge ?? []) this.set({ lane: b.lane, age: labelOf.get(b.le)! }, b.count);
    },
  });
  new Gauge({
    name: `${p}review_claims_held`, registers,
    help: 'Leases held by reviewers right now.',
    async collect() {
      const s = await snapshot();
      this.set(s?.claims ?? 0);
    },
  });
  new Gauge({
    name: `${p}review_metrics_up`, registers,
    help: '1 when this scrape read the review backlog from Redis, 0 when Redis did not answer in time.',
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });

  const ingested = new Counter({ name: `${p}review_ingested_total`, registers, labelNames: ['kind'] as const, help: 'Verdicts taken into review, by kind (decide, audit, sample).' });
  const decisions = new Counter({
    name: `${p}review_decisions_total`, registers, labelNames: ['reviewer', 'kind', 'outcome'] as const,
    help: 'Decisions made, by reviewer, kind (decide, audit, sample, appeal, reversal) and outcome (pass, block).',
  });
  const timeToDecision = new Histogram({
    name: `${p}review_time_to_decision_seconds`, registers, labelNames: ['kind'] as const,
    buckets: [60, 300, 900, 1_800, 3_600, 7_200, 14_400, 43_200, 86_400, 172_800],
    help: 'From the item entering the review queue (its verdict, or the appeal) to its decision.',
  });
  const handling = new Histogram({
    name: `${p}review_handling_seconds`, registers, labelNames: ['kind'] as const,
    buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
    help: 'From the claim to the decision: the time a person spent on the item.',
  });
  const judged = new Counter({
    name: `${p}review_model_judged_total`, registers, labelNames: ['model_version', 'model_reason'] as const,
    help: "Decisions on items where the model leaned one way (pass, block, or a suspected violation), by model version and the verdict's first reason.",
  });
  const overturns = new Counter({
    name: `${p}review_overturns_total`, registers, labelNames: ['model_version', 'model_reason'] as const,
    help: "Of those, decisions against the model's lean. Overturn rate = overturns / judged.",
  });
  const samples = new Counter({
    name: `${p}review_samples_decided_total`, registers, labelNames: ['outcome'] as const,
    help: 'Blind QC samples of auto-passed images decided, by outcome; outcome="block" is a miss of auto-pass (published as a block decision).',
  });
  const appeals = new Counter({ name: `${p}review_appeals_total`, registers, labelNames: ['result'] as const, help: 'Appeals received, by result (reopened, noted, stale, not_found).' });
  const logFailures = new Counter({ name: `${p}review_decision_log_failures_total`, registers, help: 'Decisions refused because the decision log in S3 could not be written.' });

  const safe = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A): void => {
    try {
      fn(...args);
    } catch {
      /* metrics are best effort */
    }
  };
  const shadowDecided = new Counter({
    name: `${p}shadow_decided_total`, registers, labelNames: ['champion', 'challenger', 'champion_right', 'challenger_right'] as const,
    help: 'Images a person decided that a challenger had scored in shadow, by whether each model\'s decision (pass, or review/block) matched the person\'s: accuracy where reviewers decided.',
  });
  return {
    registry,
    onIngest: safe((kind: ItemKind) => ingested.inc({ kind })),
    onDecision: safe((d: ReviewDecision) => {
      decisions.inc({ reviewer: d.reviewer.id, kind: d.kind, outcome: d.outcome });
      const decided = Date.parse(d.decidedAt);
      timeToDecision.observe({ kind: d.kind }, seconds(decided - Date.parse(d.enqueuedAt)));
      handling.observe({ kind: d.kind }, seconds(decided - Date.parse(d.claimedAt)));
      if (d.overturned !== null) {
        const labels = { model_version: d.model.version, model_reason: d.verdict.reasons[0] ?? 'none' };
        judged.inc(labels);
        if (d.overturned) overturns.inc(labels);
      }
      if (d.kind === 'sample') samples.inc({ outcome: d.outcome });
    }),
    onShadowDecided: safe((r: ShadowRecord, d: ReviewDecision) => {
      const violation = d.outcome !== 'pass';
      const right = (decision: string) => String((decision !== 'pass') === violation);
      shadowDecided.inc({ champion: r.champion.model, challenger: r.challenger.model, champion_right: right(r.champion.decision), challenger_right: right(r.challenger.decision) });
    }),
    onAppeal: safe((result: string) => appeals.inc({ result })),
    onLogFailure: safe(() => logFailures.inc()),
  };
}

