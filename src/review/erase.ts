import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Queue } from 'bullmq';
import { createHash, randomBytes } from 'node:crypto';
import { decisionIdFor, jobIdFor, type ReviewDecision } from '@revmod/client';
import type { VerdictCache } from '../known/verdict-cache';
import type { DecisionLog } from './decision-log';
import { parseTarget, pruneExport } from './dataset-export';
import type { ReviewStore } from './review-store';

/** What to erase: one object (bucket and key), or every object with this content. */
export type EraseSelector = { readonly bucket: string; readonly key: string } | { readonly sha256: string };

export interface EraseOptions {
  readonly selector: EraseSelector;
  /** Who asked (recorded). */
  readonly by: string;
  readonly store: ReviewStore;
  readonly log: DecisionLog;
  readonly s3: S3Client;
  /** The moderation, results, review and decisions queues: their jobs about the image are removed. */
  readonly queues: readonly Queue[];
  /** Export locations to prune, besides those recorded in `exportsKey`. */
  readonly exports?: readonly string[];
  /** The Redis sorted set where `dataset export` records its locations. */
  readonly exportsKey: string;
  readonly dryRun?: boolean;
  /** Known images: the verdicts and decisions kept for re-uploads of these bytes go too. */
  readonly known?: VerdictCache;
}

export interface EraseReport {
  readonly jobIds: readonly string[];
  readonly reviewItems: number;
  readonly queueJobs: number;
  readonly logDecisions: number;
  readonly logObjects: number;
  readonly exportEntries: number;
  /** Verdicts and decisions kept for re-uploads of the bytes, removed (only with known images on). */
  readonly knownVerdicts?: number;
  /** Where the record of this erasure was written (absent in a dry run). */
  readonly record?: string;
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * Removes an image's data everywhere revmod keeps it: review items with their history and final
 * state, queue jobs (moderation job and verdicts, decisions), decision-log lines (objects rewritten
 * without them) and dataset-export entries. Then writes a record of what it removed next to the log,
 * naming the image only by hashes. The source object itself belongs to the upload service.
 */
export async function eraseImage(o: EraseOptions): Promise<EraseReport> {
  const s = o.selector;
  const ids = new Set<string>('sha256' in s ? [] : [jobIdFor(s.bucket, s.key)]);
  for (const id of await o.store.idsFor(s)) ids.add(id);
  const matches = (d: Pick<ReviewDecision, 'jobId' | 'bucket' | 'key' | 'sha256'>): boolean =>
    ids.has(d.jobId) || ('sha256' in s ? d.sha256 === s.sha256 : d.bucket === s.bucket && d.key === s.key);
  // The log knows jobs that Redis forgot (past retention, or lost).
  for await (const obj of o.log.objects()) for (const d of obj.decisions) if (matches(d)) ids.add(d.jobId);

  let reviewItems = 0;
  let queueJobs = 0;
  let maxRound = 0;
  const shas = new Set<string>('sha256' in s ? [s.sha256] : []);
  for (const id of ids) {
    const item = await o.store.get(id);
    if (item?.sha256) shas.add(item.sha256);
    maxRound = Math.max(maxRound, item?.round ?? 0);
    if (!o.dryRun && (await o.store.deleteItem(id, o.by))) reviewItems += 1;
    else if (o.dryRun && item) reviewItems += 1;
  }
  for (const id of ids) {
    const jobIds = [id, ...Array.from({ length: maxRound + 3 }, (_, i) => decisionIdFor(id, i + 1))];
    for (const q of o.queues) {
      for (const jobId of jobIds) {
        const job = await q.getJob(jobId);
        if (!job) continue;
        queueJobs += 1;
        if (!o.dryRun) await job.remove().catch(() => undefined);
      }
    }
  }
  let logDecisions = 0;
  let logObjects = 0;
  if (o.dryRun) {
    for await (const obj of o.log.objects()) {
      const n = obj.decisions.filter(matches).length;
      if (n > 0) { logDecisions += n; logObjects += 1; }
    }
  } else {
    ({ removed: logDecisions, objects: logObjects } = await o.log.rewrite(matches));
  }
  const locations = new Set([...(o.exports ?? []), ...(await o.store.redis.zrange(o.exportsKey, '0', '-1'))]);
  let exportEntries = 0;
  for (const loc of locations) {
    const drop = (m: { sha256: string; source: { bucket: string; key: string; jobId: string } }) =>
      ids.has(m.source.jobId) || ('sha256' in s ? m.sha256 === s.sha256 : m.source.bucket === s.bucket && m.source.key === s.key);
    exportEntries += o.dryRun ? 0 : await pruneExport(parseTarget(loc), o.s3, drop);
  }
  let knownVerdicts = 0;
  if (o.known && !o.dryRun) for (const sha256 of shas) knownVerdicts += await o.known.forget(sha256);
  const report = { jobIds: [...ids], reviewItems, queueJobs, logDecisions, logObjects, exportEntries, ...(o.known ? { knownVerdicts } : {}) };
  if (o.dryRun) return report;
  const at = new Date();
  const record = `${o.log.prefix}erasures/${at.toISOString().slice(0, 10).replace(/-/g, '/')}/${at.toISOString().replace(/[:.]/g, '')}-${randomBytes(3).toString('hex')}.json`;
  const selector = 'sha256' in s ? { sha256: s.sha256 } : { bucket: s.bucket, keySha256: sha(`${s.bucket}/${s.key}`) };
  await o.s3.send(new PutObjectCommand({
    Bucket: o.log.bucket, Key: record, ContentType: 'application/json',
    Body: `${JSON.stringify({ erasedAt: at.toISOString(), by: o.by, selector, removed: { reviewItems, queueJobs, logDecisions, logObjects, exportEntries }, jobs: ids.size, exportsChecked: locations.size }, null, 2)}\n`,
  }));
  return { ...report, record: `s3://${o.log.bucket}/${record}` };
}
