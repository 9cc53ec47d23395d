/**
 * `revmod eval shadow`: how a challenger scored in shadow compares with the champion that decided,
 * on decisions and top groups, and, where people decided, which of the two was right.
 */
import type { Decision } from '@revmod/client';
import type { ReviewedTruth } from './decision-truth';
import type { ShadowRecord } from '../shadow/shadow-log';

const DECISIONS: readonly Decision[] = ['pass', 'review', 'block'];

export interface ShadowAccuracy {
  readonly images: number;
  /** Images where the model's decision matched the person's: pass for a pass, review or block for a violation. */
  readonly championCorrect: number;
  readonly challengerCorrect: number;
  readonly championAccuracy: number | null;
  readonly challengerAccuracy: number | null;
}

export interface ShadowPairReport {
  /** name@version of each. */
  readonly champion: string;
  readonly challenger: string;
  readonly images: number;
  readonly from: string;
  readonly to: string;
  /** Share of images with the same decision, the same top group, and both. */
  readonly agreement: { readonly decision: number; readonly label: number; readonly both: number };
  /** images[champion decision][challenger decision]. */
  readonly decisions: Readonly<Record<Decision, Readonly<Record<Decision, number>>>>;
  /** Share of images each would send to people (review or block). */
  readonly reviewRate: { readonly champion: number; readonly challenger: number };
  /** How the challenger's tensors were built: copy (the champion's reused), renormalize, decode. */
  readonly builds: Readonly<Record<string, number>>;
  /** Disagreements sent to review. */
  readonly sampled: number;
  /** Where people decided: on every image, and on those where the decisions differed. */
  readonly reviewed: { readonly all: ShadowAccuracy; readonly disagreements: ShadowAccuracy } | null;
}

export interface ShadowReport {
  readonly records: number;
  readonly pairs: readonly ShadowPairReport[];
  /** Whether people's decisions were read (a decision log is configured). */
  readonly withDecisions: boolean;
}

const rate = (n: number, of: number): number => (of === 0 ? 0 : Math.round((n / of) * 1e6) / 1e6);

function accuracy(rows: ReadonlyArray<{ r: ShadowRecord; t: ReviewedTruth }>): ShadowAccuracy {
  const right = (d: Decision, t: ReviewedTruth) => (d !== 'pass') === t.violation;
  const championCorrect = rows.filter(({ r, t }) => right(r.champion.decision, t)).length;
  const challengerCorrect = rows.filter(({ r, t }) => right(r.challenger.decision, t)).length;
  return {
    images: rows.length, championCorrect, challengerCorrect,
    championAccuracy: rows.length === 0 ? null : rate(championCorrect, rows.length),
    challengerAccuracy: rows.length === 0 ? null : rate(challengerCorrect, rows.length),
  };
}

/**
 * Sums the shadow records per (champion, challenger) pair. A job compared twice (a retried job)
 * counts once, its last comparison.
 */
export function shadowReport(records: readonly ShadowRecord[], truth?: ReadonlyMap<string, ReviewedTruth>): ShadowReport {
  const lastPerJob = new Map<string, ShadowRecord>();
  for (const r of records) lastPerJob.set(`${r.champion.model}\0${r.challenger.model}\0${r.jobId}`, r);
  const byPair = new Map<string, ShadowRecord[]>();
  for (const r of lastPerJob.values()) {
    const k = `${r.champion.model}\0${r.challenger.model}`;
    let list = byPair.get(k);
    if (!list) byPair.set(k, (list = []));
    list.push(r);
  }
  const pairs = [...byPair.values()].map((rs): ShadowPairReport => {
    const n = rs.length;
    const decisions = Object.fromEntries(DECISIONS.map((a) => [a, Object.fromEntries(DECISIONS.map((b) => [b, 0]))])) as Record<Decision, Record<Decision, number>>;
    const builds: Record<string, number> = {};
    let sameDecision = 0;
    let sameLabel = 0;
    let both = 0;
    for (const r of rs) {
      decisions[r.champion.decision][r.challenger.decision] += 1;
      builds[r.build] = (builds[r.build] ?? 0) + 1;
      const d = r.champion.decision === r.challenger.decision;
      const l = r.champion.label === r.challenger.label;
      if (d) sameDecision += 1;
      if (l) sameLabel += 1;
      if (d && l) both += 1;
    }
    const times = rs.map((r) => r.at).sort();
    const reviewedRows = truth ? rs.flatMap((r) => { const t = truth.get(r.jobId); return t ? [{ r, t }] : []; }) : [];
    return {
      champion: rs[0]!.champion.model, challenger: rs[0]!.challenger.model, images: n, from: times[0]!, to: times[times.length - 1]!,
      agreement: { decision: rate(sameDecision, n), label: rate(sameLabel, n), both: rate(both, n) },
      decisions,
      reviewRate: { champion: rate(rs.filter((r) => r.champion.decision !== 'pass').length, n), challenger: rate(rs.filter((r) => r.challenger.decision !== 'pass').length, n) },
      builds, sampled: rs.filter((r) => r.sampled).length,
      reviewed: truth ? { all: accuracy(reviewedRows), disagreements: accuracy(reviewedRows.filter(({ r }) => r.champion.decision !== r.challenger.decision)) } : null,
    };
  });
  pairs.sort((a, b) => a.from.localeCompare(b.from));
  return { records: records.length, pairs, withDecisions: truth !== undefined };
}

/** The report as a few lines for a terminal. */
export function formatShadowReport(report: ShadowReport): string {
  if (report.pairs.length === 0) return 'no shadow comparisons in this period (is a challenger alias set, and REVMOD_SHADOW_SHARE > 0?)';
  const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)} %`);
  const lines: string[] = [];
  for (const p of report.pairs) {
    lines.push(`${p.challenger} in shadow of ${p.champion}: ${p.images} images, ${p.from} … ${p.to}`);
    lines.push(`  agreement: decision ${pct(p.agreement.decision)}, top group ${pct(p.agreement.label)}, both ${pct(p.agreement.both)}`);
    lines.push(`  review rate: champion ${pct(p.reviewRate.champion)}, challenger ${pct(p.reviewRate.challenger)}`);
    lines.push(`  decisions (rows champion, columns challenger: ${DECISIONS.join(' / ')}):`);
    for (const a of DECISIONS) lines.push(`    ${a.padEnd(6)} ${DECISIONS.map((b) => String(p.decisions[a][b]).padStart(6)).join(' ')}`);
    lines.push(`  tensors: ${Object.entries(p.builds).map(([k, v]) => `${k} ${v}`).join(', ')}; disagreements sent to review: ${p.sampled}`);
    if (p.reviewed) {
      const { all, disagreements: d } = p.reviewed;
      lines.push(`  decided by people: ${all.images} images, champion right ${pct(all.championAccuracy)}, challenger right ${pct(all.challengerAccuracy)}`);
      lines.push(`    where they disagreed: ${d.images} images, champion right ${d.championCorrect}, challenger right ${d.challengerCorrect}`);
    }
  }
  if (!report.withDecisions) lines.push('(no decision log configured: REVMOD_DECISION_LOG_BUCKET; accuracy not shown)');
  return lines.join('\n');
}
