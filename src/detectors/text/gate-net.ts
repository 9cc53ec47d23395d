/**
 * The text gate's network: a small convolutional net that maps the grey view to a coarse map of
 * "text here" logits (one cell per 16×16 pixels of the 512-px view). Its weights are generated
 * (tools/text-gate/train.py → text-gate-weights.ts); this file turns them into an ONNX graph in
 * memory and runs it with onnxruntime-node, one session per thread.
 */
import * as ort from 'onnxruntime-node';
import { attr, OnnxGraphBuilder } from '../../onnx/graph-builder';

export type GateLayer =
  /** Full 3×3 convolution, padding 1. */
  | { readonly kind: 'conv3x3'; readonly stride: 1 | 2; readonly cin: number; readonly cout: number; readonly relu: boolean; readonly weight: Float32Array; readonly bias: Float32Array }
  /** Depthwise 3×3 convolution, padding 1 (one filter per channel). */
  | { readonly kind: 'dw3x3'; readonly stride: 1 | 2; readonly channels: number; readonly relu: boolean; readonly weight: Float32Array; readonly bias: Float32Array }
  /** 1×1 convolution. */
  | { readonly kind: 'pw'; readonly cin: number; readonly cout: number; readonly relu: boolean; readonly weight: Float32Array; readonly bias: Float32Array };

/** The layers as an ONNX model: input `x` [1,1,H,W], output `y` [1,1,⌈H/8⌉,⌈W/8⌉]. */
export function buildGateOnnx(layers: readonly GateLayer[]): Buffer {
  const g = new OnnxGraphBuilder('revmod-text-gate');
  let x = g.addInput('x', [1, 1, 'H', 'W']);
  layers.forEach((l, i) => {
    const [cout, cin, k, groups, stride] =
      l.kind === 'conv3x3' ? [l.cout, l.cin, 3, 1, l.stride] : l.kind === 'dw3x3' ? [l.channels, 1, 3, l.channels, l.stride] : [l.cout, l.cin, 1, 1, 1];
    const w = g.addInitializer(`w${i}`, [cout, cin, k, k], l.weight);
    const b = g.addInitializer(`b${i}`, [cout], l.bias);
    const pad = k === 3 ? 1 : 0;
    x = g.addNode('Conv', [x, w, b], [`conv${i}`], {
      kernel_shape: attr.ints([k, k]), strides: attr.ints([stride, stride]), pads: attr.ints([pad, pad, pad, pad]), group: attr.int(groups),
    });
    if (l.relu) x = g.addNode('Relu', [x], [`relu${i}`]);
  });
  g.addNode('Identity', [x], ['y']);
  g.addOutput('y', [1, 1, 'h', 'w']);
  return g.toBuffer({ opset: 13 });
}

/** A session for the layers (one thread: it runs inside a thread that has other work). */
export function createGateSession(layers: readonly GateLayer[]): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(buildGateOnnx(layers), { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
}

/** Runs the network on a one-channel input (values already scaled); returns its logit map. */
export async function runGateNet(session: ort.InferenceSession, input: Float32Array, height: number, width: number): Promise<{ readonly data: Float32Array; readonly h: number; readonly w: number }> {
  const out = await session.run({ x: new ort.Tensor('float32', input, [1, 1, height, width]) });
  const y = out.y!;
  return { data: y.data as Float32Array, h: y.dims[2]!, w: y.dims[3]! };
}

/**
 * The network's input: the grey view halved by 2×2 box averaging (integer, rounded), scaled to
 * 0–1. Exposed so the trainer's data dump uses exactly these pixels.
 */
export function gateInput(grey: Uint8Array, width: number, height: number): { readonly data: Float32Array; readonly bytes: Uint8Array; readonly h: number; readonly w: number } {
  const w2 = width >> 1;
  const h2 = height >> 1;
  const bytes = new Uint8Array(w2 * h2);
  const data = new Float32Array(w2 * h2);
  for (let y = 0; y < h2; y++) {
    const r0 = 2 * y * width;
    const r1 = r0 + width;
    for (let x = 0; x < w2; x++) {
      const v = (grey[r0 + 2 * x]! + grey[r0 + 2 * x + 1]! + grey[r1 + 2 * x]! + grey[r1 + 2 * x + 1]! + 2) >> 2;
      bytes[y * w2 + x] = v;
      data[y * w2 + x] = v / 255;
    }
  }
  return { data, bytes, h: h2, w: w2 };
}
