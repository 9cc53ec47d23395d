import { runGateNet } from '../../src/detectors/text/gate-net';
import { DEFAULT_TEXT_GATE_OPTIONS, textGate, textGateSession } from '../../src/detectors/text/text-gate';
import { TEXT_GATE_WEIGHTS } from '../../src/detectors/text/text-gate-weights';
import { decodeView } from '../../src/detectors/views';
import { fixturePhoto, withText } from '../helpers/detector-images';

const grey = (bytes: Buffer) => decodeView(bytes, textGate.view);

describe('text gate', () => {
  it('runs the generated weights exactly as the trainer did (fixed probe input, torch output in the weights file)', async () => {
    const { height, width, output, outputHeight, outputWidth } = TEXT_GATE_WEIGHTS.check;
    const input = new Float32Array(height * width);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) input[y * width + x] = ((x * 7 + y * 13) % 256) / 255;
    const map = await runGateNet(await textGateSession(), input, height, width);
    expect([map.h, map.w]).toEqual([outputHeight, outputWidth]);
    const bytes = Buffer.from(output, 'base64');
    const expected = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i]! - map.data[i]!));
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it.each(['coffee_600x400_q85.jpg', 'chelsea_451x300_q85.jpg', 'astronaut_512x512_q85.jpg'])('lets %s through once it carries a line of contact text', async (name) => {
    const photo = fixturePhoto(name);
    const plain = await textGate.check(await grey(photo));
    const texted = await textGate.check(await grey(await withText(photo, ['加微信 abc_12345'], 28)));
    expect(texted.pass).toBe(true);
    expect(texted.score).toBeGreaterThan(plain.score);
  });

  it('keeps a plain photo out at the default threshold, and lets everything through at a very low one', async () => {
    const view = await grey(fixturePhoto('coffee_600x400_q85.jpg'));
    expect((await textGate.check(view)).pass).toBe(false);
    expect((await textGate.check(view, { minScore: -1000 })).pass).toBe(true);
    expect(DEFAULT_TEXT_GATE_OPTIONS.minScore).toBe(TEXT_GATE_WEIGHTS.threshold);
  });

  it('says no on views too small to hold text, and refuses RGB views', async () => {
    expect((await textGate.check({ data: new Uint8Array(8 * 8), width: 8, height: 8, channels: 1 })).pass).toBe(false);
    await expect(textGate.check({ data: new Uint8Array(300), width: 10, height: 10, channels: 3 })).rejects.toThrow('grey view');
  });
});
