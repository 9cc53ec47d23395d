import type { Redis } from 'ioredis';
import type { Decision, Verdict } from '@revmod/client';
import type { RevmodConfig } from '../config';
import type { PdqHashes } from '../pool/decode-task';
import type { ReusableVerdict } from './known-images';

/** Options of {@link VerdictCache}. */
export interface VerdictCacheOptions {
  readonly redis: Redis;
  /** The BullMQ prefix (`revmod`); entries live under `<prefix>:known:`. */
  readonly prefix: string;
  /** How long a machine verdict is reused; 0: never. */
  readonly verdictTtlSeconds: number;
  /** How long a person's decision stands for re-uploads of the same bytes. */
  readonly decisionTtlSeconds: number;
}

/** A machine verdict kept for reuse, with the upload's PDQ hashes (to check the lists on reuse). */
interface CachedVerdict {
  readonly verdict: Verdict;
  readonly pdq?: PdqHashes;
}

/** Reasons of verdicts that depend on the lists at the time, so never reused for the bytes alone. */
const LIST_REASONS: ReadonlySet<string> = new Set(['known_violation', 'known_ok', 'known_decision']);

/**
 * Verdicts by the sha256 of the bytes judged, in Redis with a TTL: machine verdicts keyed also by
 * the model's sha256 and the policy's version (so a new model or policy never reuses an old
 * verdict), and people's decisions by the bytes alone (a person's decision stands whatever model
 * runs, and beats a machine verdict).
 */
export class VerdictCache {
  private readonly base: string;

  constructor(private readonly o: VerdictCacheOptions) {
    this.base = `${o.prefix}:known`;
  }

  private verdictKey(sha256: string, modelSha256: string, policyVersion: string): string {
    return `${this.base}:verdict:${sha256}:${modelSha256}:${policyVersion}`;
  }

  private decisionKey(sha256: string): string {
    return `${this.base}:decision:${sha256}`;
  }

  /** A person's decision on these bytes, else a machine verdict of this model and policy; with the PDQ hashes kept with it. */
  async get(sha256: string, scope: { readonly modelSha256: string; readonly policyVersion: string }): Promise<(ReusableVerdict & { pdq?: PdqHashes }) | undefined> {
    const [decision, machine] = await this.o.redis.mget(this.decisionKey(sha256), this.verdictKey(sha256, scope.modelSha256, scope.policyVersion));
    if (decision) return { verdict: JSON.parse(decision) as Verdict, source: 'decision' };
    if (!machine) return undefined;
    const cached = JSON.parse(machine) as CachedVerdict;
    return { verdict: cached.verdict, source: 'verdict', ...(cached.pdq ? { pdq: cached.pdq } : {}) };
  }

  /**
   * Keeps a scored machine verdict for later copies of the same bytes. Verdicts without a content
   * hash, model or policy version, errors, and verdicts decided by a list match are not kept.
   */
  async remember(verdict: Verdict, pdq?: PdqHashes): Promise<boolean> {
    const sha256 = verdict.version?.sha256;
    if (this.o.verdictTtlSeconds === 0 || sha256 === undefined || verdict.policy === undefined || verdict.error !== undefined || verdict.reusedFrom !== undefined) return false;
    if ([...verdict.reasons, ...(verdict.labels ?? [])].some((r) => LIST_REASONS.has(r))) return false;
    const value: CachedVerdict = { verdict, ...(pdq ? { pdq } : {}) };
    await this.o.redis.set(this.verdictKey(sha256, verdict.model.sha256, verdict.policy.version), JSON.stringify(value), 'EX', this.o.verdictTtlSeconds);
    return true;
  }

  /**
   * Records a person's decision on these bytes: re-uploads get the reviewed verdict with the
   * decision's outcome and reasons. A later decision (a reversal) replaces it; the record lasts the
   * decision TTL from the time it was decided (false: already past it, nothing kept).
   */
  async recordDecision(sha256: string, reviewed: Verdict, decision: { readonly outcome: Decision; readonly reasons: readonly string[]; readonly decidedAt: string }): Promise<boolean> {
    const leftMs = Date.parse(decision.decidedAt) + this.o.decisionTtlSeconds * 1000 - Date.now();
    if (!(leftMs > 0)) return false;
    const { signature: _s, error: _e, ...verdict } = reviewed;
    await this.o.redis.set(this.decisionKey(sha256), JSON.stringify({ ...verdict, decision: decision.outcome, reasons: decision.reasons }), 'PX', Math.ceil(leftMs));
    return true;
  }

  /** Forgets everything kept about these bytes (erasure requests). Returns the keys deleted. */
  async forget(sha256: string): Promise<number> {
    let deleted = await this.o.redis.del(this.decisionKey(sha256));
    let cursor = '0';
    do {
      const [next, keys] = await this.o.redis.scan(cursor, 'MATCH', `${this.base}:verdict:${sha256}:*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) deleted += await this.o.redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  }
}

/** The verdict cache configured by `config.known` (REVMOD_KNOWN_*). */
export function verdictCacheOf(redis: Redis, config: Pick<RevmodConfig, 'redis' | 'known'>): VerdictCache {
  return new VerdictCache({ redis, prefix: config.redis.prefix, verdictTtlSeconds: config.known.verdictTtlSeconds, decisionTtlSeconds: config.known.decisionTtlSeconds });
}
