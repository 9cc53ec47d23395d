/**
 * int8 against fp32 on the bundled trained model (nsfwjs MobileNetV2 mid):
 * `npm run bench:int8 [-- --no-shared] [--json PATH] [--seconds S]`.
 *
 * 1. Quantises the model with `quantizeModel` (what `revmod model quantize` runs), once per
 *    calibration method, calibrated on shipped photos.
 * 2. Scores held-out photos through the worker's decode task and InferenceEngine with both models:
 *    decisions (default policy, card thresholds), top class, max |Δp|. Held out: ../shared/images
 *    and six generated variants of each (mirror, flip, rotation, crops) when present; without it,
 *    samples/ and its variants (then samples/ is left out of calibration).
 * 3. CPU speed at batch 32 (and 1), fp32 and int8 in turn in the same process.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { ensureNsfwModel } from '../../src/model-import/ensure-nsfw-model';
import { cardInputGeometry } from '../../src/model/model-card';
import { InferenceEngine } from '../../src/model/inference-engine';
import { ioContractOf } from '../../src/model/model-io';
import { loadModel } from '../../src/model/load-model';
import { decode } from '../../src/pool/decode-task';
import { DEFAULT_DECODE_OPTIONS } from '../../src/preprocess';
import { compareOutputs, type Agreement } from '../../src/quantize/agreement';
import type { CalibrationMethod } from '../../src/quantize/calibrate';
import { quantizeModel } from '../../src/quantize/quantize-model';
import { benchInference, type InferenceResult } from './stages';

const ROOT = resolve(__dirname, '../..');
const SHARED = resolve(ROOT, '../shared/images');
const PHOTO = /\.(jpe?g|png|webp)$/i;

interface Photo {
  readonly name: string;
  readonly bytes: Buffer;
}

const photosOf = (dir: string): Photo[] =>
  existsSync(dir) ? readdirSync(dir).filter((f) => PHOTO.test(f)).sort().map((f) => ({ name: f, bytes: readFileSync(join(dir, f)) })) : [];

/** Six variants of a photo: each a different model input with a real photo's content. */
async function variants(p: Photo): Promise<Photo[]> {
  const upright = await sharp(p.bytes).rotate().toBuffer();
  const { width = 0, height = 0 } = await sharp(upright).metadata();
  const cw = Math.round((width * 2) / 3);
  const ch = Math.round((height * 2) / 3);
  const crop = (left: number, top: number, w: number, h: number) => sharp(upright).extract({ left, top, width: w, height: h });
  const made: Array<[string, sharp.Sharp]> = [
    ['mirror', sharp(upright).flop()], ['upside-down', sharp(upright).flip()], ['rotate90', sharp(upright).rotate(90)],
    ['crop-top-left', crop(0, 0, cw, ch)], ['crop-bottom-right', crop(width - cw, height - ch, cw, ch)],
    ['crop-centre-half', crop(Math.round(width / 4), Math.round(height / 4), Math.round(width / 2), Math.round(height / 2))],
  ];
  return Promise.all(made.map(async ([label, img]) => ({ name: `${p.name}~${label}`, bytes: await img.jpeg({ quality: 90 }).toBuffer() })));
}

/** Logits of every photo through the worker's decode task and an InferenceEngine (batches of 32). */
async function score(modelPath: string, photos: readonly Photo[]): Promise<Float32Array> {
  const { card } = await loadModel(modelPath);
  const engine = new InferenceEngine({ modelPath, executionProvider: 'cpu', maxBatchSize: 32, contract: ioContractOf(card) });
  await engine.start();
  try {
    const out = new Float32Array(photos.length * card.classes.length);
    for (let i = 0; i < photos.length; i += 32) {
      const tensors: Float32Array[] = [];
      for (const p of photos.slice(i, i + 32)) {
        const d = await decode({
          bytes: new Uint8Array(p.bytes), preprocess: { ...DEFAULT_DECODE_OPTIONS, ...cardInputGeometry(card) }, normalization: card.preprocessing,
          maxFrames: 1, detectors: {}, pdq: false,
        });
        if (!d.ok) throw new Error(`${p.name}: ${d.code}: ${d.message}`);
        tensors.push(d.tensors[0]!);
      }
      const { logits } = await engine.run(tensors);
      out.set(logits, i * card.classes.length);
    }
    return out;
  } finally {
    await engine.close();
  }
}

const fmtAgreement = (a: Agreement) =>
  `${a.sameDecision}/${a.images} decisions equal (${((100 * a.sameDecision) / a.images).toFixed(1)} %), top class ${a.sameTopClass}/${a.images}, max |Δp| ${a.maxAbsDiffProbability.toFixed(4)}, mean |Δp| ${a.meanAbsDiffProbability.toFixed(5)}`;

export interface Int8Report {
  readonly calibration: { readonly photos: number; readonly from: string };
  readonly heldOut: { readonly originals: number; readonly variants: number; readonly from: string };
  readonly methods: ReadonlyArray<{ readonly method: CalibrationMethod; readonly modelBytes: number; readonly originals: Agreement; readonly all: Agreement; readonly inSample: Agreement; readonly differences: readonly string[] }>;
  readonly speed: ReadonlyArray<{ readonly model: string; readonly turn: number; readonly results: readonly InferenceResult[] }>;
}

export async function benchInt8(options: { readonly useShared: boolean; readonly seconds: number; readonly log: (line: string) => void }): Promise<Int8Report> {
  const { log } = options;
  const fp32 = (await ensureNsfwModel()).modelPath;
  const shared = options.useShared ? photosOf(SHARED) : [];
  const samples = photosOf(join(ROOT, 'samples'));
  const held = shared.length > 0 ? shared : samples;
  const calibrationDirs = [join(ROOT, 'test/fixtures/photos'), join(ROOT, 'test/fixtures/parity'), ...(shared.length > 0 ? [join(ROOT, 'samples')] : [])];
  const work = mkdtempSync(join(tmpdir(), 'revmod-int8-'));
  try {
    const calibDir = join(work, 'calibration');
    mkdirSync(calibDir);
    for (const dir of calibrationDirs) for (const f of readdirSync(dir).filter((x) => PHOTO.test(x))) copyFileSync(join(dir, f), join(calibDir, `${dir.split('/').pop()}-${f}`));
    const calibPhotos = photosOf(calibDir);
    const variantPhotos = (await Promise.all(held.map(variants))).flat();
    const all = [...held, ...variantPhotos];
    log(`calibration: ${calibPhotos.length} shipped photos; held out: ${held.length} photos + ${variantPhotos.length} variants`);
    const { card } = await loadModel(fp32);
    const refAll = await score(fp32, all);
    const refIn = await score(fp32, calibPhotos);
    const c = card.classes.length;
    const methods: Array<Int8Report['methods'][number]> = [];
    const int8Paths: string[] = [];
    for (const method of ['percentile', 'minmax'] as const) {
      const out = join(work, `int8-${method}.onnx`);
      const r = await quantizeModel(fp32, out, { calibrateDir: calibDir, method });
      int8Paths.push(out);
      const qAll = await score(out, all);
      const qIn = await score(out, calibPhotos);
      const a = compareOutputs(card, refAll, qAll);
      const o = compareOutputs(card, refAll.subarray(0, held.length * c), qAll.subarray(0, held.length * c));
      const s = compareOutputs(card, refIn, qIn);
      const differences = a.differences.map((d) => `${all[d.index]!.name}: fp32 ${d.fp32} (violate ${d.violateFp32.toFixed(3)}), int8 ${d.int8} (violate ${d.violateInt8.toFixed(3)})`);
      log(`${method}: held-out originals ${fmtAgreement(o)}`);
      log(`${method}: held-out with variants ${fmtAgreement(a)}`);
      log(`${method}: in-sample (calibration photos) ${fmtAgreement(s)}`);
      for (const d of differences) log(`  differs: ${d}`);
      methods.push({ method, modelBytes: r.bytesOut, originals: o, all: a, inSample: s, differences });
    }
    // Speed: the same crops, fp32 and int8 in turn, twice, so that a busy neighbour shows as a spread.
    const crops = await Promise.all(held.slice(0, 8).map(async (p) => new Uint8Array((await sharp(p.bytes).rotate().resize(224, 224, { fit: 'fill' }).removeAlpha().raw().toBuffer()))));
    const speed: Array<Int8Report['speed'][number]> = [];
    for (let turn = 1; turn <= 2; turn++) {
      for (const [model, path] of [['fp32', fp32], ['int8', int8Paths[0]!]] as const) {
        const results = await benchInference(crops, { modelPath: path, executionProvider: 'cpu', intraOpThreads: 0, batchSizes: [1, 32], minSeconds: options.seconds });
        for (const r of results) log(`speed turn ${turn} ${model} batch ${r.batch}: ${r.imagesPerS.toFixed(1)} img/s, CPU ${r.cpuMsPerImage.toFixed(2)} ms/img, cores busy elsewhere ${r.coresElsewhere.toFixed(2)}`);
        speed.push({ model, turn, results });
      }
    }
    return {
      calibration: { photos: calibPhotos.length, from: calibrationDirs.map((d) => d.replace(`${ROOT}/`, '')).join(', ') },
      heldOut: { originals: held.length, variants: variantPhotos.length, from: shared.length > 0 ? '../shared/images' : 'samples/' },
      methods, speed,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const jsonAt = args.indexOf('--json');
  const secondsAt = args.indexOf('--seconds');
  benchInt8({ useShared: !args.includes('--no-shared'), seconds: secondsAt >= 0 ? Number(args[secondsAt + 1]) : 3, log: (l) => process.stdout.write(`${l}\n`) })
    .then((report) => {
      if (jsonAt >= 0) writeFileSync(args[jsonAt + 1]!, JSON.stringify(report, null, 2));
    })
    .catch((err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exitCode = 1;
    });
}
