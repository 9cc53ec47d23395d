import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createWorkerMetrics } from '../../src/ops/metrics';
import { registerQueueDepthMetrics } from '../../src/ops/queue-depth-metrics';
import { createReviewMetrics } from '../../src/review/review-metrics';
import type { ReviewStore } from '../../src/review/review-store';

interface Panel { readonly type: string; readonly title: string; readonly targets?: ReadonlyArray<{ readonly expr: string }>; readonly panels?: readonly Panel[] }

/** Every metric name revmod's processes export: the worker's, the ops server's and the console's, with histogram series. */
function exportedNames(): Set<string> {
  const queueRegistry = new Registry();
  registerQueueDepthMetrics({ registry: queueRegistry, queues: [] });
  // The console's registry is only read here, never collected: no store is needed.
  const review = createReviewMetrics({ store: {} as ReviewStore });
  const names = new Set<string>();
  for (const registry of [createWorkerMetrics().registry, queueRegistry, review.registry]) {
    for (const m of registry.getMetricsAsArray()) {
      names.add(m.name);
      if ((m as { constructor: { name: string } }).constructor.name === 'Histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
    }
  }
  return names;
}

const dashboard = JSON.parse(readFileSync(join(__dirname, '../../deploy/grafana-dashboard.json'), 'utf8')) as { panels: Panel[]; title: string };
const panels = (list: readonly Panel[]): Panel[] => list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
// Metric names: what is left of a query without strings, label matchers, ranges, grouping clauses and PromQL's own words.
const PROMQL_WORDS = new Set(['sum', 'rate', 'increase', 'histogram_quantile', 'max', 'min', 'clamp_min', 'avg', 'count', 'on', 'ignoring', 'bool']);
const metricsIn = (expr: string): string[] => {
  const bare = expr.replace(/"[^"]*"/g, '').replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').replace(/\b(?:by|without)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/\b[a-z_][a-z0-9_]*\b/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w));
};

describe('deploy/grafana-dashboard.json', () => {
  const all = panels(dashboard.panels);
  const queries = all.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

  it('covers queues, workers, detectors and review', () => {
    expect(all.filter((p) => p.type === 'row').map((p) => p.title)).toEqual(['Queues', 'Workers', 'Detectors', 'Review']);
    expect(queries.length).toBeGreaterThan(30);
  });

  it('names only metrics the code exports, in every query', () => {
    const known = exportedNames();
    const unknown = queries.flatMap((q) => metricsIn(q.expr).filter((m) => !known.has(m)).map((m) => `${q.panel}: ${m}`));
    expect(unknown).toEqual([]);
    // And the check itself finds names: every query names at least one metric.
    expect(queries.filter((q) => metricsIn(q.expr).length === 0)).toEqual([]);
  });

  it('finds an unknown metric when there is one', () => {
    expect(metricsIn('sum(rate(revmod_not_a_metric_total[5m]))').filter((m) => !exportedNames().has(m))).toEqual(['revmod_not_a_metric_total']);
  });
});
