import { readFile, stat } from 'node:fs/promises';
import { listImageFiles } from '../../util/files';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig } from '../../config';
import { InferenceEngine } from '../../model/inference-engine';
import { loadModel } from '../../model/load-model';
import { ioContractOf } from '../../model/model-io';
import { scoreImages } from '../../model/score-images';
import { registerRegistryCommands } from './model-registry-commands';
import { loadWorkerPolicy } from '../../worker/moderation-worker';
import { tensorFloatsPerImage } from '../../preprocess/constants';
import { EXIT, UsageError, type CliContext } from '../cli-context';
import { EXECUTION_PROVIDER_CHOICES, type ExecutionProviderChoice } from '../../model/execution-providers';
import { nonNegativeInt, positiveInt, type Runner } from '../program';
import { defaultNsfwModelPath, ensureNsfwModel } from '../../model-import/ensure-nsfw-model';
import { DEFAULT_NSFWJS_VARIANT, NSFWJS_VARIANTS, type NsfwjsVariant } from '../../model-import/nsfwjs';
import { quantizeModel } from '../../quantize/quantize-model';
import type { CalibrationMethod } from '../../quantize/calibrate';

interface QuantizeCommandOptions {
  readonly calibrate: string;
  readonly method: CalibrationMethod;
  readonly percentile: number;
  readonly maxImages: number;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** commander parser for a percentile in (90, 100]. */
function percentileArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n > 90 && n <= 100)) throw new InvalidArgumentError(`must be a number in (90, 100], received ${JSON.stringify(value)}`);
  return n;
}

/** `revmod model quantize IN OUT --calibrate DIR`: writes the int8 model and its card, prints the check. */
async function quantizeCommand(inPath: string, outPath: string, opts: QuantizeCommandOptions, ctx: CliContext): Promise<number> {
  const r = await quantizeModel(inPath, outPath, {
    calibrateDir: opts.calibrate, method: opts.method, percentile: opts.percentile, maxImages: opts.maxImages, force: opts.force ?? false,
    log: opts.json ? undefined : ctx.out,
  });
  const report = {
    model: r.modelPath, card: r.cardPath, name: r.card.name, version: r.card.version, bytesIn: r.bytesIn, bytesOut: r.bytesOut,
    calibrationImages: r.calibrationImages, skipped: r.skipped, ops: r.summary.ops,
    check: { images: r.check.images, sameTopClass: r.check.sameTopClass, sameDecision: r.check.sameDecision, maxAbsDiffProbability: r.check.maxAbsDiffProbability },
  };
  if (opts.json) ctx.out(JSON.stringify(report, null, 2));
  else {
    ctx.out(`model:   ${r.modelPath} (${r.bytesOut} bytes, from ${r.bytesIn})`);
    ctx.out(`card:    ${r.cardPath} (${r.card.name} ${r.card.version})`);
    ctx.out(`graph:   ${Object.entries(r.summary.ops).map(([op, n]) => `${op} ${n}`).join(', ')}`);
  }
  return EXIT.ok;
}

interface CheckOptions {
  readonly provider: ExecutionProviderChoice;
  readonly batch: number;
  readonly json?: boolean;
}

/**
 * Loads a model and its card as the worker would, runs one dummy batch, and prints what the worker
 * would serve: I/O, sha256, card, effective thresholds and the execution provider in use.
 */
export async function checkModel(path: string, opts: CheckOptions, ctx: CliContext): Promise<number> {
  const config = loadConfig({ model: { path, executionProvider: opts.provider }, batch: { size: opts.batch } }, ctx.env);
  const model = await loadModel(path);
  const policy = await loadWorkerPolicy(config, model);
  const { thresholds } = policy;
  const engine = new InferenceEngine({ modelPath: path, executionProvider: opts.provider, intraOpThreads: config.model.intraOpThreads, maxBatchSize: opts.batch, maxInFlight: 1,
    webgpuLayout: config.model.webgpuLayout, startTimeoutMs: config.model.loadTimeoutMs, contract: ioContractOf(model.card) });
  try {
    const info = await engine.start();
    const floats = tensorFloatsPerImage(model.card.preprocessing.cropSize);
    const { logits, inferMs } = await engine.run(Array.from({ length: opts.batch }, () => new Float32Array(floats)));
    const finite = logits.every((x) => Number.isFinite(x));
    const report = {
      path, sha256: model.sha256,
      card: { name: model.card.name, version: model.card.version, trained: model.card.trained, classes: model.card.classes, preprocessing: model.card.preprocessing },
      io: { input: info.inputName, output: info.outputName },
      thresholds,
      executionProvider: info.provider, ...(info.fallbackReason ? { fallbackReason: info.fallbackReason } : {}),
      dummyBatch: { size: opts.batch, outputs: logits.length, finite, inferMs: Math.round(inferMs * 10) / 10 },
    };
    if (opts.json) ctx.out(JSON.stringify(report, null, 2));
    else {
      ctx.out(`model        ${path}`);
      ctx.out(`sha256       ${model.sha256}`);
      ctx.out(`card         ${model.card.name}@${model.card.version}, ${model.card.trained ? 'trained' : 'UNTRAINED (scores mean nothing)'}, classes ${model.card.classes.join(', ')}`);
      ctx.out(`preprocess   ${JSON.stringify(model.card.preprocessing)}`);
      ctx.out(`io           input ${info.inputName}, output ${info.outputName}`);
      ctx.out(`thresholds   ${JSON.stringify(thresholds)}`);
      ctx.out(`provider     ${info.provider}${info.fallbackReason ? ` (fell back: ${info.fallbackReason})` : ''}`);
      ctx.out(`dummy batch  ${opts.batch} images → ${logits.length} outputs in ${report.dummyBatch.inferMs} ms${finite ? '' : ', NOT FINITE'}`);
    }
    if (!finite) {
      ctx.err('revmod: the model produced non-finite outputs on a dummy batch');
      return EXIT.failure;
    }
    return EXIT.ok;
  } finally {
    await engine.close();
  }
}

/** Files named, folders searched recursively for image files, and the lines of `--from`; sorted within each folder. */
async function expandImagePaths(paths: readonly string[], from: string | undefined): Promise<string[]> {
  const named = [...paths];
  if (from !== undefined) {
    const text = await readFile(from, 'utf8').catch((err: Error) => { throw new UsageError(`--from ${from}: cannot be read (${err.message})`); });
    named.push(...text.split('\n').map((l) => l.trim()).filter((l) => l !== ''));
  }
  const out: string[] = [];
  for (const p of named) {
    const s = await stat(p).catch(() => undefined);
    if (s?.isDirectory()) out.push(...(await listImageFiles(p)));
    else out.push(p); // a missing file is reported per image, not as a usage error
  }
  return out;
}

interface ScoreOptions {
  readonly model: string;
  readonly from?: string;
  readonly provider: 'auto' | 'cuda' | 'cpu';
  readonly batch: number;
  readonly json?: boolean;
}

/** Scores image files as a worker would (decode, card preprocessing, ORT, softmax) and prints them. */
async function scoreCommand(paths: readonly string[], opts: ScoreOptions, ctx: CliContext): Promise<number> {
  const files = await expandImagePaths(paths, opts.from);
  if (files.length === 0) throw new UsageError('no images: name files or folders, or --from FILE');
  const config = loadConfig({ model: { path: opts.model, executionProvider: opts.provider } }, ctx.env);
  const report = await scoreImages(files, {
    modelPath: opts.model, executionProvider: opts.provider, intraOpThreads: config.model.intraOpThreads, batchSize: opts.batch,
    decode: { maxPixels: config.limits.maxPixels, allowSvg: config.limits.allowSvg, mode: config.model.preprocessMode },
  });
  if (opts.json) ctx.out(JSON.stringify(report));
  else {
    ctx.out(`model ${report.model.name}@${report.model.version} (${report.model.sha256.slice(0, 12)}), ${report.executionProvider}`);
    for (const img of report.images) {
      ctx.out(img.ok ? `${img.file}\t${img.scores.label}\tviolate ${img.scores.violate.toFixed(4)}` : `${img.file}\t${img.code}\t${img.message}`);
    }
  }
  return report.images.every((i) => i.ok) ? EXIT.ok : EXIT.failure;
}

export function registerModelCommands(program: Command, ctx: CliContext, run: Runner): void {
  const model = program.command('model').description('model tools: check a model and its card, import a trained one');
  model.command('import-nsfwjs')
    .description('convert a trained nsfwjs MobileNetV2 NSFW classifier (npm package nsfwjs, a development dependency) to ONNX with its card, checked against nsfwjs itself')
    .addOption(new Option('--variant <name>', 'which nsfwjs model').choices([...NSFWJS_VARIANTS]).default(DEFAULT_NSFWJS_VARIANT))
    .option('--out <path>', 'where to write the .onnx (card beside it); default models/nsfwjs-<variant>.onnx')
    .option('--check-images <n>', 'synthetic images to check the conversion on against nsfwjs (0: no check)', nonNegativeInt, 3)
    .option('--force', 'convert again even when this converter revision already wrote the model')
    .action(run(async (opts: { variant: NsfwjsVariant; out?: string; checkImages: number; force?: boolean }) => {
      const result = await ensureNsfwModel(opts.variant, opts.out ?? defaultNsfwModelPath(opts.variant), { force: opts.force ?? false, checkImageCount: opts.checkImages, log: ctx.out });
      const { size } = await stat(result.modelPath);
      ctx.out(`model:   ${result.modelPath}${result.created ? '' : ' (already there; --force to convert again)'}`);
      ctx.out(`card:    ${result.cardPath} (${result.card.name} ${result.card.version})`);
      ctx.out(`bytes:   ${size}`);
      return EXIT.ok;
    }));
  model.command('quantize')
    .description('quantise a float32 model to int8 (static QDQ: per-channel int8 weights, uint8 activations calibrated on sample photos decoded as the worker does) and write its card; checks it against the float model on those photos')
    .argument('<in>', 'the float32 .onnx file (its card beside it)')
    .argument('<out>', 'where to write the int8 .onnx (its card is written beside it)')
    .requiredOption('--calibrate <dir>', 'folder of sample photos, like the traffic the model will see (a few dozen to a few hundred)')
    .addOption(new Option('--method <m>', 'activation ranges: the extremes seen, or a percentile of the values').choices(['minmax', 'percentile']).default('percentile'))
    .option('--percentile <p>', "with --method percentile: the percentile kept, in (90, 100]", percentileArg, 99.99)
    .option('--max-images <n>', 'at most this many photos of the folder (by name)', positiveInt, 500)
    .option('--force', 'overwrite OUT and its card')
    .option('--json', 'print the report as JSON')
    .action(run((inPath: string, outPath: string, opts: QuantizeCommandOptions) => quantizeCommand(inPath, outPath, opts, ctx)));
  model.command('check')
    .description('load a model and its card as the worker would, run one dummy batch, print I/O, sha256, card, thresholds and provider')
    .argument('<path>', 'the .onnx file (its card is <name>.card.json beside it)')
    .addOption(new Option('--provider <ep>', 'execution provider').choices([...EXECUTION_PROVIDER_CHOICES]).default('cpu'))
    .option('--batch <n>', 'images in the dummy batch', positiveInt, 2)
    .option('--json', 'print the report as JSON')
    .action(run((path: string, opts: CheckOptions) => checkModel(path, opts, ctx)));
  model.command('score')
    .description('score image files as a worker would (decode, the card\'s preprocessing, ONNX, softmax); exit 1 if any image could not be scored')
    .argument('[paths...]', 'image files, or folders searched recursively')
    .requiredOption('--model <path>', 'the .onnx file (its card beside it)')
    .option('--from <file>', 'also score the paths listed in FILE, one per line')
    .addOption(new Option('--provider <ep>', 'execution provider').choices(['auto', 'cuda', 'cpu']).default('cpu'))
    .option('--batch <n>', 'images per inference run', positiveInt, 16)
    .option('--json', 'print {model, executionProvider, images: [{file, ok, sha256, scores}]} as one JSON line')
    .action(run((paths: string[], opts: ScoreOptions) => scoreCommand(paths, opts, ctx)));
  registerRegistryCommands(model, ctx, run, checkModel);
}
