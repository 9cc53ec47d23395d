import type { Verdict } from '@revmod/client';
import { createWorkerMetrics } from '../../src/ops/metrics';

/** A scored verdict of `version` in a batch of `size` that took `inferMs`. */
function verdict(version: string, decision: Verdict['decision'], inferMs: number, size: number): Verdict {
  return {
    schemaVersion: 2, id: `${version}-${decision}-${Math.random()}`, jobId: 'j', bucket: 'b', key: 'k', decision, label: 'normal', scores: { normal: 1, violate: 0 }, reasons: [],
    model: { name: 'm', version, sha256: 'x', executionProvider: 'cpu' } as Verdict['model'],
    timings: { queueMs: 0, fetchMs: 0, decodeMs: 0, batchWaitMs: 0, inferMs, totalMs: 10 } as Verdict['timings'],
    batch: { id: 'b1', size }, meta: {}, attempt: 1, worker: 'w', decidedAt: '2026-12-01T00:00:00Z',
  };
}

describe('per model version metrics', () => {
  it('count verdicts by version and decision, and attribute each batch\'s inference time to its images', async () => {
    const { registry, observer } = createWorkerMetrics({ defaultMetrics: false });
    observer.onVerdict!(verdict('1', 'pass', 40, 4));
    observer.onVerdict!(verdict('1', 'review', 40, 4));
    observer.onVerdict!(verdict('2', 'pass', 90, 3));
    const images = await registry.getSingleMetric('revmod_model_images_total')!.get();
    const byLabels = Object.fromEntries(images.values.map((v) => [`${v.labels.model_version} ${v.labels.decision}`, v.value]));
    expect(byLabels).toEqual({ 'm@1 pass': 1, 'm@1 review': 1, 'm@2 pass': 1 });
    const infer = await registry.getSingleMetric('revmod_model_inference_seconds_total')!.get();
    const seconds = Object.fromEntries(infer.values.map((v) => [v.labels.model_version, v.value]));
    expect(seconds['m@1']).toBeCloseTo(0.02, 9); // 2 images × 40 ms / 4
    expect(seconds['m@2']).toBeCloseTo(0.03, 9); // 1 image × 90 ms / 3
  });
});
