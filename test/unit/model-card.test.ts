import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RevmodError } from '@revmod/client';
import { generatedModelCard } from '../../tools/model-gen/ensure-model';
import { cardPathFor, loadModelCard, type ModelCardInput } from '../../src/model/model-card';

const MINIMAL: ModelCardInput = {
  name: 'shop-moderation',
  version: '2026.11.1',
  description: 'fine-tuned resnet18',
  trained: true,
  classes: ['normal', 'violate'],
  input: { name: 'input', shape: ['N', 3, 224, 224] },
  output: { name: 'logits', shape: ['N', 2] },
};

type Json = Record<string, unknown>;

describe('model card', () => {
  let dir: string;
  let counter = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'revmod-card-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function write(content: unknown): Promise<string> {
    const path = join(dir, `card-${counter++}.card.json`);
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }

  it('derives the card path from the model path', () => {
    expect(cardPathFor('models/a.onnx')).toBe('models/a.card.json');
    expect(cardPathFor('/m/model.bin')).toBe('/m/model.bin.card.json');
  });

  it('loads a minimal card and fills in thresholds and preprocessing defaults', async () => {
    const card = await loadModelCard(await write(MINIMAL));
    expect(card.thresholds).toEqual({ violate: 0.7, confidence: 0.7, block: null });
    expect(card.preprocessing).toEqual({
      resizeShortSide: 256, cropSize: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
      colorSpace: 'RGB', autoOrient: true,
    });
  });

  it('loads a full card as written, including the generated ones', async () => {
    const full = { ...MINIMAL, thresholds: { violate: 0.6, confidence: 0.8, block: 0.95 }, metadata: { f1: 0.93 } };
    const card = await loadModelCard(await write(full));
    expect(card.thresholds).toEqual({ violate: 0.6, confidence: 0.8, block: 0.95 });
    expect(card.metadata).toEqual({ f1: 0.93 });
    for (const kind of ['resnet18', 'probe'] as const) {
      await expect(loadModelCard(await write(generatedModelCard(kind)))).resolves.toMatchObject({ trained: false });
    }
  });

  const invalid: ReadonlyArray<[field: string, mutate: (card: Json) => void]> = [
    ['name', (c) => delete c.name],
    ['version', (c) => { c.version = ''; }],
    ['description', (c) => { c.description = 42; }],
    ['trained', (c) => { c.trained = 'yes'; }],
    ['classes.0', (c) => { c.classes = ['violate', 'normal']; }],
    ['classes', (c) => { c.classes = ['normal']; }],
    ['input.name', (c) => { c.input = { shape: ['N', 3, 224, 224] }; }],
    ['input.shape', (c) => { c.input = { name: 'input', shape: ['N', 3, 256, 256] }; }],
    ['output.shape', (c) => { c.output = { name: 'logits', shape: ['N', 3] }; }],
    ['thresholds.violate', (c) => { c.thresholds = { violate: 1.5 }; }],
    ['thresholds.confidence', (c) => { c.thresholds = { confidence: -0.1 }; }],
    ['thresholds.block', (c) => { c.thresholds = { violate: 0.7, block: 0.5 }; }],
    ['preprocessing.cropSize', (c) => { c.preprocessing = { cropSize: 0 }; }],
    ['preprocessing.resizeShortSide', (c) => { c.preprocessing = { resizeShortSide: 200 }; }],
    ['preprocessing.mean', (c) => { c.preprocessing = { mean: [0.5, 0.5] }; }],
    ['preprocessing.std.1', (c) => { c.preprocessing = { std: [0.2, 0, 0.2] }; }],
    ['preprocessing.colorSpace', (c) => { c.preprocessing = { colorSpace: 'BGR' }; }],
    ['preprocessing.autoOrient', (c) => { c.preprocessing = { autoOrient: 'yes' }; }],
    ['sha256', (c) => { c.sha256 = 'ab'.repeat(32); }], // computed at load, never stored
  ];

  it.each(invalid)('rejects an invalid %s with MODEL_INVALID naming the file and field', async (field, mutate) => {
    const card = structuredClone(MINIMAL) as Json;
    mutate(card);
    const path = await write(card);
    const error = await loadModelCard(path).then(() => undefined, (err: unknown) => err);
    expect(error).toBeInstanceOf(RevmodError);
    expect(error).toMatchObject({ code: 'MODEL_INVALID', retryable: false });
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain(field);
  });

  it('rejects a file that is missing or not JSON', async () => {
    const missing = join(dir, 'nope.card.json');
    await expect(loadModelCard(missing)).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining(missing) });
    const broken = await write('{ "name": ');
    await expect(loadModelCard(broken)).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining(broken) });
  });
});
