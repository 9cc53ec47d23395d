/**
 * `revmod` commands for a checkout of the repository, not shipped: the local demo and the model
 * generators (they need s3rver and the test-only graph generators).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { CliContext, CliExtension, Runner } from '../../src/cli';
import { EXIT, nonNegativeInt, positiveInt } from '../../src/cli';
import { sha256File } from '../../src/util/hash';
import { createLogger } from '../../src/util/logger';
import { DEFAULT_DEMO_OPTIONS, DEMO_MODELS, runDemo, type DemoModel } from '../demo/run-demo';
import { ensureModel, modelParamCount, type ModelKind } from '../model-gen/ensure-model';

const MODEL_KINDS: readonly ModelKind[] = ['resnet18', 'probe'];

export const devCommands: CliExtension = (program: Command, ctx: CliContext, run: Runner) => {
  program.command('demo')
    .description('the whole job on embedded defaults: a local Redis and S3 server, the sample photos, one worker; prints each verdict')
    .option('--images <dir>', 'folder of photos', DEFAULT_DEMO_OPTIONS.imagesDir)
    .option('--copies <n>', 'upload each photo N times', positiveInt, DEFAULT_DEMO_OPTIONS.copies)
    .addOption(new Option('--model <kind>', 'model when REVMOD_MODEL_PATH is unset: nsfwjs (the bundled trained one), or a generated untrained one').choices(DEMO_MODELS).default(DEFAULT_DEMO_OPTIONS.model))
    .option('--review', 'then open the review console on the review items until Ctrl-C, and write a dataset of the decisions')
    .option('--review-port <port>', 'review console port', nonNegativeInt, 3001)
    .option('--dataset <dir>', 'where --review writes the dataset', 'demo-dataset')
    .option('--challenger <model.onnx>', 'also score the photos in shadow with this model (its card beside it), served by registry alias beside the champion, and print how the two compare')
    .action(run(async (opts: { images: string; copies: number; model: DemoModel; review?: boolean; reviewPort: number; dataset: string; challenger?: string }) => {
      await runDemo({
        imagesDir: resolve(opts.images), copies: opts.copies, model: opts.model,
        ...(opts.challenger !== undefined ? { challenger: resolve(opts.challenger) } : {}),
        logger: createLogger(ctx.env.LOG_LEVEL ?? 'warn'), print: ctx.out,
        ...(opts.review ? { review: { port: opts.reviewPort, exportDir: opts.dataset } } : {}),
      });
      return EXIT.ok;
    }));

  const model = program.commands.find((c) => c.name() === 'model');
  if (!model) throw new Error('the shipped `model` command is missing');
  model.command('make')
    .description('write a generated model and its card (test and benchmark use only: the weights are untrained)')
    .addOption(new Option('--kind <kind>', 'generated model').choices(MODEL_KINDS).default('resnet18'))
    .option('--seed <n>', 'weight seed (resnet18)', nonNegativeInt, 0)
    .option('--out <path>', 'where to write the .onnx (card beside it)')
    .option('--force', 'rewrite an existing file')
    .action(run(async (opts: { kind: ModelKind; seed: number; out?: string; force?: boolean }) => {
      const started = performance.now();
      const result = await ensureModel({ kind: opts.kind, seed: opts.seed, force: opts.force ?? false, ...(opts.out === undefined ? {} : { path: opts.out }) });
      const { size } = await stat(result.modelPath);
      ctx.out(`model:      ${result.modelPath}${result.created ? ` (written in ${Math.round(performance.now() - started)} ms)` : ' (already there; --force to rewrite)'}`);
      ctx.out(`card:       ${result.cardPath}`);
      ctx.out(`bytes:      ${size}`);
      ctx.out(`sha256:     ${await sha256File(result.modelPath)}`);
      ctx.out(`parameters: ${modelParamCount(opts.kind).toLocaleString('en-US')}`);
      return EXIT.ok;
    }));
};
