import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig, type RevmodConfig } from '../../config';
import { calibrate, calibrateBlock, calibrateCategories, estimatePolicy, type CalibrationTarget } from '../../eval/calibrate';
import { buildEvalReport } from '../../eval/eval-report';
import { datasetManifest, decisionLogItems, labelledFolder, shadowItems, type EvalInput } from '../../eval/eval-sources';
import { evaluateScores } from '../../eval/model-metrics';
import { evaluateDetectors, formatDetectorsReport } from '../../eval/detectors-eval';
import { writeCardVersion } from '../../model/card-version';
import { loadModel } from '../../model/load-model';
import { NORMAL_GROUP } from '../../model/model-card';
import { validateThresholds, type CategoryThresholds, type PolicyThresholds } from '../../policy';
import { DecisionLog } from '../../review/decision-log';
import { loadTaxonomy } from '../../review/taxonomy';
import { createS3Client } from '../../storage/s3-object-store';
import { EXIT, UsageError, type CliContext } from '../cli-context';
import { positiveInt, type Runner } from '../program';
import { parseSince } from './review-data-commands';
import { readDecisions, readShadowRecords, registerShadowEval } from './eval-shadow-command';

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
  readonly shadow?: string;
  readonly shadowReviewRate?: number;
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
    .option('--sample-rate <r>', '--decisions/--shadow: the QC sampling rate of passed images in the period (default REVMOD_REVIEW_SAMPLE_RATE)', probability)
    .option('--shadow <name@version>', 'the shadow log (Redis) with the decision log: this challenger\'s scores against the people\'s decisions, for a model that has not decided anything yet')
    .option('--shadow-review-rate <r>', '--shadow: the share of disagreements sent to review in the period (default REVMOD_SHADOW_REVIEW_RATE)', probability);
}

/** The labelled scores the options name (exactly one source). */
async function readSource(o: SourceOptions, config: RevmodConfig): Promise<EvalInput> {
  const given = [o.folder !== undefined, o.manifest !== undefined, o.decisions === true, o.shadow !== undefined].filter(Boolean).length;
  if (given !== 1) throw new UsageError(`give exactly one of --folder, --manifest, --decisions and --shadow, received ${given}`);
  if (o.shadow !== undefined) return shadowSource(o, o.shadow, config);
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

/** A challenger's scores in the shadow log, labelled by the decision log. */
async function shadowSource(o: SourceOptions, challenger: string, config: RevmodConfig): Promise<EvalInput> {
  if (!/^[^@\s]+@[^@\s]+$/.test(challenger)) throw new UsageError(`--shadow must be a challenger as name@version (revmod eval shadow lists them), received ${JSON.stringify(challenger)}`);
  if (config.review.logBucket === undefined) throw new UsageError('--shadow needs REVMOD_DECISION_LOG_BUCKET (the decision log bucket: people\'s decisions are the truth), received nothing');
  const logBucket = config.review.logBucket;
  const sinceMs = parseSince(o.since);
  const records = await readShadowRecords(config, sinceMs, o.until !== undefined ? parseSince(o.until, '--until') : undefined);
  const decisions = await readDecisions({ ...config, review: { ...config.review, logBucket } }, sinceMs);
  return shadowItems(records, decisions, {
    challenger, sampleRate: o.sampleRate ?? config.review.sampleRate, shadowReviewRate: o.shadowReviewRate ?? config.shadow.reviewRate, taxonomy: loadTaxonomy(config.review.taxonomyFile),
  });
}

/** The review threshold to report at: --threshold, else the model card's, else the policy default. */
async function thresholdOf(given: number | undefined, model: string | undefined, config: RevmodConfig): Promise<number> {
  if (given !== undefined) return given;
  if (model !== undefined) return (await loadModel(model)).card.thresholds.violate;
  return config.policy.violateThreshold ?? 0.7;
}

interface CalibrateCliOptions extends SourceOptions {
  readonly targetReviewRate?: number;
  readonly targetPrecision?: number;
  readonly targetBlockPrecision?: number;
  readonly categoryRecall?: number;
  readonly confidence?: number;
  readonly version?: string;
  readonly out?: string;
  readonly replicates: number;
  readonly dryRun?: boolean;
}

/**
 * `eval calibrate`: each threshold asked for is chosen on the same labelled scores; the new
 * thresholds must fit together (validateThresholds) before anything is written, and whatever is
 * chosen or kept is printed, with what the default score rules would do before and after.
 */
async function calibrateCommand(opts: CalibrateCliOptions, ctx: CliContext): Promise<number> {
  if (opts.targetReviewRate !== undefined && opts.targetPrecision !== undefined) {
    throw new UsageError('give at most one of --target-review-rate and --target-precision (both set the violate threshold), received both');
  }
  if ([opts.targetReviewRate, opts.targetPrecision, opts.targetBlockPrecision, opts.categoryRecall, opts.confidence].every((x) => x === undefined)) {
    throw new UsageError('give a target: --target-review-rate or --target-precision (violate), --target-block-precision (block), --category-recall (each category), or --confidence, received none');
  }
  if (opts.model === undefined) throw new UsageError('calibrate needs --model: the model whose card gets a new version, received nothing');
  const config = loadConfig({}, ctx.env);
  const model = await loadModel(opts.model);
  const previous = model.card.thresholds;
  const violationGroups = [...new Set(Object.values(model.card.groups))].filter((g) => g !== NORMAL_GROUP).sort();
  if (opts.categoryRecall !== undefined && violationGroups.length < 2) {
    throw new UsageError(`--category-recall ${opts.categoryRecall}: the card of ${opts.model} has one violation group (${violationGroups.join(', ')}), whose score is the violate score; use --target-review-rate or --target-precision`);
  }
  const input = await readSource(opts, config);
  if (input.items.length === 0) throw new UsageError(`${input.source}: no labelled images to calibrate on (${input.skipped.length} skipped)`);
  const replicates = opts.replicates;
  const target: CalibrationTarget | undefined = opts.targetReviewRate !== undefined ? { kind: 'review-rate', value: opts.targetReviewRate }
    : opts.targetPrecision !== undefined ? { kind: 'precision', value: opts.targetPrecision } : undefined;
  const cal = target ? calibrate(input.items, { target, replicates }) : null;
  const block = opts.targetBlockPrecision !== undefined ? calibrateBlock(input.items, { precision: opts.targetBlockPrecision, replicates }) : null;
  const categories = opts.categoryRecall !== undefined ? calibrateCategories(input.items, { recall: opts.categoryRecall, groups: model.card.groups, replicates }) : null;

  const violate = cal?.threshold ?? previous.violate;
  const chosenCategories = categories?.byGroup.filter((c) => c.chosen) ?? [];
  const mergedCategories: Record<string, CategoryThresholds> = { ...previous.categories };
  for (const c of chosenCategories) mergedCategories[c.group] = { ...mergedCategories[c.group], review: c.threshold };
  // Only the fields chosen here are written; the rest stay as the card has them.
  const changed: Partial<PolicyThresholds> = {
    ...(cal?.threshold != null ? { violate: cal.threshold } : {}),
    ...(block?.threshold != null ? { block: block.threshold } : {}),
    ...(chosenCategories.length > 0 ? { categories: mergedCategories } : {}),
    // Set, not chosen: the low-confidence rule overlaps the violate rule on a two-class card.
    ...(opts.confidence !== undefined ? { confidence: opts.confidence } : {}),
  };
  const next: PolicyThresholds = { ...previous, ...changed };
  const summary = {
    source: input.source, models: input.models, skipped: input.skipped.length,
    previous: { version: model.card.version, violate: previous.violate, block: previous.block, categories: previous.categories ?? {} },
    calibration: cal, block, categories, thresholds: changed,
  };
  const refuse = (why: string): number => {
    ctx.out(JSON.stringify(summary));
    ctx.err(`revmod: ${why}; the card is unchanged`);
    return EXIT.failure;
  };
  if (cal && cal.threshold === null) return refuse(`no threshold meets ${target!.kind} ${target!.value} on these ${cal.images} images`);
  if (block && block.threshold === null) return refuse(`--target-block-precision ${block.targetPrecision}: no block threshold reaches that precision on these ${input.items.length} images`);
  if (block?.threshold != null && block.threshold < violate) {
    return refuse(`--target-block-precision ${block.targetPrecision}: the lowest block threshold that reaches it, ${block.threshold}, is below the violate threshold ${violate} `
      + `(${cal ? 'chosen here' : "the card's"}), and a block threshold must not be below the review threshold; ask for a higher block precision`);
  }
  const problems = validateThresholds(next);
  if (problems.length > 0) return refuse(`the new thresholds do not fit together: ${problems.join('; ')}`);
  for (const c of categories?.byGroup ?? []) {
    if (!c.chosen) ctx.err(`revmod: --category-recall: ${c.group} keeps ${previous.categories?.[c.group]?.review ?? `no review threshold of its own (violate ${violate} covers it)`}: ${c.why}`);
  }
  const policy = {
    rules: 'the default policy\'s score rules (block_threshold, category_block, violate_score, category_score, low_confidence); signal rules are not counted',
    previous: estimatePolicy(input.items, previous, violationGroups, { replicates }),
    next: estimatePolicy(input.items, next, violationGroups, { replicates }),
  };
  const flagged = policy.next.estimate.flaggedRate;
  if (target?.kind === 'review-rate' && flagged > target.value) {
    // The target is met by the violate rule alone; the card's other thresholds add to it.
    ctx.err(`revmod: note: with the new card the default score rules flag ${flagged} of these images (review ${policy.next.estimate.reviewRate}, block ${policy.next.estimate.blockRate}), `
      + `above --target-review-rate ${target.value}: low confidence (confidence ${next.confidence}) and category thresholds flag images below violate; `
      + `--confidence C sets the confidence threshold of the new card (0.5 turns the low-confidence rule off for a two-class card)`);
  }
  if (opts.dryRun) {
    ctx.out(JSON.stringify({ ...summary, policy }));
    return EXIT.ok;
  }
  const version = opts.version ?? `${model.card.version}-cal.${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
  const outDir = opts.out ?? join(dirname(opts.model), `${model.card.name}-${version}`);
  const written = await writeCardVersion({
    modelPath: opts.model, version, outDir, thresholds: changed,
    metadata: {
      calibration: {
        ...cal, ...(block ? { block } : {}), ...(categories ? { categories } : {}), policy: policy.next,
        source: input.source, sourceModels: input.models, calibratedAt: new Date().toISOString(), fromModel: basename(opts.model),
      },
    },
  });
  ctx.out(JSON.stringify({ ...summary, policy, written: { model: written.modelPath, card: written.cardPath, version } }));
  return EXIT.ok;
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
    .description('choose thresholds from labelled scores (decisions weighted by sampling rate), with bootstrap intervals: violate for a target review rate or precision, block for a target precision, each category\'s review threshold for a target recall; writes a NEW card version'))
    .option('--target-review-rate <r>', 'violate threshold: share of images people should see', probability)
    .option('--target-precision <p>', 'violate threshold: share of flagged images that should be violations', probability)
    .option('--target-block-precision <p>', 'block threshold (blocked with no person): share of blocked images that should be violations; refused when none reaches it or it falls below violate', probability)
    .option('--category-recall <r>', 'each violation group\'s review threshold: share of that category\'s violations at or above it (cards with several groups; a group with under 5 effective labelled violations keeps its threshold)', probability)
    .option('--confidence <c>', 'set (not choose) the confidence threshold of the new card: images whose top group scores below it are reviewed; the policy estimate counts it', probability)
    .option('--version <v>', 'version of the new card (default <current>-cal.<yyyymmdd>)')
    .option('--out <dir>', 'folder for the new version\'s model.onnx and model.card.json (default <model dir>/<name>-<version>)')
    .addOption(new Option('--replicates <n>', 'bootstrap replicates').default(300).argParser((v) => {
      if (!/^\d+$/.test(v) || Number(v) < 10) throw new InvalidArgumentError(`must be an integer of at least 10, received ${JSON.stringify(v)}`);
      return Number(v);
    }))
    .option('--dry-run', 'print the choice, write nothing')
    .action(run(async (opts: CalibrateCliOptions) => calibrateCommand(opts, ctx)));

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
