import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { defaultModelPath, ensureModel } from '../../tools/model-gen/ensure-model';
import { loadModelCard } from '../../src/model/model-card';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../src/preprocess/constants';
import {
  buildProbeOnnx, probeLogitDiff, probeRgbForViolateScore, probeViolateScore, type Rgb,
} from '../../tools/model-gen/probe-graph';

const PIXELS = 224 * 224;

/** A solid-colour image as the preprocessing would hand it over: CHW, ImageNet-normalized. */
function solidTensorData(colours: readonly Rgb[]): Float32Array {
  const data = new Float32Array(colours.length * 3 * PIXELS);
  colours.forEach((rgb, n) => {
    for (let c = 0; c < 3; c++) {
      const value = (rgb[c]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
      data.fill(value, (n * 3 + c) * PIXELS, (n * 3 + c + 1) * PIXELS);
    }
  });
  return data;
}

describe('probe model', () => {
  let session: ort.InferenceSession;

  beforeAll(async () => {
    session = await ort.InferenceSession.create(buildProbeOnnx());
  });
  afterAll(async () => {
    await session?.release();
  });

  async function logits(colours: readonly Rgb[]): Promise<Array<[normal: number, violate: number]>> {
    const input = new ort.Tensor('float32', solidTensorData(colours), [colours.length, 3, 224, 224]);
    const { logits: out } = await session.run({ input });
    expect(out?.dims).toEqual([colours.length, 2]);
    const data = out!.data as Float32Array;
    return colours.map((_, n) => [data[2 * n]!, data[2 * n + 1]!]);
  }
  const violate = ([normal, v]: [number, number]): number => 1 / (1 + Math.exp(normal - v));

  it('has the model contract\'s names', () => {
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['logits']);
  });

  it('scores red > grey > blue: violate 0.99, 0.5, normal 0.99', async () => {
    const [red, grey, blue] = (await logits([[255, 0, 0], [128, 128, 128], [0, 0, 255]])).map(violate);
    expect(red).toBeGreaterThan(grey!);
    expect(grey).toBeGreaterThan(blue!);
    expect(red).toBeCloseTo(0.99, 4);
    expect(grey).toBeCloseTo(0.5, 4);
    expect(1 - blue!).toBeCloseTo(0.99, 4);
  });

  it('follows the documented formula within 1e-4', async () => {
    const colours: Rgb[] = [[255, 0, 0], [0, 0, 255], [17, 200, 90], [240, 13, 128], [60, 60, 60], [201, 99, 3], [0, 255, 0]];
    const out = await logits(colours);
    colours.forEach((rgb, n) => {
      const [normal, v] = out[n]!;
      expect(Math.abs(v - normal - probeLogitDiff(rgb))).toBeLessThan(1e-4);
      expect(Math.abs(normal + v)).toBeLessThan(1e-4); // symmetric: ±half the difference
      expect(Math.abs(violate(out[n]!) - probeViolateScore(rgb))).toBeLessThan(1e-4);
    });
  });

  it('finds colours for chosen scores', () => {
    for (const target of [0.05, 0.3, 0.5, 0.69, 0.75, 0.95]) {
      expect(Math.abs(probeViolateScore(probeRgbForViolateScore(target)) - target)).toBeLessThan(0.01);
    }
    expect(probeViolateScore(probeRgbForViolateScore(1))).toBeCloseTo(0.99, 2);
  });
});

describe('ensureModel (probe)', () => {
  it('defaults to models/revmod-probe.onnx', () => {
    expect(defaultModelPath('probe')).toBe(resolve('models/revmod-probe.onnx'));
    expect(defaultModelPath('resnet18', 3)).toBe(resolve('models/revmod-resnet18-seed3.onnx'));
  });

  it('survives concurrent writers and leaves no temp files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'revmod-probe-'));
    try {
      const path = join(dir, 'probe.onnx');
      const results = await Promise.all([1, 2, 3, 4].map(() => ensureModel({ kind: 'probe', path })));
      expect(results.every((r) => r.modelPath === path && r.cardPath === join(dir, 'probe.card.json'))).toBe(true);
      expect((await readdir(dir)).sort()).toEqual(['probe.card.json', 'probe.onnx']);
      expect((await readFile(path)).equals(buildProbeOnnx())).toBe(true);
      await expect(loadModelCard(join(dir, 'probe.card.json'))).resolves.toMatchObject({ name: 'revmod-probe', trained: false });
      await expect(ensureModel({ kind: 'probe', path })).resolves.toMatchObject({ created: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
