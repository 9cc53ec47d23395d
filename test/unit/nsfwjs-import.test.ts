import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { SeededRandom } from '../../src/util/seeded-random';
import { ensureNsfwModel } from '../../src/model-import/ensure-nsfw-model';
import { convertTfjsLayersModel, tfjsLayersModelSchema } from '../../src/model-import/keras-layers-to-onnx';
import { tfSamePads } from '../../src/model-import/nchw-onnx-writer';
import {
  convertNsfwjs, locateNsfwjs, NSFWJS_CLASSES, NSFWJS_GROUPS, NSFWJS_VARIANTS, nsfwjsModelCard, parityRecord, readNsfwjsModel,
} from '../../src/model-import/nsfwjs';
import { checkNsfwjsParity, photoToCheckImage, softmaxRows, syntheticCheckImages } from '../../src/model-import/nsfwjs-check';
import { decodeWeights, WeightStore } from '../../src/model-import/tfjs-weights';

const SAMPLE = resolve(__dirname, '../../samples/chelsea_451x300_q85.jpg');

describe('TF SAME padding', () => {
  it('puts the odd pixel after, as TensorFlow does', () => {
    expect(tfSamePads(224, 3, 2)).toEqual([0, 1]);
    expect(tfSamePads(7, 3, 1)).toEqual([1, 1]);
    expect(tfSamePads(8, 1, 1)).toEqual([0, 0]);
    expect(tfSamePads(7, 3, 2)).toEqual([1, 1]);
    expect(tfSamePads(10, 3, 1, 2)).toEqual([2, 2]);
  });
});

describe('tfjs weight decoding', () => {
  it('restores uint8 and uint16 values as q · scale + min, and reads raw float32', () => {
    // uint8 [0, 1, 255], uint16 0x1234 and float32 1.0, little-endian, back to back.
    const bytes = new Uint8Array([0, 1, 255, 0x34, 0x12, 0, 0, 0x80, 0x3f]);
    const [u8, u16, f32] = decodeWeights([
      { name: 'a', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', min: -1, scale: 0.5 } },
      { name: 'b', shape: [1], dtype: 'float32', quantization: { dtype: 'uint16', min: 2, scale: 0.25 } },
      { name: 'c', shape: [1, 1], dtype: 'float32' },
    ], bytes, 'test');
    expect(Array.from(u8?.data ?? [])).toEqual([-1, -0.5, 126.5]);
    expect(u16?.data[0]).toBe(0x1234 * 0.25 + 2);
    expect(f32?.data[0]).toBe(1);
  });

  it('refuses shards that do not match the manifest', () => {
    expect(() => decodeWeights([{ name: 'a', shape: [4], dtype: 'float32', quantization: { dtype: 'uint8', min: 0, scale: 1 } }], new Uint8Array(3), 'test'))
      .toThrow(/weight a/);
  });
});

describe('locating nsfwjs', () => {
  it('says it is a development dependency when it is not installed', () => {
    const empty = mkdtempSync(join(tmpdir(), 'revmod-no-nsfwjs-'));
    try {
      expect(() => locateNsfwjs(empty)).toThrow(expect.objectContaining({
        code: 'MODEL_IMPORT_UNAVAILABLE',
        message: expect.stringContaining('nsfwjs is a development dependency: install it to import'),
      }));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

/** Random values in [lo, hi) from a fixed seed. */
function uniform(rng: SeededRandom, n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

describe('Keras layers converter on a small model with every supported layer', () => {
  // ZeroPadding + valid stride-2 conv with bias and a folded batch norm, asymmetric SAME depthwise
  // with multiplier 2, plain ReLU and ReLU6, a residual Add, an unfoldable batch norm, pooling, and
  // a Flatten of a 2×2 map (which needs the NHWC transpose), then a softmax head.
  function buildModel(): tf.LayersModel {
    const input = tf.input({ shape: [17, 17, 3], name: 'image' });
    let x = tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: 'pad' }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', useBias: true, name: 'c1' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ maxValue: 6, name: 'r1' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, useBias: false, name: 'dw' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: 'bn2' }).apply(x) as tf.SymbolicTensor;
    const r2 = tf.layers.reLU({ name: 'r2' }).apply(x) as tf.SymbolicTensor;
    let y = tf.layers.conv2d({ filters: 16, kernelSize: 1, padding: 'same', useBias: false, name: 'c2' }).apply(r2) as tf.SymbolicTensor;
    y = tf.layers.batchNormalization({ name: 'bn3' }).apply(y) as tf.SymbolicTensor;
    x = tf.layers.add({ name: 'add' }).apply([r2, y]) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: 'bn4' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'valid', name: 'pool' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.flatten({ name: 'flat' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 10, activation: 'relu', name: 'd1' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dropout({ rate: 0.5, name: 'drop' }).apply(x) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 5, activation: 'softmax', name: 'out' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const rng = new SeededRandom(7);
    model.setWeights(model.weights.map((w) => {
      const n = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
      const [lo, hi] = w.name.endsWith('moving_variance') || w.name.endsWith('gamma') ? [0.5, 1.5] : [-0.5, 0.5];
      return tf.tensor(uniform(rng, n, lo, hi), w.shape as number[]);
    }));
    return model;
  }

  it('gives the probabilities tfjs gives, for every output class', async () => {
    await tf.setBackend('cpu');
    tf.enableProdMode(); // no "install tfjs-node" banner: the pure-JS backend is the point
    const model = buildModel();
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    if (saved?.weightSpecs === undefined || saved.weightData === undefined) throw new Error('tfjs saved no weights');
    const data = Array.isArray(saved.weightData) ? Buffer.concat(saved.weightData.map((b) => Buffer.from(b))) : Buffer.from(saved.weightData);
    const store = new WeightStore(decodeWeights(saved.weightSpecs, data, 'tiny'), 'tiny');
    const { writer, foldedBatchNorms } = convertTfjsLayersModel(tfjsLayersModelSchema.parse({ modelTopology: saved.modelTopology }), store, 'tiny');
    expect(foldedBatchNorms).toBe(3); // bn1, bn2, bn3; bn4 follows an Add
    expect(store.unused()).toEqual([]);

    const rng = new SeededRandom(11);
    const nhwc = uniform(rng, 3 * 17 * 17 * 3, 0, 1);
    const nchw = new Float32Array(nhwc.length);
    for (let n = 0; n < 3; n++) for (let i = 0; i < 17 * 17; i++) for (let c = 0; c < 3; c++) nchw[n * 867 + c * 289 + i] = nhwc[n * 867 + i * 3 + c] as number;
    const expected = (model.predict(tf.tensor4d(nhwc, [3, 17, 17, 3])) as tf.Tensor).dataSync();

    const session = await ort.InferenceSession.create(writer.builder.toBuffer());
    const logits = (await session.run({ input: new ort.Tensor('float32', nchw, [3, 3, 17, 17]) }))['logits'];
    const got = softmaxRows(logits?.data as Float32Array, 5).flatMap((r) => Array.from(r));
    await session.release();
    expect(got).toHaveLength(15);
    const maxDiff = Math.max(...got.map((p, i) => Math.abs(p - (expected[i] as number))));
    expect(maxDiff).toBeLessThan(1e-5);
    // The three inputs must not all score alike, or the comparison would prove little.
    expect(Math.abs((got[0] as number) - (got[5] as number)) + Math.abs((got[1] as number) - (got[6] as number))).toBeGreaterThan(1e-3);
    model.dispose();
  });
});

describe.each(NSFWJS_VARIANTS)('nsfwjs %s converted to ONNX', (variant) => {
  it('has the contract input and output and agrees with nsfwjs itself within 1e-4', async () => {
    const pkg = locateNsfwjs();
    const { onnx, summary } = convertNsfwjs(variant, readNsfwjsModel(variant, pkg));

    const session = await ort.InferenceSession.create(onnx);
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['logits']);
    await session.release();

    const images = [await photoToCheckImage('chelsea', readFileSync(SAMPLE)), ...syntheticCheckImages(1)];
    const report = await checkNsfwjsParity({ variant, onnx, images, inputs: 'test', nsfwjsVersion: pkg.version });
    expect(report.rows).toHaveLength(2);
    for (const row of report.rows) {
      expect(row.converted).toHaveLength(NSFWJS_CLASSES.length);
      expect(row.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    }
    // Different pictures score differently: a constant output would fail this.
    const [a, b] = report.rows;
    expect(Math.max(...Array.from(a?.reference ?? [], (p, k) => Math.abs(p - (b?.reference[k] ?? 0))))).toBeGreaterThan(1e-3);

    const card = nsfwjsModelCard(summary, parityRecord(report));
    expect(card.classes).toEqual(['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
    expect(card.groups).toEqual(NSFWJS_GROUPS);
    expect(card.output).toEqual({ name: 'logits', shape: ['N', 5], scores: 'logits' });
    expect(card.preprocessing).toMatchObject({ resize: 'squash', cropSize: 224, scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(card.version).toBe(`${pkg.version}-onnx.1`);
    expect(card.metadata).toMatchObject({ conversion: { parityCheck: { images: 2, maxAbsDiffProbability: report.maxAbsDiffProbability } } });
  }, 240_000);
});

describe('converter refusals', () => {
  it('names an op it cannot convert, with MODEL_INVALID', () => {
    const source = readNsfwjsModel('mobilenet_v2_mid');
    const json = structuredClone(source.modelJson) as { modelTopology: { node: Array<{ op: string; name: string }> } };
    const avgPool = json.modelTopology.node.find((n) => n.op === 'AvgPool');
    if (avgPool === undefined) throw new Error('no AvgPool in mobilenet_v2_mid');
    avgPool.op = 'MaxPool3D';
    expect(() => convertNsfwjs('mobilenet_v2_mid', { ...source, modelJson: json })).toThrow(expect.objectContaining({
      code: 'MODEL_INVALID',
      message: expect.stringContaining(`${avgPool.name}: op MaxPool3D is not supported`),
    }));
  });
});

describe('ensureNsfwModel', () => {
  it('converts once, then reuses the files until the card is not its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'revmod-nsfwjs-'));
    try {
      const out = join(dir, 'models', 'mid.onnx');
      const first = await ensureNsfwModel('mobilenet_v2_mid', out, { checkImageCount: 0 });
      expect(first.created).toBe(true);
      expect(first.cardPath).toBe(join(dir, 'models', 'mid.card.json'));
      const card = JSON.parse(readFileSync(first.cardPath, 'utf8')) as Record<string, unknown>;
      expect(card).toMatchObject({ name: 'nsfwjs-mobilenet-v2-mid', trained: true, metadata: { licence: 'MIT', conversion: { parityCheck: null } } });
      expect(readFileSync(out).length).toBeGreaterThan(1_000_000);

      expect((await ensureNsfwModel('mobilenet_v2_mid', out, { checkImageCount: 0 })).created).toBe(false);

      writeFileSync(first.cardPath, JSON.stringify({ ...card, version: '4.4.0-onnx.0' }));
      expect((await ensureNsfwModel('mobilenet_v2_mid', out, { checkImageCount: 0 })).created).toBe(true);
      expect((JSON.parse(readFileSync(first.cardPath, 'utf8')) as { version: string }).version).toMatch(/-onnx\.1$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
