import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { ensureModel } from '../../tools/model-gen/ensure-model';
import { loadModelCard } from '../../src/model/model-card';
import { buildResNet18Onnx, resnet18ParamCount } from '../../tools/model-gen/resnet18-graph';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function dims(meta: ort.InferenceSession.ValueMetadata | undefined): readonly (number | string)[] | undefined {
  return meta !== undefined && meta.isTensor ? meta.shape : undefined;
}

describe('resnet18 generator', () => {
  let dir: string;
  let modelPath: string;
  let cardPath: string;
  let bytes: Buffer;
  let session: ort.InferenceSession;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'revmod-resnet18-'));
    ({ modelPath, cardPath } = await ensureModel({ kind: 'resnet18', path: join(dir, 'r18.onnx'), seed: 0 }));
    bytes = await readFile(modelPath);
    session = await ort.InferenceSession.create(modelPath);
  });

  afterAll(async () => {
    await session?.release();
    await rm(dir, { recursive: true, force: true });
  });

  it('has torchvision resnet18\'s 11,177,538 trainable parameters for 2 classes', () => {
    expect(resnet18ParamCount()).toBe(11_177_538);
    expect(resnet18ParamCount(1000)).toBe(11_689_512); // torchvision's published ImageNet count
  });

  it('stores exactly those parameters (BN running stats aside) and the resnet18 layer structure', () => {
    const graph = onnx.ModelProto.decode(bytes).graph!;
    const trainable = graph.initializer!
      .filter((t) => !/running_(mean|var)$/.test(t.name!))
      .reduce((sum, t) => sum + t.dims!.reduce<number>((a, d) => a * Number(d), 1), 0);
    expect(trainable).toBe(11_177_538);
    const ops = new Map<string, number>();
    for (const node of graph.node!) ops.set(node.opType!, (ops.get(node.opType!) ?? 0) + 1);
    expect(Object.fromEntries(ops)).toEqual({
      Conv: 20, BatchNormalization: 20, Relu: 17, MaxPool: 1, Add: 8, GlobalAveragePool: 1, Flatten: 1, Gemm: 1,
    });
    expect(bytes.length).toBeGreaterThan(44_000_000);
  });

  it('loads in onnxruntime with the model contract\'s names and dims', () => {
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['logits']);
    expect(dims(session.inputMetadata[0])).toEqual(['N', 3, 224, 224]);
    expect(dims(session.outputMetadata[0])).toEqual(['N', 2]);
  });

  it('gives finite [2,2] logits for a batch of two', async () => {
    const data = new Float32Array(2 * 3 * 224 * 224);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 12.9898) * 2; // deterministic noise
    const { logits } = await session.run({ input: new ort.Tensor('float32', data, [2, 3, 224, 224]) });
    expect(logits?.dims).toEqual([2, 2]);
    expect(Array.from(logits!.data as Float32Array).every(Number.isFinite)).toBe(true);
  });

  it('writes an untrained card beside the model', async () => {
    const card = await loadModelCard(cardPath);
    expect(card.trained).toBe(false);
    expect(card.description).toMatch(/untrained/i);
    expect(card.description).toMatch(/input-independent/);
    expect(card.input).toEqual({ name: 'input', shape: ['N', 3, 224, 224] });
  });

  it('is deterministic per seed and differs across seeds', () => {
    expect(sha256(buildResNet18Onnx({ seed: 0 }))).toBe(sha256(bytes));
    expect(sha256(buildResNet18Onnx({ seed: 1 }))).not.toBe(sha256(bytes));
  });

  it('does not rewrite an existing model', async () => {
    const again = await ensureModel({ kind: 'resnet18', path: modelPath, seed: 0 });
    expect(again).toEqual({ modelPath, cardPath, created: false });
  });
});
