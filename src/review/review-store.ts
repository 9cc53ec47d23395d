import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RevmodError, reviewKeyBase, type DecisionState, type ErrorCode, type Outcome, type ReviewDecision, type Verdict } from '@revmod/client';
import * as scripts from './review-scripts';
import { contentSha256 } from './verdict-view';

/** Where an item waits: people's decisions, audits of auto-blocks, and the leads' escalations. */
export const LANES = ['decide', 'audit', 'escalated'] as const;
export type Lane = (typeof LANES)[number];
/** Why an item is here: a `review` verdict, a `block` verdict, or a blind QC sample of a `pass`. */
export type ItemKind = 'decide' | 'audit' | 'sample';

export function isLane(value: unknown): value is Lane {
  return typeof value === 'string' && (LANES as readonly string[]).includes(value);
}

/** Options of {@link ReviewStore}. */
export interface ReviewStoreOptions {
  readonly redis: Redis;
  /** The BullMQ prefix; the store's keys live under `<prefix>:review`. */
  readonly prefix: string;
  /** A lease lapses after this long without activity. */
  readonly claimTtlMs: number;
  /** A skipped item is not offered again to the same reviewer for this long. */
  readonly skipMs: number;
  /** Decided items, their history and final state expire after this long. */
  readonly retainSeconds: number;
  /** The events stream is trimmed to about this many entries. */
  readonly eventsMax: number;
  /** How long a decision being written to the log holds its lease beyond expiry. @defaultValue 30000 */
  readonly commitGuardMs?: number;
}

/** One held lease. */
export interface Claim {
  readonly id: string;
  readonly token: string;
  readonly expiresAtMs: number;
}

/** One entry of an item's history. */
export interface HistoryEntry {
  readonly t: string;
  readonly at: number;
  readonly by?: string;
  readonly [field: string]: unknown;
}

/** A decision without its verdict snapshot: what the item and the final state keep. */
export type DecisionSummary = Omit<ReviewDecision, 'verdict'>;

/** An item as stored. */
export interface ReviewItem {
  readonly id: string;
  readonly verdict: Verdict;
  readonly kind: ItemKind;
  readonly state: 'pending' | 'claimed' | 'decided';
  readonly lane: Lane | '';
  readonly enqueuedAtMs: number;
  readonly round: number;
  readonly bucket: string;
  readonly key: string;
  readonly sha256: string | null;
  /** The outcome in force: the verdict's for audits and samples, the last decision's once decided; null while on hold. */
  readonly outcome: Outcome | null;
  readonly claim?: { readonly user: string; readonly token: string; readonly expiresAtMs: number; readonly claimedAtMs: number; readonly reversal: boolean };
  readonly escalation?: { readonly by: string; readonly note: string; readonly at: string };
  readonly appeal?: { readonly reason: string; readonly appealedAt: string };
  readonly last?: DecisionSummary;
}

/** What beginDecision hands to the decision code. */
export type BeginResult =
  | { readonly status: 'begin'; readonly nowMs: number; readonly item: ReviewItem }
  | { readonly status: 'done'; readonly last: DecisionSummary };

/** Lane sizes and the age of their oldest item, for the console's counters and the metrics. */
export interface LaneStats {
  readonly lane: Lane;
  readonly pending: number;
  /** Epoch ms of the oldest pending item's entry into the queue, or null when empty. */
  readonly oldestEnqueuedAtMs: number | null;
}

/** Upper bounds (seconds) of the backlog-by-age buckets. */
export const BACKLOG_AGE_BUCKETS_S = [60, 300, 900, 3_600, 14_400, 86_400] as const;

const OUTBOX = 'outbox';
const SCRIPT_SHAS = new Map<string, string>();

function fail(code: string, what: string): never {
  const messages: Record<string, string> = {
    ITEM_NOT_FOUND: `no review item ${what}`,
    CLAIM_EXPIRED: `your claim on ${what} expired: the item went back to the queue and this decision was not applied`,
    CLAIM_NOT_HELD: `you do not hold a claim on ${what} (another reviewer has it, or it was already decided)`,
    DECISION_INVALID: `this action does not apply to ${what}`,
  };
  throw new RevmodError((code in messages ? code : 'INTERNAL') as ErrorCode, messages[code] ?? `review store answered ${code} for ${what}`);
}

function parseItem(id: string, flat: readonly string[]): ReviewItem {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  const claim = f.ct !== undefined && f.cu !== undefined
    ? { user: f.cu, token: f.ct, expiresAtMs: Number(f.cx), claimedAtMs: Number(f.cs), reversal: f.rv === '1' }
    : undefined;
  return {
    id,
    verdict: JSON.parse(f.v ?? 'null') as Verdict,
    kind: (f.kind ?? 'decide') as ItemKind,
    state: (f.state ?? 'pending') as ReviewItem['state'],
    lane: (f.lane ?? '') as Lane | '',
    enqueuedAtMs: Number(f.enq ?? 0),
    round: Number(f.round ?? 0),
    bucket: f.bucket ?? '',
    key: f.key ?? '',
    sha256: f.sha ? f.sha : null,
    outcome: f.outcome === 'pass' || f.outcome === 'block' ? f.outcome : null,
    ...(claim ? { claim } : {}),
    ...(f.esc ? { escalation: JSON.parse(f.esc) as ReviewItem['escalation'] } : {}),
    ...(f.appeal ? { appeal: JSON.parse(f.appeal) as ReviewItem['appeal'] } : {}),
    ...(f.last ? { last: JSON.parse(f.last) as DecisionSummary } : {}),
  };
}

/** The item's kind from its verdict: review → decide, block → audit, pass → a QC sample. */
export function kindOfVerdict(verdict: Pick<Verdict, 'decision'>): ItemKind {
  return verdict.decision === 'review' ? 'decide' : verdict.decision === 'block' ? 'audit' : 'sample';
}

/** The state getDecision reports for an item entering review. */
export function stateOnEntry(verdict: Verdict, kind: ItemKind): DecisionState {
  const base = { jobId: verdict.jobId, source: 'model' as const, round: 0, updatedAt: new Date().toISOString() };
  return kind === 'decide' ? { ...base, status: 'pending', outcome: null } : { ...base, status: 'final', outcome: kind === 'audit' ? 'block' : 'pass' };
}

/** sha256 of bucket/key: the index key for deletion by key (keys may hold personal data). */
export function keyIndexOf(bucket: string, key: string): string {
  return createHash('sha256').update(bucket).update('\0').update(key).digest('hex');
}

/**
 * The review queue as people work it, in Redis: pending items per lane (oldest first), claims as
 * leases with an expiry, decisions recorded once per claim, the history of each item, earlier
 * decisions on the same content, and the final state the SDK reads. All changes are Lua scripts.
 */
export class ReviewStore {
  readonly base: string;
  private readonly guardMs: number;

  constructor(private readonly o: ReviewStoreOptions) {
    this.base = reviewKeyBase(o.prefix);
    this.guardMs = o.commitGuardMs ?? 30_000;
  }

  get redis(): Redis {
    return this.o.redis;
  }

  get claimTtlMs(): number {
    return this.o.claimTtlMs;
  }

  private async run(script: string, args: ReadonlyArray<string | number>): Promise<unknown> {
    const all = [`${this.base}:claims`, this.base, this.o.eventsMax, ...args];
    let sha = SCRIPT_SHAS.get(script);
    if (sha === undefined) {
      sha = createHash('sha1').update(script).digest('hex');
      SCRIPT_SHAS.set(script, sha);
    }
    try {
      return await this.o.redis.evalsha(sha, 1, ...all);
    } catch (err) {
      // A restarted or flushed Redis has forgotten the script: send it once more.
      if (!/NOSCRIPT/.test((err as Error).message)) throw err;
      return this.o.redis.eval(script, 1, ...all);
    }
  }

  /** Adds a verdict from the review queue; false when it is already known (a republished verdict). */
  async ingest(verdict: Verdict, kind: ItemKind = kindOfVerdict(verdict)): Promise<boolean> {
    const lane: Lane = kind === 'audit' ? 'audit' : 'decide';
    const enq = Number.isFinite(Date.parse(verdict.decidedAt)) ? Date.parse(verdict.decidedAt) : Date.now();
    const outcome = kind === 'audit' ? 'block' : kind === 'sample' ? 'pass' : '';
    const added = await this.run(scripts.INGEST, [
      verdict.id, JSON.stringify(verdict), kind, lane, enq, verdict.bucket, verdict.key, contentSha256(verdict) ?? '',
      JSON.stringify(stateOnEntry(verdict, kind)), keyIndexOf(verdict.bucket, verdict.key), this.o.retainSeconds, outcome,
    ]);
    return added === 1;
  }

  /** The user's leases in `lane`, topped up to `want` with the oldest items they have not skipped. */
  async claim(user: string, lane: Lane, want: number): Promise<Claim[]> {
    const flat = await this.run(scripts.CLAIM, [user, lane, want, this.o.claimTtlMs, `${randomBytes(9).toString('base64url')}.`]) as string[];
    const out: Claim[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) out.push({ id: flat[i]!, token: flat[i + 1]!, expiresAtMs: Number(flat[i + 2]) });
    return out;
  }

  /** Activity: every running lease of the user starts its idle time again. */
  async extend(user: string): Promise<Array<{ id: string; expiresAtMs: number }>> {
    const flat = await this.run(scripts.EXTEND, [user, this.o.claimTtlMs]) as string[];
    const out: Array<{ id: string; expiresAtMs: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, expiresAtMs: Number(flat[i + 1]) });
    return out;
  }

  /** Gives an item back (at its place in the queue); `skip` also keeps it from this user for a while. */
  async release(user: string, id: string, token: string, skip: boolean): Promise<void> {
    const r = await this.run(scripts.RELEASE, [user, id, token, skip ? 'skip' : 'release', this.o.skipMs]) as string;
    if (r !== 'OK') fail(r, id);
  }

  async escalate(user: string, id: string, token: string, note: string): Promise<void> {
    const r = await this.run(scripts.ESCALATE, [user, id, token, JSON.stringify({ by: user, note, at: new Date().toISOString() })]) as string;
    if (r !== 'OK') fail(r, id);
  }

  /** Checks the claim before a decision and holds its lease while the decision is logged. */
  async beginDecision(user: string, id: string, token: string): Promise<BeginResult> {
    const r = await this.run(scripts.BEGIN_DECISION, [user, id, token, this.guardMs]) as string[];
    if (r[0] === 'DONE') return { status: 'done', last: JSON.parse(r[1]!) as DecisionSummary };
    if (r[0] !== 'BEGIN') fail(r[0] ?? 'INTERNAL', id);
    return { status: 'begin', nowMs: Number(r[1]), item: parseItem(id, r.slice(2)) };
  }

  async abortDecision(user: string, id: string, token: string): Promise<void> {
    await this.run(scripts.ABORT_DECISION, [user, id, token]);
  }

  /** Records a decision already in the log; it waits in the outbox until the decisions queue has it. */
  async commitDecision(user: string, token: string, decision: ReviewDecision, state: DecisionState): Promise<void> {
    const { verdict: _snapshot, ...summary } = decision;
    const r = await this.run(scripts.COMMIT_DECISION, [
      user, decision.jobId, token, JSON.stringify(decision), JSON.stringify(summary), JSON.stringify(state),
      decision.id, decision.outcome, decision.round, this.o.retainSeconds, decision.sha256 ?? '', `${this.base}:${OUTBOX}`,
    ]) as string;
    if (r !== 'OK') fail(r, decision.jobId);
  }

  /** Decisions recorded but not yet confirmed on the decisions queue. */
  async outbox(): Promise<ReviewDecision[]> {
    const all = await this.o.redis.hvals(`${this.base}:${OUTBOX}`);
    return all.map((text) => JSON.parse(text) as ReviewDecision);
  }

  async ackOutbox(decisionId: string): Promise<void> {
    await this.o.redis.hdel(`${this.base}:${OUTBOX}`, decisionId);
  }

  /**
   * Reopens a decided item for an appeal (creating it from `verdict` when the image was never
   * reviewed). `round` is the decision contested: an appeal of an older one is noted, not reopened.
   */
  async appeal(id: string, appeal: { reason: string; appealedAt: string }, round: number, verdict?: Verdict): Promise<'REOPENED' | 'NOTED' | 'STALE' | 'ITEM_NOT_FOUND'> {
    const current = await this.get(id);
    const outcome = current?.outcome ?? (verdict && verdict.decision !== 'review' ? verdict.decision : null);
    const pending: DecisionState = { jobId: id, status: 'pending', outcome, source: current?.last ? 'reviewer' : 'model', round, ...(current?.last ? { decision: current.last } : {}), updatedAt: new Date().toISOString() };
    const fresh = !current && verdict ? [
      JSON.stringify(verdict), verdict.decision === 'block' ? 'audit' : 'decide', verdict.bucket, verdict.key, contentSha256(verdict) ?? '',
      verdict.decision === 'review' ? '' : verdict.decision, keyIndexOf(verdict.bucket, verdict.key),
    ] : ['', '', '', '', '', '', ''];
    return await this.run(scripts.APPEAL, [id, JSON.stringify(appeal), round, JSON.stringify(pending), this.o.retainSeconds, ...fresh]) as 'REOPENED' | 'NOTED' | 'STALE' | 'ITEM_NOT_FOUND';
  }

  /** A lead's lease on a decided item, to reverse its decision. */
  async claimForReversal(lead: string, id: string): Promise<Claim> {
    const r = await this.run(scripts.CLAIM_REVERSAL, [lead, id, this.o.claimTtlMs, `${randomBytes(9).toString('base64url')}.r`]) as string[];
    if (r[0] !== 'OK') fail(r[0] ?? 'INTERNAL', id);
    return { id, token: r[1]!, expiresAtMs: Number(r[2]) };
  }

  /** Returns lapsed leases to the queue now (claims do it too; this keeps metrics and counts exact). */
  async reap(limit = 500): Promise<number> {
    return await this.run(scripts.REAP, [limit]) as number;
  }

  async get(id: string): Promise<ReviewItem | undefined> {
    const flat = await this.o.redis.call('HGETALL', `${this.base}:item:${id}`) as string[];
    return flat.length === 0 ? undefined : parseItem(id, flat);
  }

  async getMany(ids: readonly string[]): Promise<Array<ReviewItem | undefined>> {
    if (ids.length === 0) return [];
    const pipeline = this.o.redis.pipeline();
    for (const id of ids) pipeline.call('HGETALL', `${this.base}:item:${id}`);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, flat], i) => (err || !Array.isArray(flat) || flat.length === 0 ? undefined : parseItem(ids[i]!, flat as string[])));
  }

  async history(id: string): Promise<HistoryEntry[]> {
    const entries = await this.o.redis.lrange(`${this.base}:item:${id}:log`, 0, -1);
    return entries.map((e) => JSON.parse(e) as HistoryEntry);
  }

  /** History and earlier decisions on the same content of each item, in one round trip. */
  async contextOf(items: readonly ReviewItem[]): Promise<Array<{ history: HistoryEntry[]; earlier: DecisionSummary[] }>> {
    if (items.length === 0) return [];
    const p = this.o.redis.pipeline();
    for (const item of items) {
      p.lrange(`${this.base}:item:${item.id}:log`, 0, -1);
      p.lrange(`${this.base}:sha:${item.sha256 ?? '-'}`, 0, item.sha256 ? -1 : -2);
    }
    const r = (await p.exec()) ?? [];
    const list = (k: number): string[] => (Array.isArray(r[k]?.[1]) ? (r[k]![1] as string[]) : []);
    return items.map((_, i) => ({
      history: list(2 * i).map((e) => JSON.parse(e) as HistoryEntry),
      earlier: list(2 * i + 1).map((e) => JSON.parse(e) as DecisionSummary),
    }));
  }

  /** Earlier decisions on the same content (newest first), for re-uploads. */
  async decisionsForContent(sha256: string): Promise<DecisionSummary[]> {
    const entries = await this.o.redis.lrange(`${this.base}:sha:${sha256}`, 0, -1);
    return entries.map((e) => JSON.parse(e) as DecisionSummary);
  }

  /** The most recently decided items, newest first. */
  async recentDecided(limit: number): Promise<string[]> {
    return this.o.redis.zrevrange(`${this.base}:decided`, 0, limit - 1);
  }

  async laneStats(): Promise<LaneStats[]> {
    const p = this.o.redis.pipeline();
    for (const lane of LANES) {
      p.zcard(`${this.base}:lane:${lane}`);
      p.zrange(`${this.base}:lane:${lane}`, '0', '0', 'WITHSCORES');
    }
    const r = (await p.exec()) ?? [];
    return LANES.map((lane, i) => {
      const oldest = r[2 * i + 1]?.[1] as string[] | undefined;
      return { lane, pending: Number(r[2 * i]?.[1] ?? 0), oldestEnqueuedAtMs: oldest && oldest.length >= 2 ? Number(oldest[1]) : null };
    });
  }

  /** Pending items per lane by age bucket (upper bounds {@link BACKLOG_AGE_BUCKETS_S}, then older), at `nowMs`. */
  async backlogByAge(nowMs: number): Promise<Array<{ lane: Lane; le: string; count: number }>> {
    const p = this.o.redis.pipeline();
    for (const lane of LANES) {
      let upper = '+inf';
      for (const seconds of BACKLOG_AGE_BUCKETS_S) {
        const lower = nowMs - seconds * 1_000;
        p.zcount(`${this.base}:lane:${lane}`, `(${lower}`, upper);
        upper = String(lower);
      }
      p.zcount(`${this.base}:lane:${lane}`, '-inf', upper);
    }
    const r = (await p.exec()) ?? [];
    const labels = [...BACKLOG_AGE_BUCKETS_S.map(String), '+Inf'];
    const out: Array<{ lane: Lane; le: string; count: number }> = [];
    LANES.forEach((lane, li) => labels.forEach((le, bi) => out.push({ lane, le, count: Number(r[li * labels.length + bi]?.[1] ?? 0) })));
    return out;
  }

  /** Held leases right now. */
  async claimsHeld(): Promise<number> {
    return this.o.redis.zcard(`${this.base}:claims`);
  }

  /** Item ids indexed under a bucket/key or a content sha256 (for deletion). */
  async idsFor(selector: { bucket: string; key: string } | { sha256: string }): Promise<string[]> {
    const k = 'sha256' in selector ? `${this.base}:idx:sha:${selector.sha256}` : `${this.base}:idx:key:${keyIndexOf(selector.bucket, selector.key)}`;
    return this.o.redis.smembers(k);
  }

  /** Removes an item and its history, final state, content index and earlier-decisions list. */
  async deleteItem(id: string, by: string): Promise<{ bucket: string; key: string; sha256: string } | undefined> {
    const r = await this.run(scripts.DELETE_ITEM, [id, by]) as string[];
    return r.length === 0 ? undefined : { bucket: r[0]!, key: r[1]!, sha256: r[2]! };
  }

  /** Restores a final state from the log (replay), unless a newer round is already recorded. */
  async restoreState(state: DecisionState): Promise<boolean> {
    const key = `${this.base}:final:${state.jobId}`;
    const current = await this.o.redis.get(key);
    if (current !== null && (JSON.parse(current) as DecisionState).round >= state.round) return false;
    await this.o.redis.set(key, JSON.stringify(state), 'EX', this.o.retainSeconds);
    return true;
  }
}
