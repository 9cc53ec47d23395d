import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { onnx } from 'onnx-proto';
import { isRevmodError } from '@revmod/client';
import { InferenceEngine } from '../../src/model/inference-engine';
import { loadModelCard, cardPathFor, type ModelCardInput } from '../../src/model/model-card';
import { ioContractOf } from '../../src/model/model-io';
import { attr, BATCH_DIM, OnnxGraphBuilder } from '../../src/onnx/graph-builder';
import { loadCalibrationImages } from '../../src/quantize/calibrate';
import { compareOutputs } from '../../src/quantize/agreement';
import { activationParams, quantiseWeights } from '../../src/quantize/qdq-graph';
import { quantizeModel } from '../../src/quantize/quantize-model';
import { ensureNsfwModel } from '../../src/model-import/ensure-nsfw-model';
import { SeededRandom } from '../../src/util/seeded-random';

const ROOT = resolve(__dirname, '../..');
const PHOTOS = join(ROOT, 'test/fixtures/photos');
const SHARED_IMAGES = resolve(ROOT, '../shared/images');

/** Seeded normal weights scaled to keep activations in a plausible range. */
function weights(rng: SeededRandom, n: number, fanIn: number): Float32Array {
  const out = new Float32Array(n);
  const s = Math.sqrt(2 / fanIn);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * s;
  return out;
}

/**
 * A small convolutional classifier with the shapes the quantiser handles: Conv (stride 4) → Clip(0, 6)
 * → depthwise Conv → Clip → 1×1 Conv → Add (residual) → AveragePool → Flatten → Gemm, 3 classes.
 */
function smallModel(opset = 17): Buffer {
  const rng = new SeededRandom(7);
  const g = new OnnxGraphBuilder('small-cnn');
  const x = g.addInput('input', [BATCH_DIM, 3, 224, 224]);
  const lo = g.addInitializer('relu6/min', [], new Float32Array([0]));
  const hi = g.addInitializer('relu6/max', [], new Float32Array([6]));
  const c1 = g.addNode('Conv', [x, g.addInitializer('c1.w', [8, 3, 4, 4], weights(rng, 8 * 3 * 16, 48)), g.addInitializer('c1.b', [8], weights(rng, 8, 8))], ['c1'],
    { kernel_shape: attr.ints([4, 4]), strides: attr.ints([4, 4]) }, 'conv1');
  const r1 = g.addNode('Clip', [c1, lo, hi], ['r1'], {}, 'relu1');
  const dw = g.addNode('Conv', [r1, g.addInitializer('dw.w', [8, 1, 3, 3], weights(rng, 72, 9)), g.addInitializer('dw.b', [8], weights(rng, 8, 8))], ['dw'],
    { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]), group: attr.int(8) }, 'depthwise');
  const r2 = g.addNode('Clip', [dw, lo, hi], ['r2'], {}, 'relu2');
  const pw = g.addNode('Conv', [r2, g.addInitializer('pw.w', [8, 8, 1, 1], weights(rng, 64, 8)), g.addInitializer('pw.b', [8], weights(rng, 8, 8))], ['pw'],
    { kernel_shape: attr.ints([1, 1]) }, 'project');
  const sum = g.addNode('Add', [pw, r1], ['sum'], {}, 'residual');
  const pool = g.addNode('AveragePool', [sum], ['pool'], { kernel_shape: attr.ints([56, 56]) }, 'pool');
  const flat = g.addNode('Flatten', [pool], ['flat'], { axis: attr.int(1) }, 'flatten');
  g.addNode('Gemm', [flat, g.addInitializer('fc.w', [8, 3], weights(rng, 24, 8)), g.addInitializer('fc.b', [3], new Float32Array(3))], ['logits'], {}, 'fc');
  g.addOutput('logits', [BATCH_DIM, 3]);
  return g.toBuffer({ opset });
}

const SMALL_CARD: ModelCardInput = {
  name: 'small-cnn', version: '1', description: 'seeded test network', trained: false,
  classes: ['normal', 'violate', 'other'], groups: { normal: 'normal', violate: 'violate', other: 'violate' },
  input: { name: 'input', shape: ['N', 3, 224, 224] }, output: { name: 'logits', shape: ['N', 3] },
  preprocessing: { resize: 'squash', cropSize: 224 },
};

function writeModel(dir: string, name: string, bytes: Buffer, card: ModelCardInput | null = SMALL_CARD): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  if (card) writeFileSync(cardPathFor(path), JSON.stringify(card));
  return path;
}

/** Logits of the calibration photos through the worker's InferenceEngine. */
async function engineLogits(modelPath: string, tensors: readonly Float32Array[]): Promise<Float32Array> {
  const card = await loadModelCard(cardPathFor(modelPath));
  const engine = new InferenceEngine({ modelPath, executionProvider: 'cpu', maxBatchSize: 32, contract: ioContractOf(card) });
  try {
    await engine.start();
    return (await engine.run(tensors.map((t) => t.slice()))).logits;
  } finally {
    await engine.close();
  }
}

async function expectCode(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(isRevmodError(err) ? { code: err.code, message: err.message } : err).toEqual({ code, message: expect.stringMatching(message) });
}

describe('revmod model quantize (static QDQ int8)', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'revmod-quantize-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('quantises a small network: QDQ nodes, per-channel int8 weights, int32 biases, Clips folded; it loads in the worker engine and agrees with fp32', async () => {
    const fp32 = writeModel(dir, 'small.onnx', smallModel());
    const out = join(dir, 'small-int8.onnx');
    const r = await quantizeModel(fp32, out, { calibrateDir: PHOTOS });
    expect(r.calibrationImages).toBe(readdirSync(PHOTOS).filter((f) => f.endsWith('.jpg')).length);

    const m = onnx.ModelProto.decode(readFileSync(out));
    const nodes = m.graph!.node!;
    const ops = nodes.map((n) => n.opType);
    expect(ops).toContain('QuantizeLinear');
    expect(ops).toContain('DequantizeLinear');
    expect(ops).not.toContain('Clip'); // both Clip(0, 6) folded into the uint8 range of their conv
    const inits = new Map(m.graph!.initializer!.map((t) => [t.name, t]));
    // Every weight behind a per-axis DequantizeLinear with one scale per output channel.
    for (const [nodeName, channels, axis] of [['conv1', 8, 0], ['depthwise', 8, 0], ['project', 8, 0], ['fc', 3, 1]] as const) {
      const dq = nodes.find((n) => n.name === `${nodeName}/weight_DequantizeLinear`)!;
      expect(dq).toBeDefined();
      const q = inits.get(dq.input![0]!)!;
      const scale = inits.get(dq.input![1]!)!;
      expect({ node: nodeName, type: q.dataType, scaleDims: scale.dims!.map(Number), axis: Number(dq.attribute!.find((a) => a.name === 'axis')!.i) })
        .toEqual({ node: nodeName, type: onnx.TensorProto.DataType.INT8, scaleDims: [channels], axis });
      const bias = nodes.find((n) => n.name === `${nodeName}/bias_DequantizeLinear`)!;
      expect(inits.get(bias.input![0]!)!.dataType).toBe(onnx.TensorProto.DataType.INT32);
      // The consumer reads the dequantised weight, not a float initializer.
      expect(nodes.find((n) => n.name === nodeName)!.input![1]).toBe(`${nodeName}/weight_dequantized`);
    }
    expect(inits.has('c1.w')).toBe(false); // float weights dropped
    const dqInputs = nodes.filter((n) => n.opType === 'Conv' || n.opType === 'Add' || n.opType === 'AveragePool')
      .every((n) => n.input!.filter((i) => !i.includes('/bias') && !i.includes('/weight')).every((i) => nodes.find((p) => p.output!.includes(i))?.opType === 'DequantizeLinear'));
    expect(dqInputs).toBe(true);

    // The card: same contract, marked int8, metadata says how.
    const card = await loadModelCard(cardPathFor(out));
    expect({ name: card.name, input: card.input, output: card.output, classes: card.classes }).toEqual({
      name: 'small-cnn-int8', input: { name: 'input', shape: ['N', 3, 224, 224] }, output: { name: 'logits', shape: ['N', 3], scores: 'logits' }, classes: SMALL_CARD.classes,
    });
    expect(card.metadata?.quantization).toMatchObject({ format: 'QDQ', calibration: { method: 'percentile', images: r.calibrationImages } });

    // Through the worker's engine: the int8 model's probabilities stay close to fp32's.
    const { tensors } = await loadCalibrationImages(PHOTOS, card, 100);
    const a = compareOutputs(card, await engineLogits(fp32, tensors), await engineLogits(out, tensors));
    expect(a.images).toBe(tensors.length);
    expect(a.maxAbsDiffProbability).toBeLessThan(0.05);
    expect(a.sameTopClass).toBe(a.images);
    expect(r.check.sameTopClass).toBe(r.check.images);
  });

  it('quantises weights symmetrically per channel and activations with zero exactly representable', () => {
    const { q, scales } = quantiseWeights(new Float32Array([1, -0.25, 0.25, 0, 0, 0, -1, 4]), [2, 4], 0);
    expect(Array.from(scales)).toEqual([Math.fround(1 / 127), Math.fround(4 / 127)]);
    expect(Array.from(q)).toEqual([127, -32, 32, 0, 0, 0, -32, 127]);
    // An all-zero channel gets scale 1, not a division by zero.
    expect(Array.from(quantiseWeights(new Float32Array([0, 0, 1, 2]), [2, 2], 0).scales)).toEqual([1, Math.fround(2 / 127)]);
    expect(activationParams({ min: 0, max: 5.1 })).toEqual({ scale: Math.fround(5.1 / 255), zeroPoint: 0 });
    const p = activationParams({ min: -1, max: 3 });
    expect(p.zeroPoint).toBe(64);
    expect(activationParams({ min: 0, max: 0 })).toEqual({ scale: 1, zeroPoint: 0 });
  });

  it('refuses bad inputs with a coded error naming the parameter', async () => {
    const fp32 = writeModel(dir, 'bad-src.onnx', smallModel());
    const out = join(dir, 'bad-out.onnx');
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const broken = join(dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'half.jpg'), readFileSync(join(PHOTOS, readdirSync(PHOTOS).find((f) => f.endsWith('.jpg'))!)).subarray(0, 200));
    await expectCode(quantizeModel(fp32, out, { calibrateDir: join(dir, 'nope') }), 'CONFIG_INVALID', /--calibrate .*nope: not a readable folder/);
    await expectCode(quantizeModel(fp32, out, { calibrateDir: empty }), 'CONFIG_INVALID', /--calibrate .*empty: it holds no image files/);
    await expectCode(quantizeModel(fp32, out, { calibrateDir: broken }), 'CONFIG_INVALID', /none of its 1 image files could be decoded \(half\.jpg: IMAGE_CORRUPT\)/);
    await expectCode(quantizeModel(fp32, fp32, { calibrateDir: PHOTOS }), 'CONFIG_INVALID', /OUT .*is the input model/);
    await expectCode(quantizeModel(fp32, out, { calibrateDir: PHOTOS, percentile: 80 }), 'CONFIG_INVALID', /--percentile: must be in \(90, 100\], received 80/);
    await expectCode(quantizeModel(join(dir, 'missing.onnx'), out, { calibrateDir: PHOTOS }), 'MODEL_INVALID', /missing\.onnx does not exist/);
    await expectCode(quantizeModel(writeModel(dir, 'nocard.onnx', smallModel(), null), out, { calibrateDir: PHOTOS }), 'MODEL_INVALID', /nocard\.card\.json: cannot be read/);
    await expectCode(quantizeModel(writeModel(dir, 'junk.onnx', Buffer.from('not a model at all')), out, { calibrateDir: PHOTOS }), 'MODEL_INVALID', /junk\.onnx: not an ONNX file/);
    await expectCode(quantizeModel(writeModel(dir, 'old.onnx', smallModel(11)), out, { calibrateDir: PHOTOS }), 'MODEL_INVALID', /opset 11 is below 13/);
    const once = join(dir, 'once-int8.onnx');
    await quantizeModel(fp32, once, { calibrateDir: PHOTOS, method: 'minmax' });
    await expectCode(quantizeModel(fp32, once, { calibrateDir: PHOTOS }), 'CONFIG_INVALID', /exists already \(--force to overwrite\)/);
    await expectCode(quantizeModel(once, join(dir, 'twice.onnx'), { calibrateDir: PHOTOS }), 'MODEL_INVALID', /already quantised \(it has a (Quantize|Dequantize)Linear node\)/);
    expect(existsSync(out)).toBe(false); // nothing written by a refused run
  });

  it('the bin refuses a missing --calibrate and a bad --percentile, exit 2', () => {
    const bin = join(ROOT, 'workers/revmod.js');
    const run = (args: string[]) => spawnSync(process.execPath, [bin, 'model', 'quantize', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const a = run(['in.onnx', 'out.onnx']);
    expect({ status: a.status, err: /required option '--calibrate <dir>' not specified/.test(a.stderr) }).toEqual({ status: 2, err: true });
    const b = run(['in.onnx', 'out.onnx', '--calibrate', PHOTOS, '--percentile', '50']);
    expect({ status: b.status, err: /--percentile <p>' argument '50' is invalid.*must be a number in \(90, 100\], received "50"/.test(b.stderr) }).toEqual({ status: 2, err: true });
  });

  it('on the bundled trained model (nsfwjs MobileNetV2): decisions equal to fp32 on ≥ 99 % of held-out real photos', async () => {
    // Calibrated on the fixture photos, judged on photos it never saw: samples/, plus ../shared/images when present.
    const fp32 = (await ensureNsfwModel('mobilenet_v2_mid', join(dir, 'nsfw.onnx'), { checkImageCount: 0 })).modelPath;
    const calib = join(dir, 'nsfw-calibration');
    mkdirSync(calib);
    for (const sub of ['test/fixtures/photos', 'test/fixtures/parity']) {
      for (const f of readdirSync(join(ROOT, sub)).filter((x) => /\.(jpe?g|png|webp)$/i.test(x))) copyFileSync(join(ROOT, sub, f), join(calib, `${sub.split('/').pop()}-${f}`));
    }
    const out = join(dir, 'nsfw-int8.onnx');
    const r = await quantizeModel(fp32, out, { calibrateDir: calib });
    expect(r.summary.ops).toMatchObject({ Conv: 52, Add: 10 });
    expect(r.bytesOut).toBeLessThan(r.bytesIn / 3);
    const held = join(dir, 'held-out');
    mkdirSync(held);
    const sources = [join(ROOT, 'samples'), ...(existsSync(SHARED_IMAGES) ? [SHARED_IMAGES] : [])];
    for (const src of sources) for (const f of readdirSync(src).filter((x) => /\.(jpe?g|png|webp)$/i.test(x))) copyFileSync(join(src, f), join(held, f));
    const card = await loadModelCard(cardPathFor(out));
    const { tensors } = await loadCalibrationImages(held, card, 1000);
    const a = compareOutputs(card, await engineLogits(fp32, tensors), await engineLogits(out, tensors));
    expect(a.sameDecision / a.images).toBeGreaterThanOrEqual(0.99);
    expect(a.maxAbsDiffProbability).toBeLessThan(0.25);
  }, 180_000);
});
