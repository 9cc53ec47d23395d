/**
 * A tiny convolutional network, evaluated in plain JS, that maps a grey image to a coarse map of
 * "text here" logits (one cell per 16×16 pixels of the 512-px grey view). It is the text gate's
 * scorer: ~2.5 M multiply-adds per 512×384 view, no native code, no session to keep.
 *
 * The weights are generated (tools/text-gate/train.py → text-gate-weights.ts); this file only
 * knows how to run the layer kinds the trainer emits.
 */

export type GateLayer =
  /** Full 3×3 convolution, padding 1. */
  | { readonly kind: 'conv3x3'; readonly stride: 1 | 2; readonly cin: number; readonly cout: number; readonly relu: boolean; readonly weight: Float32Array; readonly bias: Float32Array }
  /** Depthwise 3×3 convolution, padding 1 (one filter per channel). */
  | { readonly kind: 'dw3x3'; readonly stride: 1 | 2; readonly channels: number; readonly relu: boolean; readonly weight: Float32Array; readonly bias: Float32Array }
  /** 1×1 convolution. */
  | { readonly kind: 'pw'; readonly cin: number; readonly cout: number; readonly relu: boolean; readonly weight: Float32Array; readonly bias: Float32Array };

interface Tensor {
  readonly data: Float32Array;
  readonly c: number;
  readonly h: number;
  readonly w: number;
}

function conv3x3(x: Tensor, l: Extract<GateLayer, { kind: 'conv3x3' }>): Tensor {
  const s = l.stride;
  const oh = Math.ceil(x.h / s);
  const ow = Math.ceil(x.w / s);
  const out = new Float32Array(l.cout * oh * ow);
  const { data, h, w } = x;
  const plane = h * w;
  for (let o = 0; o < l.cout; o++) {
    const ob = o * oh * ow;
    const bias = l.bias[o]!;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let acc = bias;
        for (let c = 0; c < l.cin; c++) {
          const wb = (o * l.cin + c) * 9;
          const cb = c * plane;
          for (let ky = 0; ky < 3; ky++) {
            const iy = oy * s + ky - 1;
            if (iy < 0 || iy >= h) continue;
            const row = cb + iy * w;
            for (let kx = 0; kx < 3; kx++) {
              const ix = ox * s + kx - 1;
              if (ix < 0 || ix >= w) continue;
              acc += data[row + ix]! * l.weight[wb + ky * 3 + kx]!;
            }
          }
        }
        out[ob + oy * ow + ox] = l.relu && acc < 0 ? 0 : acc;
      }
    }
  }
  return { data: out, c: l.cout, h: oh, w: ow };
}

function dw3x3(x: Tensor, l: Extract<GateLayer, { kind: 'dw3x3' }>): Tensor {
  const s = l.stride;
  const oh = Math.ceil(x.h / s);
  const ow = Math.ceil(x.w / s);
  const out = new Float32Array(l.channels * oh * ow);
  const { data, h, w } = x;
  for (let c = 0; c < l.channels; c++) {
    const cb = c * h * w;
    const ob = c * oh * ow;
    const k = l.weight.subarray(c * 9, c * 9 + 9);
    const k0 = k[0]!, k1 = k[1]!, k2 = k[2]!, k3 = k[3]!, k4 = k[4]!, k5 = k[5]!, k6 = k[6]!, k7 = k[7]!, k8 = k[8]!;
    const bias = l.bias[c]!;
    for (let oy = 0; oy < oh; oy++) {
      const iy = oy * s;
      const up = iy - 1 >= 0 ? cb + (iy - 1) * w : -1;
      const mid = cb + iy * w;
      const down = iy + 1 < h ? cb + (iy + 1) * w : -1;
      for (let ox = 0; ox < ow; ox++) {
        const ix = ox * s;
        const hasL = ix - 1 >= 0;
        const hasR = ix + 1 < w;
        let acc = bias + data[mid + ix]! * k4;
        if (hasL) acc += data[mid + ix - 1]! * k3;
        if (hasR) acc += data[mid + ix + 1]! * k5;
        if (up >= 0) {
          acc += data[up + ix]! * k1;
          if (hasL) acc += data[up + ix - 1]! * k0;
          if (hasR) acc += data[up + ix + 1]! * k2;
        }
        if (down >= 0) {
          acc += data[down + ix]! * k7;
          if (hasL) acc += data[down + ix - 1]! * k6;
          if (hasR) acc += data[down + ix + 1]! * k8;
        }
        out[ob + oy * ow + ox] = l.relu && acc < 0 ? 0 : acc;
      }
    }
  }
  return { data: out, c: l.channels, h: oh, w: ow };
}

function pw(x: Tensor, l: Extract<GateLayer, { kind: 'pw' }>): Tensor {
  const n = x.h * x.w;
  const out = new Float32Array(l.cout * n);
  const { data } = x;
  for (let o = 0; o < l.cout; o++) {
    const ob = o * n;
    out.fill(l.bias[o]!, ob, ob + n);
    for (let c = 0; c < l.cin; c++) {
      const wv = l.weight[o * l.cin + c]!;
      if (wv === 0) continue;
      const cb = c * n;
      for (let p = 0; p < n; p++) out[ob + p]! += data[cb + p]! * wv;
    }
    if (l.relu) for (let p = ob; p < ob + n; p++) if (out[p]! < 0) out[p] = 0;
  }
  return { data: out, c: l.cout, h: x.h, w: x.w };
}

/** Runs the layers on a one-channel input (values already scaled); returns the last layer's map. */
export function runGateNet(input: Float32Array, height: number, width: number, layers: readonly GateLayer[]): { readonly data: Float32Array; readonly h: number; readonly w: number } {
  let x: Tensor = { data: input, c: 1, h: height, w: width };
  for (const l of layers) x = l.kind === 'conv3x3' ? conv3x3(x, l) : l.kind === 'dw3x3' ? dw3x3(x, l) : pw(x, l);
  if (x.c !== 1) throw new Error(`text gate network ends with ${x.c} channels, expected 1`);
  return { data: x.data, h: x.h, w: x.w };
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
