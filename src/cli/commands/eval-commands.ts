import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig, type RevmodConfig } from '../../config';
import { calibrate, type CalibrationTarget } from '../../eval/calibrate';
import { buildEvalReport } from '../../eval/eval-report';
import { datasetManifest, decisionLogItems, labelledFolder, type EvalInput } from '../../eval/eval-sources';
import { evaluateScores } from '../../eval/model-metrics';
import { evaluateDetectors, formatDetectorsReport } from '../../eval/detectors-eval';
import { writeCardVersion } from '../../model/card-version';
import { loadModel } from '../../model/load-model';
import { DecisionLog } from '../../review/decision-log';
import { loadTaxonomy } from '../../review/taxonomy';
import { createS3Client } from '../../storage/s3-object-store';
import { EXIT, UsageError, type CliContext } from '../cli-context';
import { positiveInt, type Runner } from '../program';
import { parseSince } from './review-data-commands';
import { registerShadowEval } from './eval-shadow-command';

/** commander parser for a probability in [0, 1]. */
function probability(value: string): number {
  const x = Number(value);
  if (value.trim() === '' || !(x >= 0 && x <= 1)) throw new InvalidArgumentError(`must be a number within [0, 1], received ${JSON.stringify(value)}`);
  return x;
}

interface SourceOptions {
  readonly folder?: string;
  readonly manifest?: string;
  readonly decisions?: boolean;
  readonly model?: string;
  readonly modelVersion?: string;
  readonly since: string;
  readonly until?: string;
  readonly sampleRate?: number;
}

function addSourceOptions(c: Command): Command {
  return c
    .option('--folder <dir>', 'a labelled folder (normal/ and violate/ or one folder per category), scored now by --model')
    .option('--manifest <path>', 'a `revmod dataset export` folder or its manifest.jsonl, scored now by --model')
    .option('--decisions', 'the decision log (REVMOD_DECISION_LOG_BUCKET): the verdicts\' scores against the people\'s decisions')
    .option('--model <path>', 'the .onnx (card beside it) that scores --folder/--manifest; its card gives the default threshold')
    .option('--model-version <name@version>', '--decisions: only verdicts of this model version')
    .option('--since <when>', '--decisions: since an ISO date or an age (24h, 7d)', '30d')
    .option('--until <when>', '--decisions: before an ISO date or an age')
    .option('--sample-rate <r>', '--decisions: the QC sampling rate of passed images in the period (default REVMOD_REVIEW_SAMPLE_RATE)', probability);
}

/** The labelled scores the options name (exactly one source). */
async function readSource(o: SourceOptions, config: RevmodConfig): Promise<EvalInput> {
  const given = [o.folder !== undefined, o.manifest !== undefined, o.decisions === true].filter(Boolean).length;
  if (given !== 1) throw new UsageError(`give exactly one of --folder, --manifest and --decisions, received ${given}`);
  if (o.decisions) {
    if (config.review.logBucket === undefined) throw new UsageError('--decisions needs REVMOD_DECISION_LOG_BUCKET (the decision log bucket), received nothing');
    const s3 = createS3Client(config.s3);
    try {
      return await decisionLogItems({
        log: new DecisionLog({ s3, bucket: config.review.logBucket, prefix: config.review.logPrefix }),
        sinceMs: parseSince(o.since), ...(o.until !== undefined ? { untilMs: parseSince(o.until, '--until') } : {}),
        sampleRate: o.sampleRate ?? config.review.sampleRate, taxonomy: loadTaxonomy(config.review.taxonomyFile),
        ...(o.modelVersion !== undefined ? { model: o.modelVersion } : {}),
      });
    } finally {
      s3.destroy();
    }
  }
  if (o.model === undefined) throw new UsageError(`${o.folder !== undefined ? '--folder' : '--manifest'} needs --model (the .onnx that scores it), received nothing`);
  const scoring = {
    modelPath: o.model, executionProvider: 'cpu' as const, intraOpThreads: config.model.intraOpThreads, batchSize: 16,
    decode: { maxPixels: config.limits.maxPixels, allowSvg: config.limits.allowSvg, mode: config.model.preprocessMode },
  };
  return o.folder !== undefined ? labelledFolder(o.folder, scoring) : datasetManifest(o.manifest!, scoring);
}

/** The review threshold to report at: --threshold, else the model card's, else the policy default. */
async function thresholdOf(given: number | undefined, model: string | undefined, config: RevmodConfig): Promise<number> {
  if (given !== undefined) return given;
  if (model !== undefined) return (await loadModel(model)).card.thresholds.violate;
  return config.policy.violateThreshold ?? 0.7;
}

export function registerEvalCommands(program: Command, ctx: CliContext, run: Runner): void {
  const evalCmd = addSourceOptions(program.command('eval')
    .description('evaluate a model: precision, recall and F1 per group and category, confusion matrix, threshold sweep; report.html (SVG charts) and report.json'))
    .option('--threshold <t>', 'violate threshold to report at (default: the card\'s, else REVMOD_VIOLATE_THRESHOLD or 0.7)', probability)
    .option('--out <dir>', 'where report.html and report.json go', 'eval-report')
    // Options after `calibrate` belong to it (both commands take the source options).
    .enablePositionalOptions()
    .action(run(async (opts: SourceOptions & { threshold?: number; out: string }) => {
      const config = loadConfig({}, ctx.env);
      const input = await readSource(opts, config);
      if (input.items.length === 0) throw new UsageError(`${input.source}: no labelled images to evaluate (${input.skipped.length} skipped)`);
      const threshold = await thresholdOf(opts.threshold, opts.model, config);
      const evaluation = evaluateScores(input.items, threshold);
      const { json, html } = await buildEvalReport(input, evaluation, threshold);
      await mkdir(opts.out, { recursive: true });
      await writeFile(join(opts.out, 'report.json'), `${JSON.stringify(json, null, 2)}\n`);
      await writeFile(join(opts.out, 'report.html'), html);
      const a = evaluation.atThreshold;
      ctx.out(JSON.stringify({
        report: resolve(opts.out, 'report.html'), images: evaluation.images, skipped: input.skipped.length, threshold,
        reviewRate: a.reviewRate, missedRate: a.missedRate, precision: a.precision, recall: a.recall, f1: a.f1,
      }));
      return EXIT.ok;
    }));

  addSourceOptions(evalCmd.command('calibrate')
    .description('choose the violate threshold for a target review rate or precision from labelled scores (decisions weighted by sampling rate), with bootstrap intervals; writes a NEW card version'))
    .option('--target-review-rate <r>', 'share of images people should see', probability)
    .option('--target-precision <p>', 'share of flagged images that should be violations', probability)
    .option('--version <v>', 'version of the new card (default <current>-cal.<yyyymmdd>)')
    .option('--out <dir>', 'folder for the new version\'s model.onnx and model.card.json (default <model dir>/<name>-<version>)')
    .addOption(new Option('--replicates <n>', 'bootstrap replicates').default(300).argParser((v) => {
      if (!/^\d+$/.test(v) || Number(v) < 10) throw new InvalidArgumentError(`must be an integer of at least 10, received ${JSON.stringify(v)}`);
      return Number(v);
    }))
    .option('--dry-run', 'print the choice, write nothing')
    .action(run(async (opts: SourceOptions & { targetReviewRate?: number; targetPrecision?: number; version?: string; out?: string; replicates: number; dryRun?: boolean }) => {
      if ((opts.targetReviewRate === undefined) === (opts.targetPrecision === undefined)) {
        throw new UsageError('give exactly one of --target-review-rate and --target-precision');
      }
      if (opts.model === undefined) throw new UsageError('calibrate needs --model: the model whose card gets a new version, received nothing');
      const config = loadConfig({}, ctx.env);
      const model = await loadModel(opts.model);
      const input = await readSource(opts, config);
      if (input.items.length === 0) throw new UsageError(`${input.source}: no labelled images to calibrate on (${input.skipped.length} skipped)`);
      const target: CalibrationTarget = opts.targetReviewRate !== undefined ? { kind: 'review-rate', value: opts.targetReviewRate } : { kind: 'precision', value: opts.targetPrecision! };
      const cal = calibrate(input.items, { target, replicates: opts.replicates });
      const summary = { source: input.source, models: input.models, skipped: input.skipped.length, previous: { version: model.card.version, violate: model.card.thresholds.violate }, calibration: cal };
      if (cal.threshold === null) {
        ctx.out(JSON.stringify(summary));
        ctx.err(`revmod: no threshold meets ${target.kind} ${target.value} on these ${cal.images} images; the card is unchanged`);
        return EXIT.failure;
      }
      if (opts.dryRun) {
        ctx.out(JSON.stringify(summary));
        return EXIT.ok;
      }
      const version = opts.version ?? `${model.card.version}-cal.${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
      const outDir = opts.out ?? join(dirname(opts.model), `${model.card.name}-${version}`);
      const written = await writeCardVersion({
        modelPath: opts.model, version, outDir, thresholds: { violate: cal.threshold },
        metadata: { calibration: { ...cal, source: input.source, sourceModels: input.models, calibratedAt: new Date().toISOString(), fromModel: basename(opts.model) } },
      });
      ctx.out(JSON.stringify({ ...summary, written: { model: written.modelPath, card: written.cardPath, version } }));
      return EXIT.ok;
    }));

  registerShadowEval(evalCmd, ctx, run);

  evalCmd.command('detectors')
    .description('precision and recall of blur, QR, the text gate and the OCR rules on a labelled set (labels.jsonl + images; `npm run detector-set` makes one)')
    .argument('<dir>', 'the labelled set')
    .option('--ocr-threads <n>', 'OCR threads', positiveInt, 1)
    .option('--json', 'the report as JSON')
    .action(run(async (dir: string, opts: { ocrThreads: number; json?: boolean }) => {
      const setDir = resolve(dir);
      if (!existsSync(join(setDir, 'labels.jsonl'))) throw new UsageError(`eval detectors: no labels.jsonl in ${JSON.stringify(setDir)} (make a set with \`npm run detector-set -- --out ${dir}\`)`);
      const started = Date.now();
      const report = await evaluateDetectors({
        setDir, ocrThreads: opts.ocrThreads,
        onImage: (done, total) => { if (done % 50 === 0 || done === total) ctx.err(`  ${done}/${total} images`); },
      });
      ctx.out(opts.json ? JSON.stringify(report) : formatDetectorsReport(report));
      ctx.err(`${setDir}: ${((Date.now() - started) / 1000).toFixed(1)} s, ${opts.ocrThreads} OCR thread(s)`);
      return EXIT.ok;
    }));
}
