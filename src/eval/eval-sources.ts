/**
 * Where `revmod eval` gets its labelled scores: a labelled folder or a dataset export scored now by
 * a model (as a worker would), or the decision log, whose verdicts carry the scores of the model
 * that decided and whose decisions are the truth.
 */
import { isQcSample } from '../review/sampling';
import type { ShadowRecord } from '../shadow/shadow-log';
import { categoriesOf, decisionTruth, truthByJob } from './decision-truth';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReviewDecision } from '@revmod/client';
import { NORMAL_GROUP } from '../model/model-card';
import { scoreImages, type ScoreImagesOptions } from '../model/score-images';
import type { DecisionLog } from '../review/decision-log';
import { latestPerJob } from '../review/decision-log';
import type { Reason } from '../review/taxonomy';
import { listImageFiles } from '../util/files';
import type { LabelledScore } from './model-metrics';

/** Labelled scores, and what could not be used (with why). */
export interface EvalInput {
  readonly source: string;
  readonly items: readonly LabelledScore[];
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly why: string }>;
  /** The model(s) whose scores these are: name@version → images. */
  readonly models: Readonly<Record<string, number>>;
}

/** Scores labelled files with the model and pairs each with its label. */
async function scoreLabelled(source: string, files: ReadonlyArray<{ file: string; label: string }>, o: ScoreImagesOptions): Promise<EvalInput> {
  const report = await scoreImages(files.map((f) => f.file), o);
  const items: LabelledScore[] = [];
  const skipped: Array<{ id: string; why: string }> = [];
  report.images.forEach((img, i) => {
    const label = files[i]!.label;
    if (img.ok) items.push({ id: img.file, truth: label, violate: img.scores.violate, groups: img.scores.groups, weight: 1 });
    else skipped.push({ id: img.file, why: `${img.code}: ${img.message}` });
  });
  return { source, items, skipped, models: { [`${report.model.name}@${report.model.version}`]: items.length } };
}

/** An ImageFolder: one folder per class (normal/ and violate/ or one per category). */
export async function labelledFolder(dir: string, o: ScoreImagesOptions): Promise<EvalInput> {
  const files: Array<{ file: string; label: string }> = [];
  const classes = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  for (const c of classes) files.push(...(await listImageFiles(join(dir, c))).map((file) => ({ file, label: c })));
  if (!classes.includes(NORMAL_GROUP)) throw new Error(`labelled folder ${dir}: no '${NORMAL_GROUP}' folder (found ${JSON.stringify(classes)})`);
  if (files.length === 0) throw new Error(`labelled folder ${dir}: no image files in its class folders`);
  return scoreLabelled(`folder ${dir}`, files, o);
}

/** A `revmod dataset export` folder (or its manifest.jsonl): the manifest names files and classes. */
export async function datasetManifest(path: string, o: ScoreImagesOptions): Promise<EvalInput> {
  const dir = (await stat(path)).isDirectory() ? path : join(path, '..');
  const file = (await stat(path)).isDirectory() ? join(path, 'manifest.jsonl') : path;
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  const files = lines.map((l, n) => {
    let entry: { file?: unknown; class?: unknown };
    try {
      entry = JSON.parse(l) as typeof entry;
    } catch {
      throw new Error(`${file}:${n + 1}: not JSON`);
    }
    if (typeof entry.file !== 'string' || typeof entry.class !== 'string') throw new Error(`${file}:${n + 1}: needs file and class`);
    return { file: join(dir, entry.file), label: entry.class };
  });
  if (files.length === 0) throw new Error(`${file}: no entries`);
  return scoreLabelled(`manifest ${file}`, files, o);
}

export interface DecisionSourceOptions {
  readonly log: DecisionLog;
  readonly sinceMs?: number;
  readonly untilMs?: number;
  /**
   * The QC sampling rate of auto-passed images in the period (REVMOD_REVIEW_SAMPLE_RATE): each
   * decision on a passed verdict stands for 1 / rate images. 0: passed images are not used.
   */
  readonly sampleRate: number;
  readonly taxonomy: readonly Reason[];
  /** Only verdicts of this model version (name@version); default all. */
  readonly model?: string;
}

/** The latest decision per job: what the person said is the truth, the verdict's scores are the model's. */
export function decisionItems(decisions: readonly ReviewDecision[], o: Omit<DecisionSourceOptions, 'log' | 'sinceMs' | 'untilMs'>): EvalInput {
  const perJob = latestPerJob(decisions);
  const categories = categoriesOf(o.taxonomy);
  const items: LabelledScore[] = [];
  const skipped: Array<{ id: string; why: string }> = [];
  const models: Record<string, number> = {};
  for (const d of [...perJob.values()].sort((a, b) => a.jobId.localeCompare(b.jobId))) {
    const v = d.verdict;
    const model = `${v.model.name}@${v.model.version}`;
    if (o.model !== undefined && model !== o.model) continue;
    if (v.error || typeof v.violate !== 'number' || !v.groups) {
      skipped.push({ id: d.jobId, why: v.error ? `error verdict ${v.error.code}` : 'verdict without scores' });
      continue;
    }
    // Selective labels: a person saw every review/block verdict, but only a sample of the passes.
    const sampled = v.decision === 'pass';
    if (sampled && !(o.sampleRate > 0)) {
      skipped.push({ id: d.jobId, why: 'decision on a passed verdict, and no sampling rate given to weigh it' });
      continue;
    }
    // The QC sample is a stable hash of the id: a pass outside it reached people otherwise (a shadow
    // disagreement, an appeal), not at random, and would bias the weighted estimates.
    if (sampled && !isQcSample(v, o.sampleRate)) {
      skipped.push({ id: d.jobId, why: `decision on a passed verdict outside the QC sample at rate ${o.sampleRate} (a shadow disagreement or an appeal: not a random sample)` });
      continue;
    }
    const truth = decisionTruth(d, categories).category;
    items.push({ id: d.jobId, truth, violate: v.violate, groups: v.groups, weight: sampled ? 1 / Math.min(1, o.sampleRate) : 1 });
    models[model] = (models[model] ?? 0) + 1;
  }
  return { source: 'decision log', items, skipped, models };
}

/** Reads the decision log for the period and labels the verdicts with the people's decisions. */
export async function decisionLogItems(o: DecisionSourceOptions): Promise<EvalInput> {
  const input = decisionItems(await o.log.decisions(o.sinceMs, o.untilMs), o);
  return { ...input, source: `decision log s3://${o.log.bucket}/${o.log.prefix}` };
}

export interface ShadowSourceOptions {
  /** The challenger whose scores are wanted, name@version. */
  readonly challenger: string;
  /** The QC sampling rate of passed images in the period (REVMOD_REVIEW_SAMPLE_RATE). */
  readonly sampleRate: number;
  /** The share of disagreements sent to review in the period (REVMOD_SHADOW_REVIEW_RATE). */
  readonly shadowReviewRate: number;
  readonly taxonomy: readonly Reason[];
}

/**
 * A challenger's scores from the shadow log against people's decisions: how a model that decided
 * nothing yet would have done, for calibrating it before it is promoted. Each decision is weighed
 * by the inverse of the chance its image reached people: 1 when the champion sent it; for a pass,
 * the QC rate, or for a pass the challenger would have stopped, the QC sample or the shadow sample
 * (1 − (1 − q)(1 − s)). Passes that reached people otherwise (appeals) are left out.
 */
export function shadowItems(records: readonly ShadowRecord[], decisions: readonly ReviewDecision[], o: ShadowSourceOptions): EvalInput {
  const truth = truthByJob(decisions, o.taxonomy);
  const latest = new Map<string, ShadowRecord>();
  for (const r of records) if (r.challenger.model === o.challenger) latest.set(r.jobId, r);
  const items: LabelledScore[] = [];
  const skipped: Array<{ id: string; why: string }> = [];
  const q = Math.min(1, o.sampleRate);
  const s = Math.min(1, o.shadowReviewRate);
  for (const r of [...latest.values()].sort((a, b) => a.jobId.localeCompare(b.jobId))) {
    const t = truth.get(r.jobId);
    if (!t) continue;
    let chance = 1;
    if (r.champion.decision === 'pass') {
      const inQc = isQcSample({ id: r.jobId, decision: 'pass' }, q);
      if (!inQc && !r.sampled) {
        skipped.push({ id: r.jobId, why: 'decision on a passed verdict that was neither a QC nor a shadow sample (an appeal: not a random sample)' });
        continue;
      }
      chance = r.challenger.decision !== 'pass' && s > 0 ? 1 - (1 - q) * (1 - s) : q;
    }
    if (!(chance > 0)) {
      skipped.push({ id: r.jobId, why: 'decision on a passed verdict, and no sampling rate given to weigh it' });
      continue;
    }
    items.push({ id: r.jobId, truth: t.category, violate: r.challenger.violate, groups: r.challenger.groups, weight: 1 / chance });
  }
  return { source: `shadow log (${o.challenger})`, items, skipped, models: items.length > 0 ? { [o.challenger]: items.length } : {} };
}
