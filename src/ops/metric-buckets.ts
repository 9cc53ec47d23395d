/**
 * Histogram buckets, in the unit of the metric's name. One place, so dashboards and alerts built
 * on bucket boundaries (`le`) stay stable across metrics.
 */
export const BUCKETS = {
  /** Per-stage latencies: sub-millisecond fetches from a local MinIO up to slow S3 reads and big decodes. */
  stageSeconds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  /** How long a batch waited to fill: bounded by batch.maxWaitMs (default 20 ms) unless inference is busy. */
  fillWaitSeconds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  /** Submit → verdict: seconds when the queue is empty, many minutes during a promotion backlog. */
  endToEndSeconds: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
  /** Images per batch: powers of two up to the largest batch.size the config accepts. */
  batchSizeImages: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
} as const;
