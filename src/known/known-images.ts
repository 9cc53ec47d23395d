import type { Verdict } from '@revmod/client';
import type { Signal } from '../detectors/detector';
import type { PdqHashes } from '../pool/decode-task';

/** A verdict that stands for these exact bytes. */
export interface ReusableVerdict {
  readonly verdict: Verdict;
  /**
   * 'verdict': a machine verdict under the same model and policy versions (never across versions).
   * 'decision': a person decided on these bytes in review, which beats any machine verdict.
   */
  readonly source: 'verdict' | 'decision';
}

/** What the pipeline needs of the known-image store (exact cache and near-duplicate lists). */
export interface KnownImages {
  /** Whether `similar` wants the upload's PDQ hashes (computed in the image pool). */
  readonly usesPdq: boolean;
  /** An earlier verdict or decision about these exact bytes, if one may be reused. */
  exact(sha256: string, scope: { readonly modelSha256: string; readonly policyVersion: string }): Promise<ReusableVerdict | undefined>;
  /** Signals (`known_violation`, `known_ok`) for an upload close to a listed image. */
  similar(pdq: PdqHashes, meta: Readonly<Record<string, unknown>>): Promise<Signal[]>;
  /**
   * Keeps a machine verdict for reuse by later copies of the same bytes, with the upload's PDQ
   * hashes when computed (so that a reuse can check the lists as they are then).
   */
  remember(verdict: Verdict, pdq?: PdqHashes): Promise<void>;
}
