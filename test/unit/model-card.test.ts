import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RevmodError } from '@revmod/client';
import { generatedModelCard } from '../../tools/model-gen/ensure-model';
import { cardInputGeometry, cardPathFor, loadModelCard, parseModelCard, type ModelCardInput } from '../../src/model/model-card';

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
      resize: 'crop', resizeShortSide: 256, cropSize: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
      scale: 1 / 255, colorSpace: 'RGB', autoOrient: true,
    });
    expect(card.groups).toEqual({ normal: 'normal', violate: 'violate' });
    expect(card.output.scores).toBe('logits');
    expect(cardInputGeometry(card)).toEqual({ resize: 'crop', resizeShortSide: 256, cropSize: 224, autoOrient: true });
  });

  it('loads a parsed card again unchanged (generated cards are written parsed)', () => {
    const once = parseModelCard(MINIMAL, 'minimal');
    expect(parseModelCard(JSON.parse(JSON.stringify(once)), 'again')).toEqual(once);
    const squash = parseModelCard({ ...MINIMAL, preprocessing: { resize: 'squash' } }, 'squash');
    expect(parseModelCard(JSON.parse(JSON.stringify(squash)), 'again')).toEqual(squash);
  });

  it('accepts a multi-class card with groups, probabilities and a squash resize', () => {
    const card = parseModelCard({
      ...MINIMAL,
      classes: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'],
      groups: { Drawing: 'normal', Neutral: 'normal', Hentai: 'porn', Porn: 'porn', Sexy: 'sexy' },
      output: { name: 'probs', shape: ['N', 5], scores: 'probabilities' },
      preprocessing: { resize: 'squash', mean: [0, 0, 0], std: [1, 1, 1] },
    }, 'nsfw');
    expect(card.groups).toEqual({ Drawing: 'normal', Neutral: 'normal', Hentai: 'porn', Porn: 'porn', Sexy: 'sexy' });
    expect(card.output.scores).toBe('probabilities');
    expect(card.preprocessing).toEqual({
      resize: 'squash', cropSize: 224, mean: [0, 0, 0], std: [1, 1, 1], scale: 1 / 255, colorSpace: 'RGB', autoOrient: true,
    });
    expect(cardInputGeometry(card)).toEqual({ resize: 'squash', cropSize: 224, autoOrient: true });
  });

  it('accepts a 2-class card with other names when groups say which is normal', () => {
    const card = parseModelCard({ ...MINIMAL, classes: ['nsfw', 'safe'], groups: { nsfw: 'porn', safe: 'normal' } }, 'renamed');
    expect(card.groups).toEqual({ nsfw: 'porn', safe: 'normal' });
  });

  it('takes resizeShortSide, cropSize and scale as written', () => {
    const card = parseModelCard({
      ...MINIMAL,
      input: { name: 'input', shape: ['N', 3, 240, 240] },
      preprocessing: { resizeShortSide: 288, cropSize: 240, scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1] },
    }, 'sizes');
    expect(card.preprocessing).toMatchObject({ resize: 'crop', resizeShortSide: 288, cropSize: 240, scale: 1 / 127.5 });
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
    ['groups', (c) => { c.classes = ['violate', 'normal']; }], // not the default list: groups required
    ['classes', (c) => { c.classes = ['normal']; }],
    ['classes.1', (c) => { c.classes = ['normal', '']; }],
    ['classes.2', (c) => { c.classes = ['normal', 'violate', 'normal']; c.output = { name: 'logits', shape: ['N', 3] }; }],
    ['groups', (c) => { c.classes = ['a', 'b', 'c']; c.output = { name: 'logits', shape: ['N', 3] }; }],
    ['groups.c', (c) => { c.classes = ['a', 'b', 'c']; c.groups = { a: 'normal', b: 'porn' }; c.output = { name: 'logits', shape: ['N', 3] }; }],
    ['groups.x', (c) => { c.groups = { normal: 'normal', violate: 'violate', x: 'porn' }; }],
    ['groups.violate', (c) => { c.groups = { normal: 'normal', violate: '' }; }],
    ['groups: no class is in group \'normal\'', (c) => { c.groups = { normal: 'porn', violate: 'sexy' }; }],
    ['groups: no class is in a violation group', (c) => { c.groups = { normal: 'normal', violate: 'normal' }; }],
    ['output.shape.0', (c) => { c.input = { name: 'input', shape: [1, 3, 224, 224] }; c.output = { name: 'logits', shape: [8, 2] }; }],
    ['output.scores', (c) => { c.output = { name: 'logits', shape: ['N', 2], scores: 'softmax' }; }],
    ['output.shape', (c) => { c.classes = ['a', 'b', 'c']; c.groups = { a: 'normal', b: 'x', c: 'y' }; }],
    ['input.name', (c) => { c.input = { shape: ['N', 3, 224, 224] }; }],
    ['input.shape', (c) => { c.input = { name: 'input', shape: ['N', 3, 256, 256] }; }],
    ['output.shape', (c) => { c.output = { name: 'logits', shape: ['N', 3] }; }],
    // Range rules come from the policy's validateThresholds, reported under `thresholds`.
    ['thresholds: violate must be within [0, 1], received 1.5', (c) => { c.thresholds = { violate: 1.5 }; }],
    ['thresholds: confidence must be within [0, 1], received -0.1', (c) => { c.thresholds = { confidence: -0.1 }; }],
    ['thresholds: block (0.5) must not be below violate (0.7)', (c) => { c.thresholds = { violate: 0.7, block: 0.5 }; }],
    ['thresholds.violate', (c) => { c.thresholds = { violate: 'high' }; }],
    ['thresholds.categories', (c) => { c.thresholds = { categories: { porn: 0.5 } }; }],
    ['preprocessing.cropSize', (c) => { c.preprocessing = { cropSize: 0 }; }],
    ['preprocessing.cropSize', (c) => { c.preprocessing = { cropSize: 2048 }; c.input = { name: 'input', shape: ['N', 3, 2048, 2048] }; }],
    ['preprocessing.resizeShortSide', (c) => { c.preprocessing = { resizeShortSide: 200 }; }],
    ['preprocessing.resizeShortSide', (c) => { c.preprocessing = { resizeShortSide: 288.5 }; }],
    ['preprocessing.resizeShortSide', (c) => { c.preprocessing = { resize: 'squash', resizeShortSide: 256 }; }],
    ['preprocessing.resize', (c) => { c.preprocessing = { resize: 'pad' }; }],
    ['preprocessing.mean', (c) => { c.preprocessing = { mean: [0.5, 0.5] }; }],
    ['preprocessing.std.1', (c) => { c.preprocessing = { std: [0.2, 0, 0.2] }; }],
    ['preprocessing.scale', (c) => { c.preprocessing = { scale: 0 }; }],
    ['preprocessing.scale', (c) => { c.preprocessing = { scale: '1/255' }; }],
    ['preprocessing.interpolation', (c) => { c.preprocessing = { interpolation: 'bicubic' }; }],
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
