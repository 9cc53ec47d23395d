import type { ErrorCode } from './errors';

/**
 * What the upload service submits: one object in an S3 bucket, at a version. The version (from the
 * upload's S3 event: `etag`, and `versionId` on versioned buckets) makes the job's identity: the
 * same version submitted twice is one job; another version at the same key is a new job, and the
 * worker judges exactly the bytes of the version submitted (see README "Content versions").
 */
export interface SubmitRequest {
  readonly bucket: string;
  readonly key: string;
  /** The object's ETag, as S3 reports it (with or without quotes). */
  readonly etag?: string;
  /** The object's VersionId on a versioned bucket. */
  readonly versionId?: string;
  /** Free-form JSON (shop id, review id...) carried through to the verdict; ≤ requests.maxMetaBytes. */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** Payload of a job on the moderation queue. */
export interface ModerationJobData {
  readonly bucket: string;
  readonly key: string;
  /** ETag without quotes, when the job is pinned to a version. */
  readonly etag?: string;
  readonly versionId?: string;
  readonly meta: Readonly<Record<string, unknown>>;
  /** Epoch ms at submit, for the end-to-end latency metric. */
  readonly submittedAtMs: number;
}

export type Decision = 'pass' | 'review' | 'block';
/** The top group: 'normal' or a violation category ('violate' for the default 2-class card). */
export type Label = string;

/** Probability per class, in the card's class names (`{ normal, violate }` for the default card). */
export type VerdictScores = Readonly<Record<string, number>>;

export interface VerdictModel {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  /** The onnxruntime execution provider that actually ran the batch: `cuda`, `webgpu` or `cpu`. */
  readonly executionProvider: string;
}

export interface VerdictTimings {
  /** Submit → picked up by a worker. */
  readonly queueMs: number;
  readonly fetchMs: number;
  readonly decodeMs: number;
  /** The cheap detectors, in the image pool (schema 2). */
  readonly detectMs?: number;
  /** OCR, only for images the text gate let through; it runs while the batch is inferred. */
  readonly ocrMs?: number;
  /** Waiting in the micro-batcher for the batch to fill and the inference thread to be free. */
  readonly batchWaitMs: number;
  readonly inferMs: number;
  /** Submit → verdict published. */
  readonly totalMs: number;
}

/** The bytes a verdict describes (schema 2). */
export interface VerdictContentVersion {
  /** The ETag of the object fetched (without quotes), when the store reported one. */
  readonly etag?: string;
  readonly versionId?: string;
  /** sha256 of the bytes judged, hex; absent only when nothing could be fetched. */
  readonly sha256?: string;
}

/**
 * The verdict format's version. Fields are only ever added within a major version of this package;
 * consumers must ignore fields they do not know (see CHANGELOG.md, "Rolling deploys").
 * - 1: the 2-class verdict.
 * - 2: adds `version`, `groups`, `violate`, `topClass`, `labels`, `evidence`, `policy`, `frames`,
 *   `timings.detectMs` and `signature`; `scores` holds every class of the model's card.
 */
export const VERDICT_SCHEMA_VERSION = 2;

/** One per moderation job, published to the results queue (and to the review queue unless `pass`). */
export interface Verdict {
  /** Format version of this verdict: {@link VERDICT_SCHEMA_VERSION} when written by this release. */
  readonly schemaVersion: number;
  /** Equals the moderation job id: republishing the same verdict is a no-op. */
  readonly id: string;
  readonly jobId: string;
  readonly bucket: string;
  readonly key: string;
  /** The content version judged (schema 2). */
  readonly version?: VerdictContentVersion;
  readonly decision: Decision;
  /** The top group (`normal` or a violation category), or null when the image could not be scored. */
  readonly label: Label | null;
  /** Probability per class, or null when the image could not be scored. */
  readonly scores: VerdictScores | null;
  /** Probability per group (schema 2). */
  readonly groups?: Readonly<Record<string, number>> | null;
  /** Summed probability of the violation groups (schema 2). */
  readonly violate?: number | null;
  /** The top class, beside the top group (schema 2). */
  readonly topClass?: string | null;
  /**
   * Why this decision, machine-readable: the policy's rule reasons (`violate_score`,
   * `low_confidence`, `block_threshold`, `contact_info`, `qr_code`, `blurry`, …) or `error`.
   */
  readonly reasons: readonly string[];
  /** Everything flagged: violation groups at or above their threshold, detectors' findings (schema 2). */
  readonly labels?: readonly string[];
  /** The detectors' evidence, by reason (schema 2): OCR text and matches, QR payloads, blur, matches. */
  readonly evidence?: Readonly<Record<string, unknown>>;
  /** The policy that decided (schema 2): its name and hash. */
  readonly policy?: { readonly name: string; readonly version: string };
  /** Animated images (schema 2): frames in the image, which were judged, and the worst one. */
  readonly frames?: { readonly count: number; readonly judged: readonly number[]; readonly worst: number };
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
  /**
   * Set when the verdict was not computed but reused (schema 2): the id of the verdict (or of the
   * reviewed verdict whose decision) it repeats, for the same bytes (sha256).
   */
  readonly reusedFrom?: string;
  /** HMAC of the verdict's canonical form, when the worker has a signing key (schema 2; see verdict-signature). */
  readonly signature?: string;
}
