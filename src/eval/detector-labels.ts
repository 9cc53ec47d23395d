/**
 * The labels of a detector evaluation set: one JSON object per line of `labels.jsonl`, beside the
 * images. `tools/detector-set/generate.ts` writes them; `evaluateDetectors` reads them.
 */

/** What an image was made to show. */
export type DetectorSetKind = 'clean' | 'blurry' | 'qr' | 'contact' | 'benign_text' | 'banned' | 'screenshot';

export const DETECTOR_SET_KINDS: readonly DetectorSetKind[] = ['clean', 'blurry', 'qr', 'contact', 'benign_text', 'banned', 'screenshot'];

export interface DetectorSetLabel {
  /** Image file name, relative to the set's directory. */
  readonly file: string;
  readonly kind: DetectorSetKind;
  /** The real photo the image was made from. */
  readonly source: string;
  /** Ground truth per signal. */
  readonly blurry: boolean;
  readonly qr: boolean;
  readonly contact: boolean;
  readonly banned: boolean;
  readonly textHeavy: boolean;
  /** Any rendered text at all (what the text gate must let through). */
  readonly text: boolean;
  /** Rendered text lines, for OCR accuracy. */
  readonly lines?: readonly string[];
  readonly contactKinds?: readonly string[];
  readonly bannedTerm?: string;
  readonly lang?: string;
  readonly qrPayload?: string;
  /** Gaussian blur σ in pixels of the 512-px grey view. */
  readonly blurSigmaPx?: number;
  readonly font?: string;
  readonly fontPx?: number;
  readonly angleDeg?: number;
  readonly qrSidePx?: number;
  /** Where the text block is: centre and size as fractions of the image, rotation in degrees. */
  readonly region?: { readonly cx: number; readonly cy: number; readonly w: number; readonly h: number; readonly angleDeg: number };
}

export function parseLabels(jsonl: string): DetectorSetLabel[] {
  return jsonl
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      const v = JSON.parse(l) as DetectorSetLabel;
      if (typeof v.file !== 'string' || !DETECTOR_SET_KINDS.includes(v.kind)) throw new Error(`labels.jsonl line ${i + 1}: not a detector-set label`);
      return v;
    });
}
