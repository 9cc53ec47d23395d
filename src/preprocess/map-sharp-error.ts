import { RevmodError } from '@revmod/client';

/**
 * Where a sharp/libvips error happened and what was known about the bytes at that point. The one
 * place where sharp's error messages are turned into error codes.
 */
export interface SharpErrorContext {
  /** 'header': `metadata()` (format sniffing, header parse); 'decode': the pixel pipeline. */
  readonly stage: 'header' | 'decode';
  /** sharp's format name when the header was read ('jpeg', 'png', 'heif', ...). */
  readonly format?: string | undefined;
  /** A HEIF-family brand ('heic', 'avif', 'mif1', ...) found in an ISO-BMFF `ftyp` box, if any. */
  readonly heifBrand?: string | undefined;
  /** What the bytes look like when they are no image ('an HTML page', 'a PDF document', ...). */
  readonly contentHint?: string | undefined;
}

const FORMAT_LABELS: Readonly<Record<string, string>> = {
  jpeg: 'JPEG',
  png: 'PNG',
  webp: 'WebP',
  gif: 'GIF',
  tiff: 'TIFF',
  heif: 'AVIF/HEIF',
  heic: 'HEIC',
  svg: 'SVG',
};

/** A human label for sharp's format name ('jpeg' → 'JPEG'). */
export function formatLabel(format: string | undefined): string {
  if (format === undefined) return 'image';
  return FORMAT_LABELS[format] ?? format.toUpperCase();
}

/**
 * libvips messages can run to dozens of lines (libheif's "bad seek" retries, for example): keep the
 * distinct lines, at most the first and the last, on one line, and bounded in length.
 */
export function cleanSharpMessage(message: string): string {
  const lines = [
    ...new Set(
      message
        .split(/\r?\n/)
        .map((l) => l.replace(/^input (buffer|file) has corrupt header:\s*/i, '').trim())
        .filter((l) => l.length > 0 && !/^source: bad seek to \d+$/.test(l)),
    ),
  ];
  let text: string;
  if (lines.length === 0) text = 'unknown error';
  else if (lines.length <= 2) text = lines.join('; ');
  else text = `${lines[0]} … ${lines[lines.length - 1]}`;
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

const OUT_OF_MEMORY = /out of memory|memory allocation failed|cannot allocate|bad_alloc|failed to allocate/i;

/**
 * Maps an error thrown by sharp to a RevmodError:
 *  - empty input → OBJECT_EMPTY;
 *  - pixel-limit refusals (limitInputPixels, SVG size limit) → IMAGE_TOO_LARGE;
 *  - allocation failures → INTERNAL (retryable: the same bytes may decode on a less busy worker);
 *  - a HEIF container (AVIF here: HEIC goes to libheif-js first) whose header libheif cannot read →
 *    IMAGE_CORRUPT;
 *  - "unsupported image format" (no loader recognises the bytes: HTML, PDF, random bytes) → NOT_AN_IMAGE;
 *  - anything else from a recognised image (corrupt header, truncated data, libjpeg/libpng/libwebp
 *    warnings escalated by `failOn: 'warning'`) → IMAGE_CORRUPT.
 */
export function mapSharpError(err: unknown, context: SharpErrorContext): RevmodError {
  if (err instanceof RevmodError) return err;
  if (!(err instanceof Error)) {
    return new RevmodError('INTERNAL', `image processing failed: ${String(err)}`, { cause: err });
  }
  const raw = err.message;
  const detail = cleanSharpMessage(raw);
  const label = formatLabel(context.format);

  if (/input buffer is empty/i.test(raw)) {
    return new RevmodError('OBJECT_EMPTY', 'the object has zero bytes', { cause: err });
  }
  if (/pixel limit/i.test(raw)) {
    return new RevmodError('IMAGE_TOO_LARGE', `${label} exceeds the pixel limit: ${detail}`, { cause: err });
  }
  if (OUT_OF_MEMORY.test(raw)) {
    return new RevmodError('INTERNAL', `out of memory while decoding ${label}: ${detail}`, { cause: err });
  }
  if (context.stage === 'header' && context.heifBrand !== undefined) {
    return new RevmodError('IMAGE_CORRUPT', `corrupt HEIF container (brand '${context.heifBrand}'): ${detail}`, { cause: err });
  }
  if (/unsupported image format/i.test(raw)) {
    const what = context.contentHint ?? 'bytes in no image format this worker recognises';
    return new RevmodError('NOT_AN_IMAGE', `not an image: ${what}`, { cause: err });
  }
  if (context.stage === 'header') {
    return new RevmodError('IMAGE_CORRUPT', `corrupt ${label} header: ${detail}`, { cause: err });
  }
  return new RevmodError('IMAGE_CORRUPT', `truncated or corrupt ${label}: ${detail}`, { cause: err });
}
