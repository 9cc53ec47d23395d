import { readFileSync } from 'node:fs';
import {
  BARCODE_META_FORMATS, BINARIZERS, CHARACTER_SETS, EAN_ADD_ON_SYMBOLS, encodeFormats, prepareZXingModule, READABLE_BARCODE_FORMATS, TEXT_MODES,
  type ReadInputBarcodeFormat, type ZXingReaderOptions,
} from 'zxing-wasm/reader';
import { RevmodError } from '@revmod/client';
import { integerIn, isBoolean, resolveOptions, stringList } from './options';
import type { DetectorDescriptor, DetectorSignal, PixelView } from './types';

export interface QrOptions {
  /**
   * zxing formats to look for. The matrix codes that carry links and ids in practice by default;
   * each format is a pass over the image. Linear barcodes (EAN-13 on a product's box) are common in
   * honest review photos; add them ('EAN13', 'Code128', ... or 'AllLinear') to report them too,
   * and 'Aztec' or 'RMQRCode' for those.
   * @defaultValue ['QRCode', 'MicroQRCode', 'DataMatrix']
   */
  readonly formats: readonly string[];
  /**
   * zxing's slower, more thorough search (more scan lines, more binarizer passes).
   * @defaultValue false
   */
  readonly tryHarder: boolean;
  /**
   * Also scan a downscaled copy of large views (zxing's tryDownscale): helps with noisy codes that
   * fill the frame, and costs ~25 % more on every photo without a code.
   * @defaultValue false
   */
  readonly tryDownscale: boolean;
  /**
   * Also look for light-on-dark (inverted) codes, at the cost of a second pass.
   * @defaultValue false
   */
  readonly tryInvert: boolean;
  /**
   * Longest payload kept in evidence, in characters; longer ones are cut and marked `truncated`.
   * @defaultValue 512
   */
  readonly maxPayloadChars: number;
  /**
   * Most codes reported per image.
   * @defaultValue 8
   */
  readonly maxCodes: number;
}

export const DEFAULT_QR_OPTIONS: QrOptions = Object.freeze({
  formats: Object.freeze(['QRCode', 'MicroQRCode', 'DataMatrix']),
  tryHarder: false,
  tryDownscale: false,
  tryInvert: false,
  maxPayloadChars: 512,
  maxCodes: 8,
});

/** A point as a fraction (0–1) of the view's width and height, so it holds at any image size. */
export interface RelativePoint {
  readonly x: number;
  readonly y: number;
}

export interface QrEvidence {
  /** zxing's format name, e.g. 'QRCode', 'DataMatrix'. */
  readonly format: string;
  readonly payload: string;
  readonly truncated: boolean;
  /** The URL's host (lower case) when the payload is a URL, with or without a scheme. */
  readonly host?: string;
  /** The URL's scheme without ':' ('https', 'weixin', ...) when the payload is a URL. */
  readonly scheme?: string;
  /** The code's corners as fractions of the image's width and height (upright image). */
  readonly position: {
    readonly topLeft: RelativePoint;
    readonly topRight: RelativePoint;
    readonly bottomRight: RelativePoint;
    readonly bottomLeft: RelativePoint;
  };
}

const CHECKS = {
  formats: (v: readonly string[]) => stringList()(v) ?? (v.length > 0 && v.every((f) => KNOWN_FORMATS.has(f)) ? undefined : `must be a non-empty list of zxing format names (${[...KNOWN_FORMATS].join(', ')})`),
  tryHarder: isBoolean(),
  tryDownscale: isBoolean(),
  tryInvert: isBoolean(),
  maxPayloadChars: integerIn(1, 1_000_000),
  maxCodes: integerIn(1, 255),
};

/** The part of zxing-wasm's Emscripten module this detector calls. */
interface ZxingModule {
  readonly HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  readBarcodesFromPixmap(ptr: number, width: number, height: number, options: ZXingReaderOptions): ZxingVector;
}

interface ZxingVector {
  size(): number;
  get(i: number): ZxingResult;
  delete(): void;
}

interface ZxingResult {
  readonly isValid: boolean;
  readonly format: string;
  readonly text: string;
  readonly position: Readonly<Record<'topLeft' | 'topRight' | 'bottomRight' | 'bottomLeft', { readonly x: number; readonly y: number }>>;
}

let ready: Promise<ZxingModule> | undefined;

/**
 * Instantiates zxing's reader from the wasm file inside the npm package, once per thread.
 * zxing-wasm's default is to fetch the wasm from a CDN; handing it `wasmBinary` means nothing is
 * ever fetched.
 */
export function loadZxing(): Promise<ZxingModule> {
  ready ??= (async () => {
    const file = require.resolve('zxing-wasm/reader/zxing_reader.wasm');
    const bytes = readFileSync(file);
    const wasmBinary = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const mod = (await prepareZXingModule({ overrides: { wasmBinary }, fireImmediately: true })) as unknown as ZxingModule;
    if (typeof mod.readBarcodesFromPixmap !== 'function' || typeof mod._malloc !== 'function') {
      throw new Error('zxing-wasm: the reader module lacks readBarcodesFromPixmap (the pinned version is 3.1.6)');
    }
    return mod;
  })();
  return ready;
}

const KNOWN_FORMATS = new Set<string>([...READABLE_BARCODE_FORMATS, ...BARCODE_META_FORMATS]);

function zxingOptions(o: QrOptions): ZXingReaderOptions {
  return {
    formats: encodeFormats(o.formats as ReadInputBarcodeFormat[]),
    tryHarder: o.tryHarder,
    tryRotate: o.tryHarder,
    tryInvert: o.tryInvert,
    tryDownscale: o.tryDownscale,
    tryDenoise: false,
    binarizer: BINARIZERS.indexOf('LocalAverage'),
    isPure: false,
    downscaleThreshold: 500,
    downscaleFactor: 3,
    minLineCount: 2,
    maxNumberOfSymbols: o.maxCodes,
    validateOptionalChecksum: false,
    returnErrors: false,
    eanAddOnSymbol: EAN_ADD_ON_SYMBOLS.indexOf('Ignore'),
    textMode: TEXT_MODES.indexOf('HRI'),
    characterSet: CHARACTER_SETS.indexOf('Unknown'),
    tryCode39ExtendedMode: true,
  };
}

/**
 * Runs zxing on the luminance bytes directly. zxing-wasm's public `readBarcodes` takes RGBA only and
 * turns it back into luminance in JS: two passes and a 4× buffer that cost more than the decode
 * itself on a photo without a code (measured 2.4 ms against 0.5 ms on a 512×384 view).
 */
function readLuminance(mod: ZxingModule, view: PixelView, options: ZXingReaderOptions): ZxingResult[] {
  const { data, width, height } = view;
  const ptr = mod._malloc(data.length);
  if (ptr === 0) throw new Error(`zxing-wasm: could not allocate ${data.length} bytes`);
  let results: ZxingVector | undefined;
  try {
    mod.HEAPU8.set(data, ptr);
    results = mod.readBarcodesFromPixmap(ptr, width, height, options);
    const out: ZxingResult[] = [];
    for (let i = 0; i < results.size(); i++) out.push(results.get(i));
    return out;
  } finally {
    results?.delete();
    mod._free(ptr);
  }
}

/** Scheme and host of a payload that is a URL ('https://a.b/c', 'www.a.b/c', 'weixin://…'), else undefined. */
export function urlParts(payload: string): { scheme: string; host: string } | undefined {
  const text = payload.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : /^www\.[^\s/]+\.[a-z]{2,}/i.test(text) ? `http://${text}` : undefined;
  if (withScheme === undefined) return undefined;
  try {
    const url = new URL(withScheme);
    if (url.hostname === '') return undefined;
    return { scheme: url.protocol.replace(/:$/, ''), host: url.hostname.toLowerCase() };
  } catch {
    return undefined;
  }
}

function relative(p: { x: number; y: number }, w: number, h: number): RelativePoint {
  return { x: Math.round((p.x / w) * 10_000) / 10_000, y: Math.round((p.y / h) * 10_000) / 10_000 };
}

function toEvidence(r: ZxingResult, view: PixelView, maxChars: number): QrEvidence {
  const truncated = r.text.length > maxChars;
  const payload = truncated ? r.text.slice(0, maxChars) : r.text;
  const url = urlParts(r.text);
  const { width: w, height: h } = view;
  return {
    format: r.format,
    payload,
    truncated,
    ...(url === undefined ? {} : { host: url.host, scheme: url.scheme }),
    position: {
      topLeft: relative(r.position.topLeft, w, h),
      topRight: relative(r.position.topRight, w, h),
      bottomRight: relative(r.position.bottomRight, w, h),
      bottomLeft: relative(r.position.bottomLeft, w, h),
    },
  };
}

async function detectQr(view: PixelView, options?: Partial<QrOptions>): Promise<readonly DetectorSignal<QrEvidence>[]> {
  const o = resolveOptions('qr', DEFAULT_QR_OPTIONS, options, CHECKS);
  if (view.channels !== 1) throw new Error(`qr detector needs a grey view (got ${view.channels} channels)`);
  const mod = await loadZxing();
  return readLuminance(mod, view, zxingOptions(o))
    .filter((r) => r.isValid)
    .slice(0, o.maxCodes)
    .map((r) => ({ reason: 'qr_code' as const, evidence: toEvidence(r, view, o.maxPayloadChars) }));
}

export type QrDetector = DetectorDescriptor<QrOptions, { readonly kind: 'grey'; readonly maxSidePx: number }, QrEvidence>;

/**
 * The QR detector on a grey view of at most `maxSidePx`. 512 (the default detector) shares the view
 * the other cheap detectors read; 1024 also reads codes of ~100 px in a 700-px photo (~1.5 px per
 * module at 512) for ~0.8 ms more per photo and, unless the frame has that view anyway, a larger
 * decode (docs/detectors.md, "Cost").
 */
export function createQrDetector(maxSidePx = 512): QrDetector {
  if (!Number.isInteger(maxSidePx) || maxSidePx < 64 || maxSidePx > 4096) {
    throw new RevmodError('CONFIG_INVALID', `detectors.qr.maxSidePx must be an integer in [64, 4096] (got ${JSON.stringify(maxSidePx)})`);
  }
  return Object.freeze({
    name: 'qr',
    view: Object.freeze({ kind: 'grey', maxSidePx } as const),
    cost: 'cheap',
    defaults: DEFAULT_QR_OPTIONS,
    detect: detectQr,
  });
}

export const qrDetector: QrDetector = createQrDetector(512);
