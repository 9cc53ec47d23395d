import { blurDetector, DEFAULT_BLUR_OPTIONS, measureSharpness } from '../../src/detectors/blur';
import { decodeView } from '../../src/detectors/views';
import { isRevmodError } from '@revmod/client';
import { blurred, fixturePhoto } from '../helpers/detector-images';

const grey = (bytes: Buffer) => decodeView(bytes, blurDetector.view);

describe('blur detector', () => {
  const photos = ['coffee_600x400_q85.jpg', 'chelsea_451x300_q85.jpg', 'rocket_1080x1080_q85.jpg', 'astronaut_512x512_q85.jpg'];

  it.each(photos)('leaves the sharp photo %s alone, and calls it blurry once blurred (σ 3 px at the view)', async (name) => {
    const photo = fixturePhoto(name);
    const sharpView = await grey(photo);
    expect(await blurDetector.detect(sharpView)).toEqual([]);
    // σ is given at the 512-px view: scale it to the photo's own size.
    const scale = Math.max(1, 1080 / 512);
    const factor = name.startsWith('rocket') ? scale : 1;
    const signals = await blurDetector.detect(await grey(await blurred(photo, 3 * factor)));
    expect(signals).toHaveLength(1);
    expect(signals[0]!.reason).toBe('blurry');
    expect(signals[0]!.evidence.threshold).toBe(DEFAULT_BLUR_OPTIONS.minSharpness);
    expect(signals[0]!.evidence.sharpness).toBeLessThan(DEFAULT_BLUR_OPTIONS.minSharpness);
  });

  it('sharpness falls as blur grows', async () => {
    const photo = fixturePhoto('coffee_600x400_q85.jpg');
    const values = [];
    for (const sigma of [0.3, 1, 2, 4]) values.push(measureSharpness(await grey(await blurred(photo, sigma))));
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeLessThan(values[i - 1]!);
  });

  it('a sharp subject on a blurred background is not blurry (local, not global, sharpness)', async () => {
    const photo = fixturePhoto('coffee_600x400_q85.jpg');
    const soft = await grey(await blurred(photo, 4));
    const crisp = await grey(photo);
    // Paste a sharp 160×120 patch (the cup's rim, 8 % of the frame) into the blurred view.
    const data = new Uint8Array(soft.data);
    for (let y = 60; y < 180; y++) for (let x = 180; x < 340; x++) data[y * soft.width + x] = crisp.data[y * crisp.width + x]!;
    expect(await blurDetector.detect({ ...soft, data })).toEqual([]);
    expect(await blurDetector.detect(soft)).toHaveLength(1);
  });

  it('gives no signal on views too small to judge', async () => {
    expect(await blurDetector.detect({ data: new Uint8Array(20 * 200).fill(128), width: 200, height: 20, channels: 1 })).toEqual([]);
  });

  it('refuses an RGB view and bad options, naming the option and the value', async () => {
    await expect(blurDetector.detect({ data: new Uint8Array(300), width: 10, height: 10, channels: 3 })).rejects.toThrow('grey view');
    const err = await blurDetector.detect(await grey(fixturePhoto('coffee_600x400_q85.jpg')), { minSharpness: -1 }).catch((e: unknown) => e);
    expect(isRevmodError(err) && err.code).toBe('CONFIG_INVALID');
    expect((err as Error).message).toContain('detectors.blur.minSharpness');
    expect((err as Error).message).toContain('(got -1)');
  });
});
