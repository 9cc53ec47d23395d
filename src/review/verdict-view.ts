import type { Verdict } from '@revmod/client';

/**
 * Reading verdicts of either schema: version 1 (normal/violate scores) and version 2, which adds
 * `version` (etag, versionId, sha256 of the judged bytes), per-class `scores`, `groups`, `labels`
 * and `evidence`. Fields are read when present and never required.
 */
export interface VerdictVersion {
  readonly etag?: string;
  readonly versionId?: string;
  readonly sha256?: string;
}

type Loose = Record<string, unknown>;

const isObject = (x: unknown): x is Loose => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The content version the verdict was about, when it says. */
export function verdictVersion(verdict: Verdict): VerdictVersion | undefined {
  const v = (verdict as unknown as Loose).version;
  if (!isObject(v)) return undefined;
  const str = (x: unknown): string | undefined => (typeof x === 'string' && x !== '' ? x : undefined);
  const etag = str(v.etag);
  const versionId = str(v.versionId);
  const sha256 = str(v.sha256);
  return { ...(etag ? { etag } : {}), ...(versionId ? { versionId } : {}), ...(sha256 ? { sha256 } : {}) };
}

/** sha256 (hex) of the judged bytes, when the verdict carries it. */
export function contentSha256(verdict: Verdict): string | null {
  const sha = verdictVersion(verdict)?.sha256;
  return sha !== undefined && /^[0-9a-f]{64}$/i.test(sha) ? sha.toLowerCase() : null;
}

/**
 * The verdict for the decision log: OCR text dropped unless kept on purpose (it can hold phone
 * numbers); matched kinds and spans stay.
 */
export function verdictForLog(verdict: Verdict, keepOcrText: boolean): Verdict {
  const loose = verdict as unknown as Loose;
  const evidence = loose.evidence;
  if (keepOcrText || !isObject(evidence) || !isObject(evidence.ocr) || !('text' in evidence.ocr)) return verdict;
  const { text: _dropped, ...ocr } = evidence.ocr;
  return { ...loose, evidence: { ...evidence, ocr: { ...ocr, textDropped: true } } } as unknown as Verdict;
}

/**
 * The model's lean, for the overturn rate: block when it blocked or suspected a violation, pass when
 * it passed, none for low confidence and errors (the model offered no opinion to overturn).
 */
export function modelLean(verdict: Verdict): 'pass' | 'block' | null {
  if (verdict.decision === 'block') return 'block';
  if (verdict.decision === 'pass') return 'pass';
  if (verdict.error) return null;
  const suspects = verdict.reasons.some((r) => r !== 'low_confidence' && r !== 'error');
  return suspects || verdict.label === 'violate' ? 'block' : null;
}

/**
 * What a reviewer's page gets of a verdict. Samples are blind: no decision, scores, labels, reasons
 * or evidence, so the person judges the image, not the model.
 */
export function verdictForReviewer(verdict: Verdict, blind: boolean): Loose {
  const loose = verdict as unknown as Loose;
  const common = { bucket: verdict.bucket, key: verdict.key, meta: verdict.meta, decidedAt: verdict.decidedAt, ...(loose.version ? { version: loose.version } : {}) };
  if (blind) return { ...common, blind: true };
  const pick = (k: string) => (loose[k] !== undefined ? { [k]: loose[k] } : {});
  return {
    ...common, blind: false, decision: verdict.decision, label: verdict.label, scores: verdict.scores, reasons: verdict.reasons,
    model: { name: verdict.model.name, version: verdict.model.version },
    ...pick('groups'), ...pick('labels'), ...pick('evidence'), ...pick('error'),
  };
}
