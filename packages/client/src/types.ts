import type { ErrorCode } from './errors';

/** What the upload service submits: one object in an S3 bucket. */
export interface SubmitRequest {
  readonly bucket: string;
  readonly key: string;
  /** Free-form JSON (shop id, review id...) carried through to the verdict; ≤ limits.maxMetaBytes. */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** Payload of a job on the moderation queue. */
export interface ModerationJobData {
  readonly bucket: string;
  readonly key: string;
  readonly meta: Readonly<Record<string, unknown>>;
  /** Epoch ms at submit, for the end-to-end latency metric. */
  readonly submittedAtMs: number;
}

export type Decision = 'pass' | 'review' | 'block';
export type Label = 'normal' | 'violate';

export interface VerdictScores {
  readonly normal: number;
  readonly violate: number;
}

export interface VerdictModel {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  /** The onnxruntime execution provider that actually ran the batch: `cuda` or `cpu`. */
  readonly executionProvider: string;
}

export interface VerdictTimings {
  /** Submit → picked up by a worker. */
  readonly queueMs: number;
  readonly fetchMs: number;
  readonly decodeMs: number;
  /** Waiting in the micro-batcher for the batch to fill and the inference thread to be free. */
  readonly batchWaitMs: number;
  readonly inferMs: number;
  /** Submit → verdict published. */
  readonly totalMs: number;
}

/**
 * The verdict format's version. Fields are only ever added within a major version of this package;
 * consumers must ignore fields they do not know (see CHANGELOG.md, "Rolling deploys").
 */
export const VERDICT_SCHEMA_VERSION = 1;

/** One per moderation job, published to the results queue (and to the review queue unless `pass`). */
export interface Verdict {
  /** Format version of this verdict: {@link VERDICT_SCHEMA_VERSION} when written by this release. */
  readonly schemaVersion: number;
  /** Equals the moderation job id: republishing the same verdict is a no-op. */
  readonly id: string;
  readonly jobId: string;
  readonly bucket: string;
  readonly key: string;
  readonly decision: Decision;
  /** argmax class, or null when the image could not be scored. */
  readonly label: Label | null;
  readonly scores: VerdictScores | null;
  /** Why this decision, machine-readable: `violate_score`, `low_confidence`, `block_threshold`, `error`. */
  readonly reasons: readonly string[];
  readonly model: VerdictModel;
  readonly timings: VerdictTimings;
  readonly batch: { readonly id: string; readonly size: number } | null;
  readonly error?: { readonly code: ErrorCode; readonly message: string };
  readonly meta: Readonly<Record<string, unknown>>;
  /** 1 for the first try. */
  readonly attempt: number;
  /** host:pid of the worker that decided. */
  readonly worker: string;
  readonly decidedAt: string;
}
