import { IMAGENET_MEAN, IMAGENET_STD } from '../../src/preprocess/constants';
import { attr, BATCH_DIM, OnnxGraphBuilder } from '../../src/onnx/graph-builder';

/**
 * Gain k of the probe model: ln 99, so that a pure red image scores violate 0.99, a pure blue one
 * normal 0.99 and any grey exactly 0.5.
 */
export const PROBE_GAIN = Math.log(99);

/** An RGB colour, channels 0–255 (for a solid image: the colour; otherwise the channel means). */
export type Rgb = readonly [r: number, g: number, b: number];

/**
 * The probe's logit difference for given channel means:
 * `logit_violate − logit_normal = k · (r − b)` with r, b the red and blue means in ToTensor units
 * (0–1, i.e. channel/255, before ImageNet normalization) and k = {@link PROBE_GAIN}.
 * The logits themselves are ±half of it.
 */
export function probeLogitDiff([r, , b]: Rgb): number {
  return PROBE_GAIN * ((r - b) / 255);
}

/**
 * The violate score (softmax over [normal, violate]) the probe gives an image with these channel
 * means: `1 / (1 + exp(−k · (r − b)/255))`. Pure red (255,0,0) → 0.99, pure blue (0,0,255) → 0.01
 * (normal 0.99), any grey (v,v,v) → 0.5. Green does not matter.
 */
export function probeViolateScore(rgb: Rgb): number {
  return 1 / (1 + Math.exp(-probeLogitDiff(rgb)));
}

/**
 * A solid colour whose probe violate score is close to `score` (exact up to 8-bit rounding; compute
 * the exact value with {@link probeViolateScore}). Reachable scores are 0.01–0.99; others are clamped.
 */
export function probeRgbForViolateScore(score: number): Rgb {
  const p = Math.min(0.99, Math.max(0.01, score));
  const diff = Math.log(p / (1 - p)) / PROBE_GAIN; // r − b in 0–1 units, within [−1, 1]
  const r = Math.round(127.5 + (diff * 255) / 2);
  return [r, 128, 255 - r];
}

/**
 * Builds the probe model: a tiny stand-in with the production contract (input `input` float32
 * [N,3,224,224] ImageNet-normalized, output `logits` [N,2] over [normal, violate]) whose scores
 * follow the image's colour, so tests and demos can get chosen pass / review / block decisions
 * from synthetic solid-colour images.
 *
 * Graph: ReduceMean over W then H → [N,3] normalized channel means (R̂, Ĝ, B̂) → Gemm. The Gemm undoes the
 * normalization (r = 0.229·R̂ + 0.485, b = 0.225·B̂ + 0.406) so that
 * `logit_violate − logit_normal = k·(r − b)`, k = ln 99 ≈ 4.595; in normalized units that is
 * `k·(0.229·R̂ − 0.225·B̂ + 0.079)`. See {@link probeViolateScore} for the resulting score.
 */
export function buildProbeOnnx(): Buffer {
  const g = new OnnxGraphBuilder('revmod-probe');
  const [meanR, , meanB] = IMAGENET_MEAN;
  const [stdR, , stdB] = IMAGENET_STD;
  const half = PROBE_GAIN / 2;
  // Rows: [normal, violate]; logits are ∓half·(r − b), so their difference is k·(r − b).
  const weight = new Float32Array([-half * stdR, 0, half * stdB, half * stdR, 0, -half * stdB]);
  const bias = new Float32Array([-half * (meanR - meanB), half * (meanR - meanB)]);

  const input = g.addInput('input', [BATCH_DIM, 3, 224, 224]);
  // Opset 17: ReduceMean takes its axes as an attribute (an input only from opset 18). Rows, then
  // columns: two float32 means of 224 values each stay within ~1e-6, one mean of 50,176 drifts ~1e-4.
  const rowMeans = g.addNode('ReduceMean', [input], ['row_means'], { axes: attr.ints([3]), keepdims: attr.int(0) }, 'mean_w');
  const means = g.addNode('ReduceMean', [rowMeans], ['channel_means'], { axes: attr.ints([2]), keepdims: attr.int(0) }, 'mean_h');
  const w = g.addInitializer('probe.weight', [2, 3], weight);
  const c = g.addInitializer('probe.bias', [2], bias);
  g.addNode('Gemm', [means, w, c], ['logits'], { transB: attr.int(1) }, 'probe');
  g.addOutput('logits', [BATCH_DIM, 2]);
  return g.toBuffer({
    docString: 'revmod probe: logit_violate - logit_normal = ln(99) * (mean red - mean blue), channels in 0..1',
    metadata: { architecture: 'probe', trained: 'false' },
  });
}

/** Trainable parameters of the probe: the 2×3 Gemm weight and its 2 biases. */
export const PROBE_PARAM_COUNT = 8;
