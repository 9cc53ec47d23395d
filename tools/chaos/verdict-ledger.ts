/** What the exactly-once checks of the fault tests and the soak compare. */
export interface VerdictLedger {
  /** Submitted ids with no verdict job on the results queue. */
  readonly missing: string[];
  /** Verdict jobs for ids never submitted. */
  readonly unexpected: string[];
  /** Ids with more than one verdict job. */
  readonly duplicateResultJobs: string[];
  /** Ids handed to the consumer more than once. */
  readonly duplicateDeliveries: string[];
  readonly resultCount: number;
}

/**
 * Exactly-once: every submitted id has one verdict job on the results queue, there is no other, and
 * no id was delivered twice to the consumer.
 */
export function verdictLedger(submittedIds: readonly string[], resultJobIds: readonly string[], deliveredIds: Iterable<string>): VerdictLedger {
  const submitted = new Set(submittedIds);
  const seen = new Set<string>();
  const duplicateResultJobs = resultJobIds.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
  const deliveries = new Map<string, number>();
  for (const id of deliveredIds) deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
  return {
    missing: submittedIds.filter((id) => !seen.has(id)),
    unexpected: [...seen].filter((id) => !submitted.has(id)),
    duplicateResultJobs,
    duplicateDeliveries: [...deliveries].filter(([, n]) => n > 1).map(([id]) => id),
    resultCount: resultJobIds.length,
  };
}
