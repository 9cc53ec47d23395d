/**
 * models/train.py end to end on a toy set a small network separates (photos with and without a
 * large pasted mark): it trains on CPU, exports ONNX and a card, runs its own train–serve parity
 * check through `revmod model score`, and the model it wrote is served by a real worker.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ModerationClient } from '@revmod/client';
import { loadModel } from '../../src/model/load-model';
import { scoreImages } from '../../src/model/score-images';
import { DEFAULT_DECODE_OPTIONS } from '../../src/preprocess';
import { S3Server } from '../../tools/dev/s3-server';
import { writeToyDataset, type ToyImage } from '../../tools/model-train/toy-dataset';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';

const ROOT = resolve(__dirname, '../..');
const PYTHON = process.env.REVMOD_TRAIN_PYTHON ?? '/usr/bin/python3';

/** Why the smoke test cannot run here, or undefined when it can. */
function torchMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import torch, torchvision, PIL, numpy'], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return `${PYTHON} cannot be run (${r.error.message})`;
  return r.status === 0 ? undefined : `${PYTHON} cannot import torch/torchvision (apt-get install python3-torch python3-torchvision): ${r.stderr.trim().split('\n').pop()}`;
}

const missing = torchMissing();
if (missing) console.warn(`train-smoke skipped: ${missing}`);
const describeTorch = missing ? describe.skip : describe;

describeTorch('models/train.py (tiny network, 3 epochs on CPU)', () => {
  let dir: string;
  let images: ToyImage[];
  let out: string;
  let stdout: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'revmod-train-'));
    images = await writeToyDataset({ outDir: join(dir, 'data'), normal: 26, violate: 14, seed: 1 });
    out = join(dir, 'model');
    const r = await promisify(execFile)(PYTHON, [
      'models/train.py', '--data', join(dir, 'data'), '--out', out, '--arch', 'tiny', '--weights', 'none',
      '--epochs', '3', '--batch-size', '8', '--lr', '0.05', '--threads', '2', '--seed', '0', '--name', 'toy-mark', '--version', '1.0.0',
    ], { cwd: ROOT, timeout: 180_000, maxBuffer: 8 << 20 });
    stdout = r.stdout;
  }, 200_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes the state dict, the ONNX and a card the worker accepts, trained and with its provenance', async () => {
    for (const f of ['model.pth', 'model.onnx', 'model.card.json']) expect(existsSync(join(out, f))).toBe(true);
    const model = await loadModel(join(out, 'model.onnx'));
    expect(model.card).toMatchObject({ name: 'toy-mark', version: '1.0.0', trained: true, classes: ['normal', 'violate'] });
    expect(model.card.preprocessing).toMatchObject({ resize: 'crop', resizeShortSide: 256, cropSize: 224, autoOrient: true });
    const meta = model.card.metadata as Record<string, any>;
    expect(meta.dataset).toMatchObject({ source: 'imagefolder', images: 40, byClass: { normal: 26, violate: 14 } });
    expect(meta.dataset.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(meta.training).toMatchObject({ arch: 'tiny', epochs: 3, trainImages: 32, valImages: 8, optimizer: 'SGD' });
    // Class weights against the imbalance: the rarer class weighs more.
    expect(meta.training.classWeights[1]).toBeGreaterThan(meta.training.classWeights[0]);
    expect(meta.validation.confusion.matrix).toHaveLength(2);
    expect(model.card.thresholds.violate).toBe(meta.thresholdChoice.violate);
  });

  it('separates the toy set with confident scores (the parity check compares real decisions)', () => {
    const meta = JSON.parse(readFileSync(join(out, 'model.card.json'), 'utf8')).metadata;
    expect(meta.validation.accuracy).toBe(1);
    expect(meta.validation.violate.meanDistanceFromHalf).toBeGreaterThan(0.3);
  });

  it('passes its train–serve parity check through revmod\'s own decoding and ORT, and says so', () => {
    const { parity } = JSON.parse(readFileSync(join(out, 'model.card.json'), 'utf8')).metadata;
    expect(parity).toMatchObject({ passed: true, images: 8, failedImages: [], bound: 0.01 });
    expect(parity.maxAbsDeltaP).toBeLessThanOrEqual(0.01);
    expect(stdout).toMatch(/parity: max \|dp\| [0-9.e-]+ over 8 validation images \(bound 0\.01\): PASSED/);
  });

  it('scores every image of the set as revmod serves it: marked photos high, clean ones low, sideways ones too', async () => {
    const report = await scoreImages(images.map((i) => join(dir, 'data', i.file)), {
      modelPath: join(out, 'model.onnx'), decode: DEFAULT_DECODE_OPTIONS, executionProvider: 'cpu', intraOpThreads: 1, batchSize: 16,
    });
    const wrong = report.images.filter((r, i) => !r.ok || (r.scores.violate >= 0.5) !== (images[i]!.class === 'violate'));
    expect(wrong.map((w) => w.file)).toEqual([]);
    const sideways = report.images.filter((_, i) => images[i]!.orientation !== 1);
    expect(sideways.length).toBeGreaterThanOrEqual(8);
  });

  it('is served by a worker: verdicts from S3 images name the trained model and follow the mark', async () => {
    const s3 = await S3Server.start();
    const prefix = uniquePrefix('train-smoke');
    const bucket = 'train-smoke';
    const config = testConfig({
      redis: { prefix }, s3: s3.s3Config, batch: { size: 4, maxWaitMs: 20 },
      model: { path: join(out, 'model.onnx'), executionProvider: 'cpu', allowUntrained: false },
    });
    let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
    const collector = new VerdictCollector(config);
    const client = new ModerationClient({ config });
    try {
      await s3.createBucket(bucket);
      const picked = [images.find((i) => i.class === 'normal')!, images.find((i) => i.class === 'violate')!];
      for (const p of picked) await s3.put(bucket, p.file, readFileSync(join(dir, 'data', p.file)));
      worker = await startTestWorker(config);
      for (const p of picked) await client.submit({ bucket, key: p.file });
      const verdicts = await collector.waitFor(2);
      const byKey = new Map(verdicts.map((v) => [v.key, v]));
      const clean = byKey.get(picked[0]!.file)!;
      const marked = byKey.get(picked[1]!.file)!;
      expect(clean.model).toMatchObject({ name: 'toy-mark', version: '1.0.0' });
      expect(clean.violate).toBeLessThan(0.5);
      expect(marked.violate).toBeGreaterThan(0.5);
    } finally {
      await client.close();
      await collector.close();
      await worker?.close(10_000);
      await s3.close();
      await deletePrefix(prefix);
    }
  }, 60_000);
});
