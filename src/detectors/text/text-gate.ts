/**
 * The text gate: decides, in well under a millisecond, whether an image may hold text worth OCR. A
 * small convolutional network (gate-net.ts) scores each 16×16 cell of the 512-px grey view; the image
 * passes when its best cell scores at least `minScore`. Trained on rendered Chinese and English
 * text over photos that the tests never use (tools/text-gate/), thresholded for ≥ 99 % recall.
 */
import { numberIn, resolveOptions } from '../options';
import type { DetectorGate, GateResult, PixelView } from '../types';
import type * as ort from 'onnxruntime-node';
import { createGateSession, gateInput, runGateNet, type GateLayer } from './gate-net';
import { TEXT_GATE_WEIGHTS } from './text-gate-weights';

export interface TextGateOptions {
  /**
   * Lowest best-cell logit that lets an image through to OCR. Lower catches fainter text and
   * sends more photos to OCR; the default was chosen on held-out validation images for ≥ 99 %
   * recall of text images (docs/detectors.md has the trade-off table).
   * @defaultValue the trained threshold in text-gate-weights.ts
   */
  readonly minScore: number;
}

export const DEFAULT_TEXT_GATE_OPTIONS: TextGateOptions = Object.freeze({ minScore: TEXT_GATE_WEIGHTS.threshold });

function decode(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

const LAYERS: readonly GateLayer[] = TEXT_GATE_WEIGHTS.layers.map((l): GateLayer => {
  const weight = decode(l.weight);
  const bias = decode(l.bias);
  if (l.kind === 'conv3x3') return { kind: 'conv3x3', stride: l.stride as 1 | 2, cin: l.cin, cout: l.cout, relu: l.relu, weight, bias };
  if (l.kind === 'dw3x3') return { kind: 'dw3x3', stride: l.stride as 1 | 2, channels: l.channels, relu: l.relu, weight, bias };
  return { kind: 'pw', cin: l.cin, cout: l.cout, relu: l.relu, weight, bias };
});

let session: Promise<ort.InferenceSession> | undefined;

/** The gate's session, made once per thread from the generated weights. */
export function textGateSession(): Promise<ort.InferenceSession> {
  session ??= createGateSession(LAYERS).catch((err: unknown) => {
    session = undefined;
    throw err;
  });
  return session;
}

/** The gate's score: the highest cell logit of the network on the view (grey, ≤ 512 px long side). */
export async function textGateScore(view: PixelView): Promise<number> {
  if (view.channels !== 1) throw new Error(`text gate needs a grey view (got ${view.channels} channels)`);
  if (view.width < 16 || view.height < 16) return -Infinity;
  const input = gateInput(view.data, view.width, view.height);
  const map = await runGateNet(await textGateSession(), input.data, input.h, input.w);
  let best = -Infinity;
  for (let i = 0; i < map.data.length; i++) if (map.data[i]! > best) best = map.data[i]!;
  return best;
}

async function check(view: PixelView, options?: Partial<TextGateOptions>): Promise<GateResult> {
  const o = resolveOptions('textGate', DEFAULT_TEXT_GATE_OPTIONS, options, { minScore: numberIn(-1000, 1000) });
  const score = await textGateScore(view);
  return { pass: score >= o.minScore, score: Math.round(score * 1000) / 1000 };
}

export const textGate: DetectorGate<TextGateOptions, { readonly kind: 'grey'; readonly maxSidePx: 512 }> = Object.freeze({
  name: 'textGate',
  view: Object.freeze({ kind: 'grey', maxSidePx: 512 } as const),
  cost: 'cheap',
  defaults: DEFAULT_TEXT_GATE_OPTIONS,
  check,
});
