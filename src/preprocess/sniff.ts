/**
 * Cheap looks at the first bytes of an object, used only to name what a non-image is, to refuse SVG
 * before any decoder parses it and to route HEIF containers. sharp's own detection decides what *is*
 * an image.
 */

const HEIF_BRANDS = new Set([
  'heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs', 'heif', 'mif1', 'mif2', 'msf1', 'avif', 'avis',
]);

/** ISO-BMFF brands of a file starting with an `ftyp` box: the major brand first. */
export function isoBmffBrands(bytes: Uint8Array): string[] | undefined {
  if (bytes.length < 12) return undefined;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 256));
  if (buf.toString('latin1', 4, 8) !== 'ftyp') return undefined;
  const boxSize = buf.readUInt32BE(0);
  const end = Math.min(boxSize >= 16 ? boxSize : 16, buf.length);
  const brands = [buf.toString('latin1', 8, 12)];
  for (let p = 16; p + 4 <= end; p += 4) brands.push(buf.toString('latin1', p, p + 4));
  return brands;
}

/**
 * The HEIF-family brand of an ISO-BMFF file ('heic', 'mif1', 'avif', ...), or undefined. AVIF brands
 * win over generic ones so that an AVIF is recognised as such.
 */
export function heifBrand(bytes: Uint8Array): string | undefined {
  const brands = isoBmffBrands(bytes);
  if (brands === undefined) return undefined;
  const family = brands.filter((b) => HEIF_BRANDS.has(b));
  return family.find((b) => b === 'avif' || b === 'avis') ?? family[0];
}

/** The start of the object as text, without BOM and leading whitespace, lower-cased (first 4 KiB). */
function leadingText(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 4096)).toString('latin1');
  return head.replace(/^(\xef\xbb\xbf|\xfe\xff|\xff\xfe)/, '').trimStart().toLowerCase();
}

/** True when the bytes look like an SVG document (XML text with an <svg element near the start). */
export function looksLikeSvg(bytes: Uint8Array): boolean {
  const text = leadingText(bytes);
  return text.startsWith('<') && text.includes('<svg');
}

function mostlyText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 1024);
  if (n === 0) return false;
  let printable = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 128) printable++;
  }
  return printable / n > 0.95;
}

/** A short description of what a non-image object appears to be, for error messages. */
export function describeContent(bytes: Uint8Array): string | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 16));
  if (buf.toString('latin1', 0, 5) === '%PDF-') return 'a PDF document';
  if (buf.length >= 4 && buf.readUInt32BE(0) === 0x504b0304) return 'a ZIP archive (or an office document)';
  const brands = isoBmffBrands(bytes);
  if (brands !== undefined) return `an ISO media file (brand '${brands[0] ?? ''}'), e.g. a video`;
  const text = leadingText(bytes);
  if (text.startsWith('<!doctype html') || text.startsWith('<html') || /^<(head|body)\b/.test(text)) return 'an HTML page';
  if (text.startsWith('<?xml') || text.startsWith('<')) return 'XML/HTML markup';
  if (text.startsWith('{') || text.startsWith('[')) return 'JSON or other text';
  if (mostlyText(bytes)) return 'text';
  return undefined;
}

/**
 * What an upload is by its first bytes, before any decoder sees it: one of the raster formats
 * decoded here, or a refusal with its reason. An allow-list: anything else (SVG unless allowed,
 * compressed SVG, BMP, documents, random bytes) never reaches libvips, whose own detection would
 * hand SVG-like input to librsvg without pixel limits.
 */
export type SniffResult =
  | { readonly ok: true; readonly format: string }
  | { readonly ok: false; readonly code: 'UNSUPPORTED_FORMAT' | 'NOT_AN_IMAGE'; readonly message: string };

export function sniffUpload(bytes: Uint8Array, allowSvg: boolean): SniffResult {
  const format = magicFormat(bytes);
  if (format !== undefined) return { ok: true, format };
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 16));
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) {
    return { ok: false, code: 'UNSUPPORTED_FORMAT', message: 'BMP images are not accepted: convert to JPEG or PNG before upload' };
  }
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    return { ok: false, code: 'UNSUPPORTED_FORMAT', message: 'gzip-compressed data (e.g. a compressed SVG, .svgz) is not accepted' };
  }
  if (looksLikeSvg(bytes)) {
    return allowSvg ? { ok: true, format: 'svg' } : { ok: false, code: 'UNSUPPORTED_FORMAT', message: 'SVG images are not accepted (allowSvg is off)' };
  }
  const what = describeContent(bytes);
  return { ok: false, code: 'NOT_AN_IMAGE', message: `not an image${what ? `: ${what}` : ' (no raster image signature in its first bytes)'}` };
}

/** The image format the magic number announces ('jpeg', 'png', ...), for messages before sharp has read a header. */
export function magicFormat(bytes: Uint8Array): string | undefined {
  if (bytes.length < 4) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 16));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.readUInt32BE(0) === 0x89504e47) return 'png';
  if (b.toString('latin1', 0, 4) === 'GIF8') return 'gif';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  const tiff = b.toString('latin1', 0, 4);
  if (tiff === 'II*\0' || tiff === 'MM\0*') return 'tiff';
  if (heifBrand(bytes) !== undefined) return 'heif';
  return undefined;
}
