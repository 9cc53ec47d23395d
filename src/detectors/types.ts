/**
 * The detector contract. A detector is a pure async function over one decoded view of an image
 * (decoded once by the caller) that returns signals; the policy turns signals into decisions.
 */

/** Decoded pixels, row-major, interleaved channels, no padding. */
export interface PixelView {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
}

/** Which view a detector reads: a downscaled grey or RGB image (long side ≤ maxSidePx), or the raw bytes. */
export type ViewSpec =
  | { readonly kind: 'grey'; readonly maxSidePx: number }
  | { readonly kind: 'rgb'; readonly maxSidePx: number }
  | { readonly kind: 'bytes' };

/** 'cheap': runs on every image (≤ a few ms CPU); 'expensive': runs behind a gate, off the hot path. */
export type CostClass = 'cheap' | 'expensive';

export type SignalReason = 'blurry' | 'qr_code' | 'contact_info' | 'banned_text' | 'text_heavy';

export interface DetectorSignal<E = unknown> {
  readonly reason: SignalReason;
  readonly evidence: E;
}

/** The input a view spec yields: pixels for grey/rgb views, the encoded bytes for 'bytes'. */
export type ViewInput<S extends ViewSpec> = S extends { readonly kind: 'bytes' } ? Uint8Array : PixelView;

/**
 * A detector as the frame sees it: what it reads, what it costs, its options with defaults, and
 * the function. `detect` takes partial options (merged over `defaults`) and never mutates the view.
 */
export interface DetectorDescriptor<O extends object, S extends ViewSpec = ViewSpec, E = unknown> {
  readonly name: string;
  readonly view: S;
  readonly cost: CostClass;
  readonly defaults: Readonly<O>;
  detect(input: ViewInput<S>, options?: Partial<O>): Promise<readonly DetectorSignal<E>[]>;
}

/**
 * A cheap pre-check in front of an expensive detector: the frame runs it on its own view and calls
 * the detector only when `pass` is true.
 */
export interface DetectorGate<O extends object, S extends ViewSpec = ViewSpec> {
  readonly name: string;
  readonly view: S;
  readonly cost: 'cheap';
  readonly defaults: Readonly<O>;
  check(input: ViewInput<S>, options?: Partial<O>): Promise<GateResult>;
}

export interface GateResult {
  readonly pass: boolean;
  /** The gate's score (its unit is the gate's), for calibration and logs. */
  readonly score: number;
}
