import { integerIn, numberIn, resolveOptions } from './options';
import type { DetectorDescriptor, DetectorSignal, PixelView } from './types';

export interface BlurOptions {
  /**
   * An image whose sharpness (see {@link measureSharpness}) is below this is `blurry`. Calibrated
   * with `tools/detector-set/calibrate-blur.ts` on real photos blurred with a Gaussian of σ pixels
   * at the 512-px grey view: every photo blurred with σ ≥ 2 falls below 12, every unblurred photo in
   * the set stays above 14 (docs/detectors.md has the table).
   * @defaultValue 12
   */
  readonly minSharpness: number;
  /**
   * Side of the square blocks, in view pixels, whose Laplacian spread is ranked.
   * @defaultValue 16
   */
  readonly blockPx: number;
  /**
   * Which block decides: the block at this rank (0–1) of all blocks sorted by sharpness. A high rank
   * means a sharp subject on a soft background (a shallow depth of field) is not called blurry.
   * @defaultValue 0.99
   */
  readonly blockRank: number;
  /**
   * Views whose shorter side is smaller than this many pixels are too small to judge: no signal.
   * @defaultValue 32
   */
  readonly minSidePx: number;
}

export const DEFAULT_BLUR_OPTIONS: BlurOptions = Object.freeze({
  minSharpness: 12,
  blockPx: 16,
  blockRank: 0.99,
  minSidePx: 32,
});

export interface BlurEvidence {
  readonly sharpness: number;
  readonly threshold: number;
}

const CHECKS = {
  minSharpness: numberIn(0, 1000),
  blockPx: integerIn(4, 256),
  blockRank: numberIn(0, 1),
  minSidePx: integerIn(3, 4096),
};

/**
 * Sharpness of a grey view: the standard deviation of the 4-neighbour Laplacian within each
 * `blockPx`² block, and the value at `blockRank` among the blocks. Grey levels (0–255 input).
 * Local rather than global, because product photos often have one sharp subject on a blurred
 * background: a global measure calls those blurry, and scene content (sky, fog) moves it far more
 * than focus does.
 */
export function measureSharpness(view: PixelView, blockPx: number = DEFAULT_BLUR_OPTIONS.blockPx, blockRank: number = DEFAULT_BLUR_OPTIONS.blockRank): number {
  if (view.channels !== 1) throw new Error(`measureSharpness needs a grey view (got ${view.channels} channels)`);
  const { data, width: w, height: h } = view;
  const bw = Math.floor((w - 2) / blockPx);
  const bh = Math.floor((h - 2) / blockPx);
  if (bw < 1 || bh < 1) return 0;
  const sum = new Float64Array(bw);
  const sumSq = new Float64Array(bw);
  const perBlock = new Float64Array(bw * bh);
  const n = blockPx * blockPx;
  for (let by = 0; by < bh; by++) {
    sum.fill(0);
    sumSq.fill(0);
    const y0 = 1 + by * blockPx;
    for (let y = y0; y < y0 + blockPx; y++) {
      const row = y * w;
      for (let bx = 0; bx < bw; bx++) {
        let s = 0;
        let s2 = 0;
        const x0 = row + 1 + bx * blockPx;
        for (let i = x0; i < x0 + blockPx; i++) {
          const l = 4 * data[i]! - data[i - 1]! - data[i + 1]! - data[i - w]! - data[i + w]!;
          s += l;
          s2 += l * l;
        }
        sum[bx]! += s;
        sumSq[bx]! += s2;
      }
    }
    for (let bx = 0; bx < bw; bx++) {
      const mean = sum[bx]! / n;
      perBlock[by * bw + bx] = Math.sqrt(Math.max(0, sumSq[bx]! / n - mean * mean));
    }
  }
  perBlock.sort();
  const at = Math.min(perBlock.length - 1, Math.floor(blockRank * perBlock.length));
  return perBlock[at]!;
}

async function detectBlur(view: PixelView, options?: Partial<BlurOptions>): Promise<readonly DetectorSignal<BlurEvidence>[]> {
  const o = resolveOptions('blur', DEFAULT_BLUR_OPTIONS, options, CHECKS);
  if (view.channels !== 1) throw new Error(`blur detector needs a grey view (got ${view.channels} channels)`);
  if (Math.min(view.width, view.height) < o.minSidePx) return [];
  const sharpness = measureSharpness(view, o.blockPx, o.blockRank);
  if (sharpness >= o.minSharpness) return [];
  return [{ reason: 'blurry', evidence: { sharpness: round2(sharpness), threshold: o.minSharpness } }];
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export const blurDetector: DetectorDescriptor<BlurOptions, { readonly kind: 'grey'; readonly maxSidePx: 512 }, BlurEvidence> = Object.freeze({
  name: 'blur',
  view: Object.freeze({ kind: 'grey', maxSidePx: 512 } as const),
  cost: 'cheap',
  defaults: DEFAULT_BLUR_OPTIONS,
  detect: detectBlur,
});
