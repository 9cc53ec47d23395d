import { gzipSync } from 'node:zlib';
import { createServer, type Server } from 'node:net';
import { preprocessImage } from '../../src/preprocess/decode-image';
import { DEFAULT_PREPROCESS_OPTIONS } from '../../src/preprocess/preprocess-options';
import { svgImage } from '../fixtures/hostile-images';

const withSvg = { ...DEFAULT_PREPROCESS_OPTIONS, allowSvg: true };

/** A minimal valid 2×2 24-bit BMP. */
function inputBmp(): Buffer {
  const rowBytes = 8; // 2 px × 3 bytes, padded to 4
  const pixels = Buffer.alloc(rowBytes * 2, 0x80);
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(54 + pixels.length, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(2, 18);
  header.writeInt32LE(2, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(pixels.length, 34);
  return Buffer.concat([header, pixels]);
}

async function connectionCounter(): Promise<{ port: number; count: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server: Server = createServer((socket) => { connections += 1; socket.destroy(); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, count: () => connections, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('uploads are sniffed against an allow-list of raster formats before any decoder sees them', () => {
  it('refuses gzip-compressed SVG even with SVG allowed (librsvg would parse it without pixel limits)', async () => {
    const svgz = gzipSync(await svgImage());
    await expect(preprocessImage(svgz, withSvg)).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT', message: expect.stringMatching(/gzip-compressed data \(e\.g\. a compressed SVG, \.svgz\)/) });
  });

  it('refuses an SVG hidden behind a comment longer than 4 KiB as no image, before libvips reads it', async () => {
    const svg = (await svgImage()).toString('utf8');
    const hidden = Buffer.from(`<?xml version="1.0"?>\n<!--${'x'.repeat(5000)}-->\n${svg.replace(/^<\?xml[^>]*>\n?/, '')}`);
    await expect(preprocessImage(hidden, withSvg)).rejects.toMatchObject({ code: 'NOT_AN_IMAGE', message: expect.stringMatching(/^not an image: XML\/HTML markup/) });
    await expect(preprocessImage(hidden, DEFAULT_PREPROCESS_OPTIONS)).rejects.toMatchObject({ code: 'NOT_AN_IMAGE' });
  });

  it('names BMP in its refusal', async () => {
    await expect(preprocessImage(inputBmp(), DEFAULT_PREPROCESS_OPTIONS)).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT', message: 'BMP images are not accepted: convert to JPEG or PNG before upload' });
  });

  it('renders an allowed SVG without ever fetching its external references', async () => {
    const target = await connectionCounter();
    try {
      const svg = await svgImage(`http://127.0.0.1:${target.port}/tracker.png`);
      const out = await preprocessImage(svg, withSvg);
      expect(out.format).toBe('svg');
      expect(out.rgb.length).toBe(224 * 224 * 3);
      await new Promise((r) => setTimeout(r, 200));
      expect(target.count()).toBe(0);
    } finally {
      await target.close();
    }
  });

  it('refuses bytes that start like one format and decode as another', async () => {
    const png = Buffer.from('89504e470d0a1a0a', 'hex');
    await expect(preprocessImage(Buffer.concat([png, Buffer.alloc(64)]), DEFAULT_PREPROCESS_OPTIONS)).rejects.toMatchObject({ code: expect.stringMatching(/IMAGE_CORRUPT|NOT_AN_IMAGE/) });
  });
});
