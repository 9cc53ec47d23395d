import { stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { loadConfig } from '../../config';
import { InferenceEngine } from '../../model/inference-engine';
import { loadModel } from '../../model/load-model';
import { ioContractOf } from '../../model/model-io';
import { loadWorkerPolicy } from '../../worker/moderation-worker';
import { tensorFloatsPerImage } from '../../preprocess/constants';
import { EXIT, type CliContext } from '../cli-context';
import { EXECUTION_PROVIDER_CHOICES, type ExecutionProviderChoice } from '../../model/execution-providers';
import { nonNegativeInt, positiveInt, type Runner } from '../program';
import { defaultNsfwModelPath, ensureNsfwModel } from '../../model-import/ensure-nsfw-model';
import { DEFAULT_NSFWJS_VARIANT, NSFWJS_VARIANTS, type NsfwjsVariant } from '../../model-import/nsfwjs';

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
  model.command('check')
    .description('load a model and its card as the worker would, run one dummy batch, print I/O, sha256, card, thresholds and provider')
    .argument('<path>', 'the .onnx file (its card is <name>.card.json beside it)')
    .addOption(new Option('--provider <ep>', 'execution provider').choices([...EXECUTION_PROVIDER_CHOICES]).default('cpu'))
    .option('--batch <n>', 'images in the dummy batch', positiveInt, 2)
    .option('--json', 'print the report as JSON')
    .action(run((path: string, opts: CheckOptions) => checkModel(path, opts, ctx)));
}
