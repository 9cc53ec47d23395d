import { createHash } from 'node:crypto';
import { jobIdFor, VERDICT_SCHEMA_VERSION, type Verdict } from '@revmod/client';

/** Options of {@link makeVerdict}: what a test cares about; the rest is a plausible verdict. */
export interface VerdictFixture {
  readonly bucket?: string;
  readonly key: string;
  readonly decision: Verdict['decision'];
  /** Epoch ms of the verdict (its age in the queue). @defaultValue now */
  readonly decidedAtMs?: number;
  /** The judged bytes: the verdict then carries their sha256 (schema 2's `version`). */
  readonly bytes?: Buffer;
  readonly etag?: string;
  readonly meta?: Record<string, unknown>;
  /** Schema-2 extras (evidence, per-class scores…) merged in. */
  readonly extra?: Record<string, unknown>;
}

/** A verdict as a worker publishes it, for the review console's tests. */
export function makeVerdict(f: VerdictFixture): Verdict {
  const bucket = f.bucket ?? 'reviews';
  const id = jobIdFor(bucket, f.key);
  const violate = f.decision === 'pass' ? 0.05 : f.decision === 'block' ? 0.97 : 0.8;
  const version = f.bytes ? { version: { etag: f.etag ?? `"${createHash('md5').update(f.bytes).digest('hex')}"`, sha256: createHash('sha256').update(f.bytes).digest('hex') } } : {};
  return {
    schemaVersion: VERDICT_SCHEMA_VERSION, id, jobId: id, bucket, key: f.key,
    decision: f.decision, label: violate >= 0.5 ? 'violate' : 'normal',
    scores: { normal: 1 - violate, violate },
    reasons: f.decision === 'pass' ? [] : f.decision === 'block' ? ['block_threshold'] : ['violate_score'],
    model: { name: 'revmod-probe', version: '0.0.1', sha256: 'a'.repeat(64), executionProvider: 'cpu' },
    timings: { queueMs: 1, fetchMs: 1, decodeMs: 1, batchWaitMs: 1, inferMs: 1, totalMs: 5 },
    batch: { id: 'b1', size: 1 },
    meta: f.meta ?? { shopId: 42, reviewId: 1001 },
    attempt: 1, worker: 'test:1', decidedAt: new Date(f.decidedAtMs ?? Date.now()).toISOString(),
    ...version, ...(f.extra ?? {}),
  } as Verdict;
}
