import sharp from 'sharp';
import { decodeView, decodeViews } from '../../src/detectors/views';
import { fixturePhoto } from '../helpers/detector-images';

describe('detector views', () => {
  const specs = [{ kind: 'grey', maxSidePx: 512 }, { kind: 'grey', maxSidePx: 1024 }, { kind: 'rgb', maxSidePx: 1024 }] as const;

  it.each(['rocket_1080x1080_q85.jpg', 'coffee_600x400_q85.jpg', 'camera_512x512_q85.jpg'])('makes every view of %s from one decode, with the right channels and sizes', async (name) => {
    const views = await decodeViews(fixturePhoto(name), specs);
    const meta = await sharp(fixturePhoto(name)).metadata();
    for (const s of specs) {
      const v = views.get(`${s.kind}${s.maxSidePx}`)!;
      expect(v.channels).toBe(s.kind === 'grey' ? 1 : 3);
      expect(v.data.length).toBe(v.width * v.height * v.channels);
      expect(Math.max(v.width, v.height)).toBe(Math.min(s.maxSidePx, Math.max(meta.width!, meta.height!)));
    }
  });

  it('a grey view from the shared decode matches a grey view decoded on its own', async () => {
    const bytes = fixturePhoto('rocket_1080x1080_q85.jpg');
    const shared = (await decodeViews(bytes, specs)).get('grey512')!;
    const alone = await decodeView(bytes, { kind: 'grey', maxSidePx: 512 });
    expect([shared.width, shared.height]).toEqual([alone.width, alone.height]);
    let diff = 0;
    for (let i = 0; i < alone.data.length; i++) diff += Math.abs(shared.data[i]! - alone.data[i]!);
    expect(diff / alone.data.length).toBeLessThan(2);
  });

  it('applies the EXIF orientation (views are upright)', async () => {
    const sideways = await sharp(fixturePhoto('coffee_600x400_q85.jpg')).rotate(90).withMetadata({ orientation: 8 }).jpeg().toBuffer();
    const v = await decodeView(sideways, { kind: 'rgb', maxSidePx: 1024 });
    expect([v.width, v.height]).toEqual([600, 400]);
  });
});
