import { createQrDetector, qrDetector, urlParts } from '../../src/detectors/qr';
import { decodeView } from '../../src/detectors/views';
import { fixturePhoto, withQr } from '../helpers/detector-images';

const grey = (bytes: Buffer) => decodeView(bytes, qrDetector.view);

describe('QR detector', () => {
  const realFetch = globalThis.fetch;
  const fetchCalls: string[] = [];

  beforeAll(() => {
    // Any fetch during these tests is recorded and fails: zxing's wasm must come from the package.
    globalThis.fetch = ((input: unknown) => {
      fetchCalls.push(String(input));
      return Promise.reject(new Error('network access in a test'));
    }) as typeof fetch;
  });
  afterAll(() => {
    globalThis.fetch = realFetch;
  });

  it('reads a QR code on a real photo: format, payload, host, and where it is, without fetching anything', async () => {
    const photo = fixturePhoto('coffee_600x400_q85.jpg');
    const signals = await qrDetector.detect(await grey(await withQr(photo, 'https://shop-8888.example.cn/item?id=42', 140, 300, 120)));
    expect(signals).toHaveLength(1);
    const e = signals[0]!.evidence;
    expect(signals[0]!.reason).toBe('qr_code');
    expect(e).toMatchObject({ format: 'QRCode', payload: 'https://shop-8888.example.cn/item?id=42', host: 'shop-8888.example.cn', scheme: 'https', truncated: false });
    // Pasted at x 300–440 of 600, y 120–260 of 400 (the finder corners sit inside the quiet zone).
    expect(e.position.topLeft.x).toBeGreaterThan(0.5);
    expect(e.position.bottomRight.x).toBeLessThan(0.74);
    expect(e.position.topLeft.y).toBeGreaterThan(0.3);
    expect(e.position.bottomRight.y).toBeLessThan(0.66);
    expect(fetchCalls).toEqual([]);
  });

  it('reads a small code (100 px in a 600-px photo), and a 1024-px view reads what 512 cannot', async () => {
    const signals = await qrDetector.detect(await grey(await withQr(fixturePhoto('coffee_600x400_q85.jpg'), 'weixin://dl/business/?t=abc123', 100, 40, 250)));
    expect(signals.map((s) => s.evidence.scheme)).toEqual(['weixin']);
    // 110 px in a 1080-px photo: ~1.3 px per module at 512, ~2.7 at 1024.
    const small = await withQr(fixturePhoto('rocket_1080x1080_q85.jpg'), 'https://www.shop-8888.example.cn/item?id=123456', 110, 60, 800);
    const qr1024 = createQrDetector(1024);
    expect(await qrDetector.detect(await grey(small))).toEqual([]);
    expect((await qr1024.detect(await decodeView(small, qr1024.view))).map((s) => s.evidence.host)).toEqual(['www.shop-8888.example.cn']);
    expect(() => createQrDetector(10)).toThrow('detectors.qr.maxSidePx must be an integer in [64, 4096] (got 10)');
  });

  it.each(['coffee_600x400_q85.jpg', 'chelsea_451x300_q85.jpg', 'rocket_1080x1080_q85.jpg', 'gravel_512x512_q85.jpg', 'brick_512x512_q85.jpg'])('finds nothing on the plain photo %s', async (name) => {
    expect(await qrDetector.detect(await grey(fixturePhoto(name)))).toEqual([]);
  });

  it('cuts long payloads and says so', async () => {
    const long = `https://a.example/${'x'.repeat(300)}`;
    const signals = await qrDetector.detect(await grey(await withQr(fixturePhoto('rocket_1080x1080_q85.jpg'), long, 500)), { maxPayloadChars: 40 });
    expect(signals[0]!.evidence.payload).toBe(long.slice(0, 40));
    expect(signals[0]!.evidence.truncated).toBe(true);
    expect(signals[0]!.evidence.host).toBe('a.example');
  });

  it('refuses unknown formats, naming the option', async () => {
    await expect(qrDetector.detect(await grey(fixturePhoto('coffee_600x400_q85.jpg')), { formats: ['QRCode', 'Bogus'] })).rejects.toThrow(/detectors\.qr\.formats .*\(got \["QRCode","Bogus"\]\)/);
  });

  it('knows URLs from other payloads', () => {
    expect(urlParts('HTTPS://QR.ALIPAY.COM/FKX01')).toEqual({ scheme: 'https', host: 'qr.alipay.com' });
    expect(urlParts('www.shop.cn/a')).toEqual({ scheme: 'http', host: 'www.shop.cn' });
    expect(urlParts('加好友 abc123')).toBeUndefined();
    expect(urlParts('WIFI:S:home;T:WPA;P:secret;;')).toBeUndefined();
  });

  it('the fetch trap works: zxing-wasm left to its defaults does try to fetch its wasm', async () => {
    // A fresh copy of the library without wasmBinary: the same trap records the CDN request.
    const before = fetchCalls.length;
    // Emscripten reports the failed fetch on the console; that is the expected outcome here.
    const quiet = [jest.spyOn(console, 'error').mockImplementation(() => undefined), jest.spyOn(console, 'warn').mockImplementation(() => undefined)];
    await jest.isolateModulesAsync(async () => {
      const fresh = await import('zxing-wasm/reader');
      await expect(fresh.prepareZXingModule({ fireImmediately: true })).rejects.toThrow();
    });
    for (const q of quiet) q.mockRestore();
    expect(fetchCalls.length).toBeGreaterThan(before);
    expect(fetchCalls.slice(before).join(' ')).toMatch(/zxing_reader\.wasm/);
  });
});
