import { readFileSync } from 'node:fs';
import { RevmodError } from '@revmod/client';
import { cleanSharpMessage } from './map-sharp-error';
import type { Size } from './plan';

/**
 * HEIC (HEIF with HEVC), decoded with libheif's WebAssembly build from npm (`libheif-js`, libheif
 * with libde265): the prebuilt libvips inside sharp reads HEIF containers but carries no HEVC decoder.
 * The WASM module is loaded once per thread, on the first HEIC; its memory grows to the largest image
 * decoded and stays there (docs/preprocessing.md has the figures).
 */

/** The parts of libheif's embind interface used here. */
interface HeifError {
  readonly code?: unknown;
  readonly message?: string;
}
interface HeifChannel {
  readonly id: unknown;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly data: Uint8Array;
}
interface HeifDecoded extends HeifError {
  readonly image?: unknown;
  readonly channels?: readonly HeifChannel[];
}
interface LibHeif {
  calledRun?: boolean;
  onRuntimeInitialized?: () => void;
  heif_context_alloc(): unknown;
  heif_context_free(ctx: unknown): void;
  heif_context_read_from_memory(ctx: unknown, bytes: Uint8Array): HeifError;
  heif_js_context_get_primary_image_handle(ctx: unknown): HeifError;
  heif_image_handle_get_width(handle: unknown): number;
  heif_image_handle_get_height(handle: unknown): number;
  heif_image_handle_release(handle: unknown): void;
  heif_js_decode_image2(handle: unknown, colorspace: unknown, chroma: unknown): HeifDecoded;
  heif_image_release(image: unknown): void;
  heif_error_code: { heif_error_Ok: unknown };
  heif_colorspace: { heif_colorspace_RGB: unknown };
  heif_chroma: { heif_chroma_interleaved_RGBA: unknown };
  heif_channel: { heif_channel_interleaved: unknown };
}

let loading: Promise<LibHeif> | undefined;

/** libheif, initialised once per thread. The wasm binary is passed in: the package's own loader resolves it against the working directory. */
function libheif(): Promise<LibHeif> {
  loading ??= new Promise<LibHeif>((resolve, reject) => {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const factory = require('libheif-js/libheif-wasm/libheif.js') as (m: { wasmBinary: Buffer }) => LibHeif;
      const lib = factory({ wasmBinary: readFileSync(require.resolve('libheif-js/libheif-wasm/libheif.wasm')) });
      if (lib.calledRun) resolve(lib);
      else lib.onRuntimeInitialized = () => resolve(lib);
    } catch (err) {
      reject(err);
    }
  }).catch((err: unknown) => {
    loading = undefined;
    throw new RevmodError('INTERNAL', `the HEIC decoder (libheif-js) failed to load: ${(err as Error).message}`, { cause: err });
  });
  return loading;
}

function failed(lib: LibHeif, result: HeifError | undefined): boolean {
  return result === undefined || result === null || (result.code !== undefined && result.code !== lib.heif_error_code.heif_error_Ok);
}

const detail = (result: HeifError | undefined) => cleanSharpMessage(result?.message ?? 'no result');

/** The primary image of a HEIC, decoded. */
export interface HeicPixels {
  /** width × height × 4 bytes, RGBA, upright (libheif applies the container's rotation and mirroring). */
  readonly data: Buffer;
  readonly channels: 4;
  readonly size: Size;
}

/** Runs `fn` on the primary image handle of a HEIC, releasing libheif's context after. */
async function withPrimaryImage<T>(bytes: Buffer, fn: (lib: LibHeif, handle: HeifError, size: Size) => T): Promise<T> {
  const lib = await libheif();
  const ctx = lib.heif_context_alloc();
  let handle: HeifError | undefined;
  try {
    const read = lib.heif_context_read_from_memory(ctx, bytes);
    if (failed(lib, read)) throw new RevmodError('IMAGE_CORRUPT', `corrupt HEIC container: ${detail(read)}`);
    handle = lib.heif_js_context_get_primary_image_handle(ctx);
    if (failed(lib, handle)) throw new RevmodError('IMAGE_CORRUPT', `corrupt HEIC: no primary image: ${detail(handle)}`);
    const width = lib.heif_image_handle_get_width(handle);
    const height = lib.heif_image_handle_get_height(handle);
    if (!(width > 0 && height > 0)) throw new RevmodError('IMAGE_CORRUPT', `corrupt HEIC: the primary image is ${width}×${height}`);
    return fn(lib, handle, { width, height });
  } finally {
    if (handle !== undefined && !failed(lib, handle)) lib.heif_image_handle_release(handle);
    lib.heif_context_free(ctx);
  }
}

/**
 * The size of a HEIC's primary image as displayed, after the container's rotation and crop (sharp's
 * header reports the size before them): the container is parsed, no pixel decoded.
 * @throws RevmodError IMAGE_CORRUPT, INTERNAL (the decoder failed to load).
 */
export function heicSize(bytes: Buffer): Promise<Size> {
  return withPrimaryImage(bytes, (_lib, _handle, size) => size);
}

/**
 * Decodes the primary image of a HEIC to RGBA. The container's transformations (irot, imir, clap)
 * are applied by libheif, so the result is upright and EXIF orientation does not apply.
 * @throws RevmodError IMAGE_CORRUPT (unreadable container, truncated or damaged HEVC data),
 * IMAGE_TOO_LARGE (primary image over maxPixels, checked before any pixel is decoded), INTERNAL
 * (the decoder failed to load).
 */
export function decodeHeic(bytes: Buffer, maxPixels: number): Promise<HeicPixels> {
  return withPrimaryImage(bytes, (lib, handle, { width, height }) => {
    if (width * height > maxPixels) {
      throw new RevmodError('IMAGE_TOO_LARGE', `HEIC is ${width}×${height} = ${width * height} pixels, more than the limit of ${maxPixels}`);
    }
    const decoded = lib.heif_js_decode_image2(handle, lib.heif_colorspace.heif_colorspace_RGB, lib.heif_chroma.heif_chroma_interleaved_RGBA);
    if (failed(lib, decoded)) throw new RevmodError('IMAGE_CORRUPT', `truncated or corrupt HEIC: ${detail(decoded)}`);
    try {
      const plane = decoded.channels?.find((c) => c.id === lib.heif_channel.heif_channel_interleaved);
      if (plane === undefined || plane.width !== width || plane.height !== height || plane.stride < width * 4) {
        throw new RevmodError('IMAGE_CORRUPT', `corrupt HEIC: decoded to an unexpected plane (${plane ? `${plane.width}×${plane.height}, stride ${plane.stride}` : 'none'}) for ${width}×${height}`);
      }
      // The plane is a view into the WASM heap, reused once the image is released: copy it out.
      const row = width * 4;
      const data = Buffer.allocUnsafe(row * height);
      if (plane.stride === row) data.set(plane.data.subarray(0, row * height));
      else for (let y = 0; y < height; y++) data.set(plane.data.subarray(y * plane.stride, y * plane.stride + row), y * row);
      return { data, channels: 4 as const, size: { width, height } };
    } finally {
      if (decoded.image !== undefined) lib.heif_image_release(decoded.image);
    }
  });
}
