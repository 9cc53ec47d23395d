/**
 * The worker honours its model card end to end: resize short side, squash, mean/std/scale and the
 * kind of scores, each seen in the verdicts of the probe model (whose score follows the colours of
 * the crop it is fed); and it refuses at start what it cannot serve, before opening anything.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { RevmodError } from '@revmod/client';
import { defaultModelPath, generatedModelCard } from '../../tools/model-gen/ensure-model';
import { cardPathFor, type ModelCardInput } from '../../src/model/model-card';
import { PROBE_GAIN, probeViolateScore } from '../../tools/model-gen/probe-graph';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../src/preprocess/constants';
import { preprocessImage } from '../../src/preprocess/decode-image';
import { DEFAULT_DECODE_OPTIONS, type InputGeometry } from '../../src/preprocess/preprocess-options';
import { ModerationClient, type Verdict } from '@revmod/client';
import { S3Server } from '../../tools/dev/s3-server';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';
import { channelMeanModel } from '../helpers/tiny-models';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';

const BUCKET = 'reviews-contract';
const KEY = 'framed.png';
const SIDE = 400;

/**
 * Grey inside, a red frame outside the central 320 px: Resize(256) → CenterCrop(224) keeps the
 * central 350 px (some red), Resize(288) → CenterCrop(224) the central 311 px (grey only), and a
 * squash keeps all of it (the most red). The probe scores grey 0.5 and red higher.
 */
async function framedImage(): Promise<Buffer> {
  const raw = Buffer.alloc(SIDE * SIDE * 3);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const frame = Math.max(Math.abs(x - SIDE / 2 + 0.5), Math.abs(y - SIDE / 2 + 0.5)) >= 160;
      raw.set(frame ? [255, 0, 0] : [128, 128, 128], (y * SIDE + x) * 3);
    }
  }
  return sharp(raw, { raw: { width: SIDE, height: SIDE, channels: 3 } }).png().toBuffer();
}

/** Channel means (0–255) of the crop the card's geometry gives. */
async function cropMeans(bytes: Buffer, geometry: InputGeometry): Promise<[number, number, number]> {
  const { rgb } = await preprocessImage(bytes, { ...DEFAULT_DECODE_OPTIONS, ...geometry });
  const sums = [0, 0, 0];
  for (let i = 0; i < rgb.length; i++) sums[i % 3]! += rgb[i]!;
  const pixels = rgb.length / 3;
  return [sums[0]! / pixels, sums[1]! / pixels, sums[2]! / pixels];
}

/** The probe's logit difference for normalized channel means (it undoes ImageNet's normalisation). */
function probeLogitDiffNormalized(redHat: number, blueHat: number): number {
  return PROBE_GAIN * ((IMAGENET_STD[0] * redHat + IMAGENET_MEAN[0]) - (IMAGENET_STD[2] * blueHat + IMAGENET_MEAN[2]));
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('the worker honours the model card', () => {
  const prefixes: string[] = [];
  let s3: S3Server;
  let dir: string;
  let image: Buffer;
  let counter = 0;

  beforeAll(async () => {
    s3 = await S3Server.start();
    await s3.createBucket(BUCKET);
    image = await framedImage();
    await s3.put(BUCKET, KEY, image);
    dir = mkdtempSync(join(tmpdir(), 'revmod-contract-'));
  }, 60_000);

  afterAll(async () => {
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
    for (const p of prefixes) await deletePrefix(p);
  });

  /** Writes the probe model with a changed card beside it; returns the model path. */
  function probeWithCard(patch: Partial<ModelCardInput>, model?: Buffer): string {
    const path = join(dir, `model-${counter++}.onnx`);
    if (model) writeFileSync(path, model);
    else copyFileSync(defaultModelPath('probe'), path);
    writeFileSync(cardPathFor(path), JSON.stringify({ ...generatedModelCard('probe'), ...patch }));
    return path;
  }

  function configFor(modelPath: string, batchSize = 2) {
    const prefix = uniquePrefix('contract');
    prefixes.push(prefix);
    return testConfig({
      redis: { prefix },
      s3: s3.s3Config,
      batch: { size: batchSize, maxWaitMs: 20 },
      model: { path: modelPath, executionProvider: 'cpu' },
    });
  }

  /** Starts a worker on the model, judges the framed image once, closes everything. */
  async function verdictFrom(modelPath: string): Promise<Verdict> {
    const config = configFor(modelPath);
    const worker = await startTestWorker(config);
    const collector = new VerdictCollector(config);
    const client = new ModerationClient({ config });
    try {
      await client.submit({ bucket: BUCKET, key: KEY });
      const [verdict] = await collector.waitFor(1);
      expect(verdict!.error).toBeUndefined();
      return verdict!;
    } finally {
      await client.close();
      await collector.close();
      await worker.close(10_000);
    }
  }

  async function startFailure(modelPath: string, batchSize?: number): Promise<RevmodError> {
    return startTestWorker(configFor(modelPath, batchSize)).then(
      async (w) => {
        await w.close(1_000);
        throw new Error('expected the worker to refuse the model');
      },
      (err: RevmodError) => err,
    );
  }

  it('resizeShortSide 288 is served at 288, not 256', async () => {
    const at288 = await cropMeans(image, { resize: 'crop', resizeShortSide: 288, cropSize: 224, autoOrient: true });
    const at256 = await cropMeans(image, { resize: 'crop', resizeShortSide: 256, cropSize: 224, autoOrient: true });
    expect(probeViolateScore(at288)).toBeCloseTo(0.5, 2); // grey only
    expect(probeViolateScore(at256) - probeViolateScore(at288)).toBeGreaterThan(0.1);
    const verdict = await verdictFrom(probeWithCard({ preprocessing: { resizeShortSide: 288 } }));
    expect(verdict.scores!.violate).toBeCloseTo(probeViolateScore(at288), 3);
  }, 60_000);

  it('resize "squash" feeds the whole image, squashed', async () => {
    const squashed = await cropMeans(image, { resize: 'squash', cropSize: 224, autoOrient: true });
    const cropped = await cropMeans(image, { resize: 'crop', resizeShortSide: 256, cropSize: 224, autoOrient: true });
    expect(probeViolateScore(squashed) - probeViolateScore(cropped)).toBeGreaterThan(0.1);
    const verdict = await verdictFrom(probeWithCard({ preprocessing: { resize: 'squash' } }));
    expect(verdict.scores!.violate).toBeCloseTo(probeViolateScore(squashed), 3);
  }, 60_000);

  it('mean, std and scale are the card\'s, not ImageNet\'s', async () => {
    const [r, , b] = await cropMeans(image, { resize: 'crop', resizeShortSide: 256, cropSize: 224, autoOrient: true });
    // value = (level · scale − mean) / std, with scale 2/255 (a multiply, not ToTensor's /255).
    const hat = (level: number) => (level * (2 / 255) - 1) / 0.2;
    const expected = sigmoid(probeLogitDiffNormalized(hat(r), hat(b)));
    const imagenet = sigmoid(probeLogitDiffNormalized((r / 255 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], (b / 255 - IMAGENET_MEAN[2]) / IMAGENET_STD[2]));
    expect(Math.abs(expected - imagenet)).toBeGreaterThan(0.1);
    const verdict = await verdictFrom(probeWithCard({ preprocessing: { mean: [1, 1, 1], std: [0.2, 0.2, 0.2], scale: 2 / 255 } }));
    expect(verdict.scores!.violate).toBeCloseTo(expected, 3);
  }, 60_000);

  it('output.scores "probabilities": the model\'s outputs are taken as they are, not softmaxed', async () => {
    const means = await cropMeans(image, { resize: 'crop', resizeShortSide: 256, cropSize: 224, autoOrient: true });
    // The probe's raw outputs are ∓half of its logit difference.
    const half = Math.log(probeViolateScore(means) / (1 - probeViolateScore(means))) / 2;
    const verdict = await verdictFrom(probeWithCard({ output: { name: 'logits', shape: ['N', 2], scores: 'probabilities' } }));
    expect(verdict.scores!.violate).toBeCloseTo(half, 3);
    expect(verdict.scores!.normal).toBeCloseTo(-half, 3);
  }, 60_000);

  it('refuses at start a card whose classes the model does not output (3 listed, 2 given)', async () => {
    const err = await startFailure(probeWithCard({
      classes: ['neutral', 'drawing', 'porn'],
      groups: { neutral: 'normal', drawing: 'normal', porn: 'porn' },
      output: { name: 'logits', shape: ['N', 3] },
    }));
    expect(err).toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(/\[N,3\]|3 classes|\[N, 3\]/) });
  });

  it('refuses at start a fixed batch axis smaller than batch.size, naming both', async () => {
    const fixed = probeWithCard({
      input: { name: 'pixels', shape: [1, 3, 224, 224] },
      output: { name: 'scores', shape: [1, 2] },
    }, channelMeanModel(1, 224, 2));
    const err = await startFailure(fixed, 4);
    expect(err).toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(/fixed batch axis of 1, but batch\.size is 4/) });
  });
});
