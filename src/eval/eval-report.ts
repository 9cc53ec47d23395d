import type { EvalInput } from './eval-sources';
import type { ModelEvaluation } from './model-metrics';
import { renderSvgCharts } from './render-charts';

/** What `revmod eval` writes as report.json: the evaluation and where its numbers came from. */
export interface EvalReportJson {
  readonly source: string;
  readonly generatedAt: string;
  /** name@version → images scored by it. */
  readonly models: Readonly<Record<string, number>>;
  readonly threshold: number;
  readonly skipped: EvalInput['skipped'];
  readonly evaluation: ModelEvaluation;
}

const WIDTH = 420;
const HEIGHT = 300;

/** The Vega-Lite specs of the report's charts, data inline. */
export function reportChartSpecs(e: ModelEvaluation): object[] {
  const sweep = e.sweep.map((p) => ({ ...p }));
  const current = [{ ...e.atThreshold }];
  const lineWithPoint = (x: string, y: string, xTitle: string, yTitle: string, title: string) => ({
    title, width: WIDTH, height: HEIGHT,
    layer: [
      { data: { values: sweep }, mark: { type: 'line', point: { size: 12 } },
        // Drawn in threshold order (a curve), not sorted by x.
        encoding: { x: { field: x, type: 'quantitative', title: xTitle, scale: { domain: [0, 1] } }, y: { field: y, type: 'quantitative', title: yTitle, scale: { domain: [0, 1] } },
          order: { field: 'threshold', type: 'quantitative' } } },
      { data: { values: current }, mark: { type: 'point', size: 120, filled: true, color: '#d62728' },
        encoding: { x: { field: x, type: 'quantitative' }, y: { field: y, type: 'quantitative' } } },
      { data: { values: current }, mark: { type: 'text', dx: 8, dy: -8, align: 'left', color: '#d62728' },
        encoding: { x: { field: x, type: 'quantitative' }, y: { field: y, type: 'quantitative' }, text: { value: `threshold ${e.atThreshold.threshold}` } } },
    ],
  });
  const byThreshold = e.sweep.flatMap((p) => [
    { threshold: p.threshold, rate: p.reviewRate, series: 'review rate' },
    { threshold: p.threshold, rate: p.missedRate, series: 'missed violations' },
    { threshold: p.threshold, rate: p.precision, series: 'precision' },
  ]);
  const cells = e.confusion.labels.flatMap((truth, i) => e.confusion.labels.map((predicted, j) => ({ truth, predicted, count: e.confusion.matrix[i]![j]! })));
  return [
    lineWithPoint('reviewRate', 'missedRate', 'review rate (share of images sent to people)', 'missed violations (share passed unseen)', 'Review rate against missed violations'),
    lineWithPoint('recall', 'precision', 'recall', 'precision', 'Precision against recall'),
    {
      title: 'Rates by violate threshold', width: WIDTH, height: HEIGHT, data: { values: byThreshold }, mark: 'line',
      encoding: {
        x: { field: 'threshold', type: 'quantitative', title: 'violate threshold' }, y: { field: 'rate', type: 'quantitative', title: 'rate', scale: { domain: [0, 1] } },
        color: { field: 'series', type: 'nominal', title: null },
      },
    },
    {
      title: 'Confusion matrix (top group)', width: Math.max(160, 70 * e.confusion.labels.length), height: Math.max(160, 70 * e.confusion.labels.length), data: { values: cells },
      encoding: { x: { field: 'predicted', type: 'nominal', title: 'predicted', sort: e.confusion.labels }, y: { field: 'truth', type: 'nominal', title: 'true', sort: e.confusion.labels } },
      layer: [
        { mark: 'rect', encoding: { color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues' }, legend: null } } },
        { mark: { type: 'text', fontSize: 14 }, encoding: { text: { field: 'count', type: 'quantitative', format: '.4~g' } } },
      ],
    },
  ];
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(3));

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** A self-contained page: inline CSS and SVG, no script, and a policy that forbids loading anything. */
export function reportHtml(report: EvalReportJson, svgs: readonly string[]): string {
  const e = report.evaluation;
  const a = e.atThreshold;
  const perClass = table(['group', 'precision', 'recall', 'F1', 'support'], e.labels.map((g) => {
    const m = e.perClass[g]!;
    return [g, num(m.precision), num(m.recall), num(m.f1), num(m.support)];
  }));
  const perCategory = Object.keys(e.perCategory).length === 0 ? '<p>No violations in this set.</p>'
    : table(['category', `flagged at ${a.threshold} (recall)`, 'support'], Object.entries(e.perCategory).map(([g, m]) => [g, num(m.recall), num(m.support)]));
  const confusion = table(['true \\ predicted', ...e.confusion.labels], e.confusion.labels.map((g, i) => [g, ...e.confusion.matrix[i]!.map(num)]));
  const models = Object.entries(report.models).map(([m, n]) => `${m} (${n})`).join(', ') || 'none';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>revmod eval: ${escapeHtml(report.source)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th:first-child,td:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{border:1px solid #eee;padding:8px;margin:0}
.kpi{display:flex;gap:24px;flex-wrap:wrap}.kpi div{background:#f5f7fa;padding:8px 14px;border-radius:6px}.kpi b{display:block;font-size:18px}
</style></head><body>
<h1>Model evaluation</h1>
<p>Source: ${escapeHtml(report.source)}. Models: ${escapeHtml(models)}. ${e.images} images${e.weightedImages !== e.images ? ` standing for ${num(e.weightedImages)} (weighted by sampling rate)` : ''}; ${report.skipped.length} skipped. Generated ${escapeHtml(report.generatedAt)}.</p>
<div class="kpi">
<div>violate threshold<b>${a.threshold}</b></div><div>review rate<b>${pct(a.reviewRate)}</b></div>
<div>missed violations<b>${pct(a.missedRate)}</b></div><div>precision<b>${num(a.precision)}</b></div><div>recall<b>${num(a.recall)}</b></div><div>F1<b>${num(a.f1)}</b></div>
</div>
<h2>Threshold sweep</h2>
<div class="charts">${svgs.map((s) => `<figure class="chart">${s}</figure>`).join('\n')}</div>
<h2>Per group (prediction: the top group)</h2>${perClass}
<h2>Per category</h2>${perCategory}
<h2>Confusion matrix</h2>${confusion}
<p>The same numbers are in report.json beside this page.</p>
</body></html>
`;
}

/** The report's JSON and its HTML page with the charts rendered to SVG. */
export async function buildEvalReport(input: EvalInput, evaluation: ModelEvaluation, threshold: number): Promise<{ json: EvalReportJson; html: string }> {
  const json: EvalReportJson = {
    source: input.source, generatedAt: new Date().toISOString(), models: input.models, threshold, skipped: input.skipped, evaluation,
  };
  const svgs = await renderSvgCharts(reportChartSpecs(evaluation));
  return { json, html: reportHtml(json, svgs) };
}
