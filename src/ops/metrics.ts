import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BatchStats, PipelineObserver, ShadowOutcome, ShadowSkip } from '../pipeline/pipeline-observer';
import type { ErrorCode, Verdict } from '@revmod/client';
import type { WorkerStatus } from '../worker/moderation-worker';
import { BUCKETS } from './metric-buckets';

/** Options of {@link createWorkerMetrics}; every field has a default in WORKER_METRICS_DEFAULTS. */
export interface WorkerMetricsOptions {
  /** Prefix of revmod's own metric names. Default `revmod_`. */
  readonly prefix?: string;
  /**
   * Node.js process metrics (CPU, memory, GC, event-loop delay) under their standard unprefixed
   * names, so stock Node.js dashboards work. Default true.
   */
  readonly defaultMetrics?: boolean;
  /** Sampling resolution of the event-loop delay histogram. Default 10. */
  readonly eventLoopPrecisionMs?: number;
  /** Labels put on every series, e.g. `{ pod: hostname }`. Default none. */
  readonly defaultLabels?: Readonly<Record<string, string>>;
}

export const WORKER_METRICS_DEFAULTS = {
  prefix: 'revmod_',
  defaultMetrics: true,
  eventLoopPrecisionMs: 10,
  defaultLabels: {} as Readonly<Record<string, string>>,
} as const;

/** What the metrics read from a running worker at scrape time (a ModerationWorker satisfies it). */
export interface WorkerMetricsSource {
  status(): Pick<WorkerStatus, 'ready' | 'model' | 'executionProvider' | 'inferenceRestarts'> & Partial<Pick<WorkerStatus, 'executionProviderFallbacks' | 'shadow'>>;
}

export interface WorkerMetrics {
  /** This process's registry: serve `registry.metrics()` with `registry.contentType`. */
  readonly registry: Registry;
  /** Pass to the ModerationWorker (deps.observer): counts and times every batch and verdict. */
  readonly observer: PipelineObserver;
  /** Reads readiness, model/provider info and inference-thread restarts from `worker` at each scrape. */
  attachWorker(worker: WorkerMetricsSource): void;
}

const ms = (value: number): number => value / 1_000;

/**
 * A prom-client registry for one worker process, fed by the pipeline's observer hooks. A registry per
 * call (never the global one) so several workers in one process, as in tests, do not collide.
 */
export function createWorkerMetrics(options: WorkerMetricsOptions = {}): WorkerMetrics {
  const o = { ...WORKER_METRICS_DEFAULTS, ...options };
  const p = o.prefix;
  const registry = new Registry();
  registry.setDefaultLabels({ ...o.defaultLabels });
  const registers = [registry];
  if (o.defaultMetrics) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: o.eventLoopPrecisionMs });

  const images = new Counter({
    name: `${p}images_total`, registers, labelNames: ['decision', 'label'] as const,
    help: 'Images moderated (verdicts published), by decision and argmax label; label="none" when the image could not be scored.',
  });
  const errors = new Counter({
    name: `${p}errors_total`, registers, labelNames: ['code'] as const,
    help: 'Error verdicts (permanent per-image failures: missing object, corrupt image...) by error code.',
  });
  const retries = new Counter({
    name: `${p}retries_total`, registers, labelNames: ['code'] as const,
    help: 'Transient failures handed back to BullMQ for a retry with backoff, by error code.',
  });
  const signals = new Counter({
    name: `${p}labels_total`, registers, labelNames: ['label'] as const,
    help: 'Scored images by what was flagged: violation groups at or above their threshold and detector findings (contact_info, qr_code, blurry, …).',
  });
  const invalidJobs = new Counter({
    name: `${p}invalid_jobs_total`, registers, labelNames: ['code'] as const,
    help: 'Jobs failed without retry because their payload is invalid (they stay in the failed list).',
  });
  const batchSize = new Histogram({
    name: `${p}batch_size_images`, registers, buckets: [...BUCKETS.batchSizeImages],
    help: 'Images per inference batch.',
  });
  const fillWait = new Histogram({
    name: `${p}batch_fill_wait_seconds`, registers, buckets: [...BUCKETS.fillWaitSeconds],
    help: 'Time a batch waited to fill (first image queued → batch closed).',
  });
  const imageStage = new Histogram({
    name: `${p}image_stage_duration_seconds`, registers, labelNames: ['stage'] as const, buckets: [...BUCKETS.stageSeconds],
    help: 'Per scored image: queue (submit → picked up), fetch (S3 GetObject), decode (in the image pool), detect (cheap detectors, in the pool), ocr (OCR, for images the text gate let through; it overlaps the batch), batch_wait (ready → its batch started).',
  });
  const batchStage = new Histogram({
    name: `${p}batch_stage_duration_seconds`, registers, labelNames: ['stage'] as const, buckets: [...BUCKETS.stageSeconds],
    help: 'Per batch: infer (gathering the tensors and the onnxruntime run, in the inference thread).',
  });
  const modelImages = new Counter({
    name: `${p}model_images_total`, registers, labelNames: ['model_version', 'decision'] as const,
    help: 'Verdicts by the model version (name@version) that decided them and their decision: images and review share per version, e.g. across a reload or a rollback.',
  });
  const modelInfer = new Counter({
    name: `${p}model_inference_seconds_total`, registers, labelNames: ['model_version'] as const,
    help: 'Inference time attributed to scored images (each image its batch\'s time / batch size), by model version: per-image cost is this rate over revmod_model_images_total\'s.',
  });
  const shadowImages = new Counter({
    name: `${p}shadow_images_total`, registers, labelNames: ['champion', 'challenger', 'outcome'] as const,
    help: 'Images scored by the challenger in shadow, by champion and challenger (name@version) and outcome: agree (same decision and top group), decision_differs, label_differs. Agreement = agree / all.',
  });
  const shadowSampled = new Counter({
    name: `${p}shadow_review_samples_total`, registers, labelNames: ['challenger'] as const,
    help: 'Shadow disagreements (champion passed, challenger would not) sent to review for people to settle.',
  });
  const shadowSkipped = new Counter({
    name: `${p}shadow_skipped_total`, registers, labelNames: ['challenger', 'reason'] as const,
    help: 'Images the challenger did not score: budget (over REVMOD_SHADOW_SHARE of the time), backlog (its queue full), failed (its run failed; the champion is unaffected).',
  });
  const shadowSeconds = new Counter({
    name: `${p}shadow_seconds_total`, registers, labelNames: ['challenger', 'stage'] as const,
    help: 'Time the challenger took: build (its tensors, in the image pool; ~0 when it reuses the champion\'s) and infer (its batches). Its share of capacity is the rate of this over wall time.',
  });
  const endToEnd = new Histogram({
    name: `${p}end_to_end_seconds`, registers, buckets: [...BUCKETS.endToEndSeconds],
    help: 'Submit → verdict, for every verdict (scored or error).',
  });

  let source: WorkerMetricsSource | undefined;
  let restartsSeen = 0;
  new Counter({
    name: `${p}inference_thread_restarts_total`, registers,
    help: 'Inference threads that died and were restarted (their batches were retried).',
    collect() {
      const now = source?.status().inferenceRestarts ?? restartsSeen;
      if (now > restartsSeen) this.inc(now - restartsSeen);
      restartsSeen = now;
    },
  });
  const fallbacksSeen: Record<string, number> = {};
  new Counter({
    name: `${p}execution_provider_fallbacks_total`, registers, labelNames: ['provider'] as const,
    help: 'Execution providers tried (or ruled out) and not used when an inference thread started, by provider; the log says why.',
    collect() {
      for (const [provider, now] of Object.entries(source?.status().executionProviderFallbacks ?? {})) {
        const seen = fallbacksSeen[provider] ?? 0;
        if (now > seen) this.inc({ provider }, now - seen);
        fallbacksSeen[provider] = now;
      }
    },
  });
  new Gauge({
    name: `${p}model_info`, registers, labelNames: ['model_name', 'model_version', 'model_sha256', 'execution_provider'] as const,
    help: 'Always 1 once the model is loaded; the labels say which model runs and on which onnxruntime execution provider.',
    collect() {
      this.reset();
      const status = source?.status();
      const model = status?.model;
      const provider = status?.executionProvider;
      if (model && provider) {
        this.set({ model_name: model.name, model_version: model.version, model_sha256: model.sha256, execution_provider: provider }, 1);
      }
    },
  });
  new Gauge({
    name: `${p}shadow_state`, registers, labelNames: ['alias', 'challenger', 'state'] as const,
    help: 'Always 1 while shadow scoring is on: the alias followed, the challenger (name@version, "none" when unset) and what the lane is doing (unset, same-as-champion, loading, scoring, failed).',
    collect() {
      this.reset();
      const shadow = source?.status().shadow;
      if (shadow && shadow.state !== 'off') this.set({ alias: shadow.alias ?? '', challenger: shadow.challenger ?? 'none', state: shadow.state }, 1);
    },
  });
  new Gauge({
    name: `${p}worker_ready`, registers,
    help: '1 while the worker takes jobs (model loaded, Redis connected, not draining), else 0.',
    collect() {
      this.set(source?.status().ready ? 1 : 0);
    },
  });

  const onVerdict = (v: Verdict): void => {
    images.inc({ decision: v.decision, label: v.label ?? 'none' });
    if (v.error) errors.inc({ code: v.error.code });
    endToEnd.observe(ms(v.timings.totalMs));
    const modelVersion = `${v.model.name}@${v.model.version}`;
    modelImages.inc({ model_version: modelVersion, decision: v.decision });
    if (v.batch !== null && v.batch.size > 0) modelInfer.inc({ model_version: modelVersion }, ms(v.timings.inferMs) / v.batch.size);
    // Error verdicts stop at fetch or decode: their stage times would mix failures into the latencies.
    if (v.batch === null) return;
    imageStage.observe({ stage: 'queue' }, ms(v.timings.queueMs));
    imageStage.observe({ stage: 'fetch' }, ms(v.timings.fetchMs));
    imageStage.observe({ stage: 'decode' }, ms(v.timings.decodeMs));
    if (v.timings.detectMs !== undefined) imageStage.observe({ stage: 'detect' }, ms(v.timings.detectMs));
    if (v.timings.ocrMs !== undefined) imageStage.observe({ stage: 'ocr' }, ms(v.timings.ocrMs));
    for (const reason of v.labels ?? []) signals.inc({ label: reason });
    imageStage.observe({ stage: 'batch_wait' }, ms(v.timings.batchWaitMs));
  };
  const onBatch = (b: BatchStats): void => {
    batchSize.observe(b.size);
    fillWait.observe(ms(b.fillWaitMs));
    batchStage.observe({ stage: 'infer' }, ms(b.inferMs));
  };
  // Observer hooks run inside the pipeline: a metrics bug must never fail a job.
  const safe = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A): void => {
    try {
      fn(...args);
    } catch {
      /* metrics are best effort */
    }
  };
  const observer: PipelineObserver = {
    onVerdict: safe(onVerdict),
    onBatch: safe(onBatch),
    onRetry: safe((code: ErrorCode) => retries.inc({ code })),
    onInvalidJob: safe((code: ErrorCode) => invalidJobs.inc({ code })),
    onShadow: safe((o: ShadowOutcome) => {
      shadowImages.inc({ champion: o.champion, challenger: o.challenger, outcome: o.outcome });
      if (o.sampled) shadowSampled.inc({ challenger: o.challenger });
    }),
    onShadowSkipped: safe((reason: ShadowSkip, challenger: string) => shadowSkipped.inc({ challenger, reason })),
    onShadowCost: safe((stage: 'build' | 'infer', msValue: number, challenger: string) => shadowSeconds.inc({ challenger, stage }, ms(msValue))),
  };

  return {
    registry,
    observer,
    attachWorker(worker) {
      source = worker;
    },
  };
}
