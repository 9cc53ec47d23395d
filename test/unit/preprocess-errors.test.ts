import { createServer, type Server, type Socket } from 'net';
import { type ErrorCode, RevmodError } from '@revmod/client';
import { CROP_SIZE } from '../../src/preprocess/constants';
import { preprocessImage, type PreprocessedImage } from '../../src/preprocess/decode-image';
import { mapSharpError } from '../../src/preprocess/map-sharp-error';
import { DEFAULT_PREPROCESS_OPTIONS, type PreprocessOptions } from '../../src/preprocess/preprocess-options';
import * as fixtures from '../fixtures/hostile-images';

const CROP_BYTES = CROP_SIZE * CROP_SIZE * 3;

async function failure(bytes: Buffer, options?: PreprocessOptions): Promise<RevmodError> {
  try {
    await preprocessImage(bytes, options);
  } catch (err) {
    expect(err).toBeInstanceOf(RevmodError);
    return err as RevmodError;
  }
  throw new Error('expected preprocessImage to throw');
}

async function expectCode(bytes: Buffer, code: ErrorCode, message: RegExp, options?: PreprocessOptions): Promise<RevmodError> {
  const err = await failure(bytes, options);
  expect({ code: err.code, message: err.message }).toEqual({ code, message: expect.stringMatching(message) });
  expect(err.retryable).toBe(false);
  return err;
}

function pixel(r: PreprocessedImage, x: number, y: number): [number, number, number] {
  const i = (y * CROP_SIZE + x) * 3;
  return [r.rgb[i]!, r.rgb[i + 1]!, r.rgb[i + 2]!];
}

function expectCrop(r: PreprocessedImage): void {
  expect(r.rgb).toBeInstanceOf(Buffer);
  expect(r.rgb.length).toBe(CROP_BYTES);
}

describe('preprocessImage refuses what is not a usable image, with the right code', () => {
  test('zeroBytes → OBJECT_EMPTY', async () => {
    await expectCode(await fixtures.zeroBytes(), 'OBJECT_EMPTY', /zero bytes/);
  });

  test('truncatedJpeg → IMAGE_CORRUPT (not a silently grey image)', async () => {
    await expectCode(await fixtures.truncatedJpeg(), 'IMAGE_CORRUPT', /^truncated or corrupt JPEG: VipsJpeg: premature end of JPEG image$/);
  });

  test('truncatedJpeg is refused in fast mode too', async () => {
    await expectCode(await fixtures.truncatedJpeg(), 'IMAGE_CORRUPT', /truncated or corrupt JPEG/, {
      ...DEFAULT_PREPROCESS_OPTIONS,
      mode: 'fast',
    });
  });

  test('corruptHeaderJpeg → IMAGE_CORRUPT', async () => {
    await expectCode(await fixtures.corruptHeaderJpeg(), 'IMAGE_CORRUPT', /^corrupt JPEG header: VipsJpeg: /);
  });

  test('randomBytes → NOT_AN_IMAGE', async () => {
    await expectCode(await fixtures.randomBytes(), 'NOT_AN_IMAGE', /^not an image/);
  });

  test('htmlPage → NOT_AN_IMAGE', async () => {
    await expectCode(await fixtures.htmlPage(), 'NOT_AN_IMAGE', /^not an image: an HTML page$/);
  });

  test('pdfDocument → NOT_AN_IMAGE (the prebuilt libvips has no PDF loader; a PDF is a document either way)', async () => {
    const pdf = await fixtures.pdfDocument();
    expect(pdf.toString('latin1')).toMatch(/^%PDF-1\.4\n[\s\S]*startxref\n\d+\n%%EOF\n$/);
    await expectCode(pdf, 'NOT_AN_IMAGE', /^not an image: a PDF document$/);
  });

  test('svgImage → UNSUPPORTED_FORMAT by default', async () => {
    await expectCode(await fixtures.svgImage(), 'UNSUPPORTED_FORMAT', /SVG images are not accepted/);
  });

  test('decompressionBombPng (IHDR 30000×30000 in a few hundred bytes) → IMAGE_TOO_LARGE before decoding', async () => {
    const png = await fixtures.decompressionBombPng();
    expect(png.length).toBeLessThan(1000);
    expect(png.readUInt32BE(16)).toBe(30_000);
    const started = Date.now();
    await expectCode(png, 'IMAGE_TOO_LARGE', /^PNG declares 30000×30000 = 900000000 pixels, more than the limit of 40000000$/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('declared pixels above a lower maxPixels → IMAGE_TOO_LARGE', async () => {
    await expectCode(await fixtures.plainJpeg(), 'IMAGE_TOO_LARGE', /640×480 = 307200 pixels, more than the limit of 300000/, {
      ...DEFAULT_PREPROCESS_OPTIONS,
      maxPixels: 300_000,
    });
  });

  test('needlePng (100000×1: resizing would make 25600000×256) → IMAGE_TOO_LARGE', async () => {
    await expectCode(await fixtures.needlePng(), 'IMAGE_TOO_LARGE', /too extreme an aspect ratio.*25600000×256/);
  });

  test('heicHeader (ftyp heic + junk) → IMAGE_CORRUPT, naming the container', async () => {
    await expectCode(await fixtures.heicHeader(), 'IMAGE_CORRUPT', /^corrupt HEIF container \(brand 'heic'\)/);
  });

  test('heicContainer (HEVC declared, AV1 inside) → IMAGE_CORRUPT naming the missing HEVC configuration', async () => {
    await expectCode(await fixtures.heicContainer(), 'IMAGE_CORRUPT', /^corrupt HEIF container \(brand 'heic'\): corrupt HEIC: no primary image: .*hvcC/);
  });

  test('truncatedHeic → IMAGE_CORRUPT', async () => {
    await expectCode(await fixtures.truncatedHeic(), 'IMAGE_CORRUPT', /^truncated or corrupt HEIC: .*(end of|out of bounds|outside)/i);
  });

  test('HEIC over maxPixels → IMAGE_TOO_LARGE before any pixel is decoded', async () => {
    await expectCode(await fixtures.heicPhoto(), 'IMAGE_TOO_LARGE', /HEIC declares 600×400 = 240000 pixels, more than the limit of 200000/, {
      ...DEFAULT_PREPROCESS_OPTIONS,
      maxPixels: 200_000,
    });
  });

  test('truncatedAvif → IMAGE_CORRUPT', async () => {
    await expectCode(await fixtures.truncatedAvif(), 'IMAGE_CORRUPT', /^truncated or corrupt AVIF\/HEIF: heif: /);
  });

  test('invalid options → CONFIG_INVALID', async () => {
    const jpeg = await fixtures.plainJpeg();
    const err = await failure(jpeg, { ...DEFAULT_PREPROCESS_OPTIONS, maxPixels: 0 });
    expect(err.code).toBe('CONFIG_INVALID');
    const err2 = await failure(jpeg, { ...DEFAULT_PREPROCESS_OPTIONS, mode: 'slow' as PreprocessOptions['mode'] });
    expect(err2.code).toBe('CONFIG_INVALID');
  });
});

describe('preprocessImage decodes unusual but valid images to a 224×224×3 crop', () => {
  test('animatedGif: the first frame (red)', async () => {
    const r = await preprocessImage(await fixtures.animatedGif());
    expectCrop(r);
    expect(r.format).toBe('gif');
    expect([r.width, r.height]).toEqual([96, 64]);
    const [red] = fixtures.ANIMATION_FRAME_COLOURS;
    for (const [x, y] of [[0, 0], [112, 112], [223, 223]] as const) expect(pixel(r, x, y)).toEqual([...red]);
  });

  test('animatedWebp: the first frame (red)', async () => {
    const r = await preprocessImage(await fixtures.animatedWebp());
    expectCrop(r);
    expect(r.format).toBe('webp');
    const [red] = fixtures.ANIMATION_FRAME_COLOURS;
    for (const [x, y] of [[0, 0], [112, 112], [223, 223]] as const) expect(pixel(r, x, y)).toEqual([...red]);
  });

  test('16-bit PNG: scaled to 8 bits', async () => {
    const r = await preprocessImage(await fixtures.png16Bit());
    expectCrop(r);
    // 300×200 → 384×256, the crop centre is the image centre: R and G ramps at ~half, B = 32768/257.
    const [red, green, blue] = pixel(r, 112, 112);
    expect(Math.abs(red - 128)).toBeLessThanOrEqual(3);
    expect(Math.abs(green - 128)).toBeLessThanOrEqual(3);
    expect(blue).toBe(128);
  });

  test('palette PNG with transparency: RGB kept under alpha 0 (as PIL convert("RGB")), not blackened', async () => {
    const r = await preprocessImage(await fixtures.palettePngWithTransparency());
    expectCrop(r);
    expect(pixel(r, 10, 112)).toEqual([...fixtures.PALETTE_PNG_COLOURS.opaque]);
    expect(pixel(r, 213, 112)).toEqual([...fixtures.PALETTE_PNG_COLOURS.transparent]);
  });

  test('greyscale JPEG: three equal channels', async () => {
    const r = await preprocessImage(await fixtures.greyscaleJpeg());
    expectCrop(r);
    let unequal = 0;
    for (let i = 0; i < r.rgb.length; i += 3) if (r.rgb[i] !== r.rgb[i + 1] || r.rgb[i] !== r.rgb[i + 2]) unequal++;
    expect(unequal).toBe(0);
  });

  test('1×1 image: upscaled to a uniform crop', async () => {
    const r = await preprocessImage(await fixtures.onePixelPng());
    expectCrop(r);
    expect([r.width, r.height]).toEqual([1, 1]);
    let other = 0;
    for (let i = 0; i < r.rgb.length; i += 3) if (r.rgb[i] !== 0 || r.rgb[i + 1] !== 128 || r.rgb[i + 2] !== 128) other++;
    expect(other).toBe(0);
  });

  test('20000×200 panorama: resized to 25600×256, centre crop', async () => {
    const r = await preprocessImage(await fixtures.panoramaJpeg());
    expectCrop(r);
    expect([r.format, r.width, r.height]).toEqual(['jpeg', 20_000, 200]);
    // The red channel is a left→right ramp (0 → 255 over 20000 px): the centre crop sits at its
    // middle and spans only 224/25600 of it (JPEG 4:2:0 chroma error allowed for).
    const left = pixel(r, 0, 112)[0];
    const right = pixel(r, 223, 112)[0];
    expect(Math.abs(pixel(r, 112, 112)[0] - 128)).toBeLessThanOrEqual(10);
    expect(Math.abs(right - left)).toBeLessThanOrEqual(12);
  });

  test('AVIF decodes (the prebuilt libheif has an AV1 decoder)', async () => {
    const r = await preprocessImage(await fixtures.avifImage());
    expectCrop(r);
    expect([r.format, r.width, r.height]).toEqual(['heif', 160, 120]);
  });

  test('svgImage with allowSvg renders without fetching the external <image href>', async () => {
    const connections: Socket[] = [];
    const server: Server = createServer((socket) => {
      connections.push(socket);
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const svg = await fixtures.svgImage(`http://127.0.0.1:${address.port}/x.png`);
      const r = await preprocessImage(svg, { ...DEFAULT_PREPROCESS_OPTIONS, allowSvg: true });
      expectCrop(r);
      expect(r.format).toBe('svg');
      expect(pixel(r, 112, 112)).toEqual([0x33, 0xaa, 0x77]); // the <rect>, nothing drawn over it
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(connections.length).toBe(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('mapSharpError', () => {
  test('maps by message, keeps the cause, cleans multi-line messages', () => {
    const bomb = new Error('Input image exceeds pixel limit');
    const mapped = mapSharpError(bomb, { stage: 'decode', format: 'png' });
    expect([mapped.code, mapped.cause]).toEqual(['IMAGE_TOO_LARGE', bomb]);
    expect(mapSharpError(new Error('vips_image_new: out of memory'), { stage: 'decode', format: 'jpeg' }).code).toBe('INTERNAL');
    expect(mapSharpError('boom', { stage: 'decode' }).code).toBe('INTERNAL');
    expect(mapSharpError(new Error('Input Buffer is empty'), { stage: 'header' }).code).toBe('OBJECT_EMPTY');
    const noisy = new Error('Input buffer has corrupt header: source: bad seek to 1024\nsource: bad seek to 512\nheif: Invalid input');
    const heic = mapSharpError(noisy, { stage: 'header', heifBrand: 'heic' });
    expect([heic.code, heic.message]).toEqual(['IMAGE_CORRUPT', expect.stringMatching(/: heif: Invalid input$/)]);
    expect(mapSharpError(new Error('gifload: no frames'), { stage: 'decode', format: 'gif' }).message).toBe(
      'truncated or corrupt GIF: gifload: no frames',
    );
  });
});
