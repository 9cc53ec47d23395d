import sharp from 'sharp';
import type { PixelView, ViewSpec } from './types';

/**
 * Decodes the pixel views detectors ask for, from one sharp decode per view size. The worker's
 * frame may build views its own way; this is the reference used by the evaluator, tools and tests.
 * Views are upright (EXIF orientation applied) and never enlarged.
 */
export async function decodeView(bytes: Uint8Array, spec: Exclude<ViewSpec, { kind: 'bytes' }>): Promise<PixelView> {
  const pipeline = sharp(bytes, { failOn: 'error' })
    .rotate()
    .removeAlpha()
    .resize(spec.maxSidePx, spec.maxSidePx, { fit: 'inside', withoutEnlargement: true, kernel: 'linear' });
  const shaped = spec.kind === 'grey' ? pipeline.greyscale() : pipeline.toColourspace('srgb');
  const { data, info } = await shaped.raw().toBuffer({ resolveWithObject: true });
  const channels = spec.kind === 'grey' ? 1 : 3;
  if (info.channels !== channels) throw new Error(`decodeView: expected ${channels} channels, sharp gave ${info.channels}`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels };
}

/** Grey view of an RGB view (ITU-R BT.601 weights, integer arithmetic). */
export function toGrey(view: PixelView): PixelView {
  if (view.channels === 1) return view;
  const { data, width, height } = view;
  const out = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < out.length; i++, j += 3) {
    out[i] = (data[j]! * 306 + data[j + 1]! * 601 + data[j + 2]! * 117 + 512) >> 10;
  }
  return { data: out, width, height, channels: 1 };
}

type PixelSpec = Exclude<ViewSpec, { kind: 'bytes' }>;

function specKey(s: PixelSpec): string {
  return `${s.kind}${s.maxSidePx}`;
}

/**
 * Several views from one decode: the image is decoded once at the largest size asked for, and
 * the smaller views (and grey from RGB) are made from those pixels. Returns views by
 * `${kind}${maxSidePx}` ('grey512', 'rgb1024', ...).
 */
export async function decodeViews(bytes: Uint8Array, specs: readonly PixelSpec[]): Promise<Map<string, PixelView>> {
  const out = new Map<string, PixelView>();
  if (specs.length === 0) return out;
  const largest = Math.max(...specs.map((s) => s.maxSidePx));
  const needRgb = specs.some((s) => s.kind === 'rgb');
  const base = await decodeView(bytes, { kind: needRgb ? 'rgb' : 'grey', maxSidePx: largest });
  for (const spec of specs) {
    const key = specKey(spec);
    if (out.has(key)) continue;
    const channels = spec.kind === 'grey' ? 1 : 3;
    const fits = Math.max(base.width, base.height) <= spec.maxSidePx;
    if (fits && base.channels === channels) {
      out.set(key, base);
      continue;
    }
    // sharp for the grey conversion too, so that grey views match decodeView's exactly in kind.
    let pipeline = sharp(base.data, { raw: { width: base.width, height: base.height, channels: base.channels } });
    if (!fits) pipeline = pipeline.resize(spec.maxSidePx, spec.maxSidePx, { fit: 'inside', kernel: 'linear' });
    // Explicit even for grey input: sharp writes raw 1-band input back out as sRGB otherwise.
    if (channels === 1) pipeline = pipeline.greyscale();
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new Error(`decodeViews: expected ${channels} channels for ${key}, sharp gave ${info.channels}`);
    out.set(key, { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels as 1 | 3 });
  }
  return out;
}
