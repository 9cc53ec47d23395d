import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../../src/config';
import { InferenceEngine } from '../../src/model/inference-engine';
import { loadModel, type LoadedModel } from '../../src/model/load-model';
import { cardInputGeometry } from '../../src/model/model-card';
import { ioContractOf } from '../../src/model/model-io';
import { ensureNsfwModel } from '../../src/model-import/ensure-nsfw-model';
import { scoreRow } from '../../src/policy/scoring';
import { createChwNormalizer, DEFAULT_DECODE_OPTIONS, preprocessImage, writeNormalizedChw } from '../../src/preprocess';
import { loadWorkerPolicy } from '../../src/worker/moderation-worker';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { webgpuAdapterProblem } from '../helpers/webgpu-adapter';

const TOLERANCE = 1e-4;
/** Software Vulkan takes seconds per ResNet-sized image (docs/benchmarks.md): the big models get a small configured batch. */
const SMALL_BATCH = 3;
const problem = webgpuAdapterProblem();
if (problem !== undefined) console.warn(`webgpu-parity: skipped, ${problem}`);
const describeWebGpu = problem === undefined ? describe : describe.skip;

/** Photos (committed) and solid colours: the probe model decides on colour, so these mix pass, review and block. */
async function inputImages(count: number): Promise<Buffer[]> {
  const dir = join(__dirname, '../fixtures/photos');
  const photos = readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => readFileSync(join(dir, f)));
  const out: Buffer[] = [];
  for (let i = 0; out.length < count; i++) {
    if (i % 2 === 0 && i / 2 < photos.length) out.push(photos[i / 2]!);
    else out.push(await sharp({ create: { width: 96, height: 80, channels: 3, background: { r: (i * 67) % 256, g: (i * 29) % 256, b: (i * 151) % 256 } } }).png().toBuffer());
  }
  return out;
}

/** Each image's tensor as the image pool writes it, for this model's card. */
async function tensorsFor(model: LoadedModel, images: readonly Buffer[]): Promise<Float32Array[]> {
  const p = model.card.preprocessing;
  const normalizer = createChwNormalizer({ mean: p.mean, std: p.std, scale: p.scale, cropSize: p.cropSize });
  return Promise.all(images.map(async (bytes) => {
    const { rgb } = await preprocessImage(bytes, { ...DEFAULT_DECODE_OPTIONS, ...cardInputGeometry(model.card) });
    const tensor = new Float32Array(normalizer.floatsPerImage);
    writeNormalizedChw(rgb, tensor, 0, normalizer);
    return tensor;
  }));
}

interface Outcome { readonly logits: Float32Array; readonly provider?: string }

/** Runs batch 1 then a full batch on one provider (copies: the engine moves the tensors it is given). */
async function runOn(provider: 'webgpu' | 'cpu', model: LoadedModel, tensors: readonly Float32Array[]): Promise<{ one: Outcome; full: Outcome; warmUpMs: Readonly<Record<number, number>> }> {
  const engine = new InferenceEngine({ modelPath: model.path, executionProvider: provider, maxBatchSize: tensors.length, maxInFlight: 1, contract: ioContractOf(model.card), startTimeoutMs: 600_000 });
  try {
    const info = await engine.start();
    expect(info.provider).toBe(provider);
    const one = await engine.run([tensors[0]!.slice()]);
    const full = await engine.run(tensors.map((t) => t.slice()));
    return { one, full, warmUpMs: info.warmUpMs };
  } finally {
    await engine.close();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a).toHaveLength(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describeWebGpu('WebGPU gives the CPU provider\'s scores and decisions (Dawn over Vulkan; software Vulkan in CI)', () => {
  let nsfwDir: string;
  beforeAll(() => { nsfwDir = mkdtempSync(join(tmpdir(), 'revmod-webgpu-nsfw-')); });
  afterAll(() => rmSync(nsfwDir, { recursive: true, force: true }));

  const cases: ReadonlyArray<readonly [string, number, () => Promise<string>]> = [
    // The probe is cheap anywhere: it runs at the worker's configured batch size.
    ['the probe model', loadConfig({}, {}).batch.size, async () => defaultModelPath('probe')],
    ['the generated ResNet18', SMALL_BATCH, async () => defaultModelPath('resnet18')],
    // The trained model (nsfwjs MobileNetV2, converted here; its conversion is checked against nsfwjs in nsfwjs-import.test.ts).
    ['the trained nsfwjs model', SMALL_BATCH, async () => (await ensureNsfwModel('mobilenet_v2_mid', join(nsfwDir, 'nsfwjs.onnx'), { checkImageCount: 0 })).modelPath],
  ];

  it.each(cases)('%s: logits within 1e-4 at batch 1 and at batch %i, same decisions', async (_name, batchSize, pathOf) => {
    const path = await pathOf();
    const model = await loadModel(path);
    const config = loadConfig({ model: { path, allowUntrained: true }, batch: { size: batchSize } }, {});
    const policy = await loadWorkerPolicy(config, model);
    const reading = { classes: model.card.classes, groups: model.card.groups, scores: model.card.output.scores };
    const tensors = await tensorsFor(model, await inputImages(batchSize));

    const gpu = await runOn('webgpu', model, tensors);
    const cpu = await runOn('cpu', model, tensors);
    expect(gpu.one.provider).toBe('webgpu');
    expect(cpu.full.provider).toBe('cpu');
    expect(Object.keys(gpu.warmUpMs)).toEqual(['1']); // the shaders were compiled before the first batch

    expect(maxAbsDiff(gpu.one.logits, cpu.one.logits)).toBeLessThanOrEqual(TOLERANCE);
    expect(maxAbsDiff(gpu.full.logits, cpu.full.logits)).toBeLessThanOrEqual(TOLERANCE);
    // Batch 1 and the first image of the full batch: the same row on either provider.
    expect(maxAbsDiff(gpu.one.logits, gpu.full.logits.subarray(0, gpu.one.logits.length))).toBeLessThanOrEqual(TOLERANCE);

    const classes = model.card.classes.length;
    const decide = (logits: Float32Array) => Array.from({ length: batchSize }, (_, i) => {
      const scores = scoreRow(logits.subarray(i * classes, (i + 1) * classes), reading);
      if (scores === undefined) throw new Error(`non-finite scores for image ${i}`);
      return `${policy.evaluate({ scores, signals: [], meta: {} }).decision}/${scores.topClass}`;
    });
    const decisions = decide(gpu.full.logits);
    expect(decisions).toEqual(decide(cpu.full.logits));
    if (model.card.name === 'revmod-probe') {
      // The inputs mean something to the probe: the comparison covers more than one decision.
      expect(new Set(decisions.map((d) => d.split('/')[0])).size).toBeGreaterThan(1);
    }
  }, 900_000);
});
