import type { PixelView } from '../preprocess/decode-image-views';

/**
 * A detector: something that looks at an image and emits signals for the policy. Cheap detectors
 * run in the image pool right after the decode, on views derived from it; expensive ones (OCR) run
 * in a bounded pool of their own, only where a cheap gate asks for them. The classifier is not a
 * detector: it stays batched on the inference thread.
 */
export type DetectorCost = 'cheap' | 'expensive';

/** What a detector needs, decided once from its options: the sizes of the views it reads. */
export interface DetectorNeeds {
  /** Longest side of the greyscale view, 0 for none. */
  readonly greyMaxSide: number;
  /** Longest side of the RGB view, 0 for none. */
  readonly rgbMaxSide: number;
}

/** The views of one image (upright, from one decode). */
export interface DetectorViews {
  readonly grey?: PixelView | undefined;
  readonly rgb?: PixelView | undefined;
}

/** One finding, with its evidence (what a reviewer is shown and the policy may match on). */
export interface Signal {
  readonly detector: string;
  /** A policy reason: `blurry`, `qr_code`, `contact_info`, `banned_text`, `text_heavy`, … */
  readonly reason: string;
  readonly evidence: Readonly<Record<string, unknown>>;
}

export interface Detector<O = Readonly<Record<string, unknown>>> {
  readonly name: string;
  readonly cost: DetectorCost;
  needs(options: O): DetectorNeeds;
  detect(views: DetectorViews, options: O): Signal[] | Promise<Signal[]>;
}

/** The largest view each kind any of `needs` asks for. */
export function mergeNeeds(needs: readonly DetectorNeeds[]): DetectorNeeds {
  return {
    greyMaxSide: Math.max(0, ...needs.map((n) => n.greyMaxSide)),
    rgbMaxSide: Math.max(0, ...needs.map((n) => n.rgbMaxSide)),
  };
}
