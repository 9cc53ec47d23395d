import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Redis } from 'ioredis';
import { RevmodError } from '@revmod/client';
import type { DecisionLog } from './decision-log';
import { latestPerJob } from './decision-log';
import type { Reason } from './taxonomy';
import { verdictVersion } from './verdict-view';

/** `binary`: normal/ and violate/. `category`: normal/ and one folder per taxonomy category. */
export type DatasetLayout = 'binary' | 'category';

/** A local folder or an S3 location (`s3://bucket/prefix`). */
export type ExportTarget = { readonly kind: 'dir'; readonly path: string } | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string };

export function parseTarget(out: string): ExportTarget {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(out);
  if (m) return { kind: 's3', bucket: m[1]!, prefix: m[2] ? `${m[2].replace(/\/+$/, '')}/` : '' };
  return { kind: 'dir', path: out };
}

export function targetName(t: ExportTarget): string {
  return t.kind === 'dir' ? t.path : `s3://${t.bucket}/${t.prefix}`;
}

/** One line of manifest.jsonl. */
export interface ManifestEntry {
  readonly file: string;
  readonly sha256: string;
  readonly class: string;
  readonly decision: 'pass' | 'block';
  readonly reasons: readonly string[];
  readonly reviewer: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly source: { readonly bucket: string; readonly key: string; readonly jobId: string };
  readonly decisionId: string;
  readonly round: number;
  readonly kind: string;
  readonly decidedAt: string;
}

export interface ExportReport {
  readonly target: string;
  readonly images: number;
  readonly byClass: Readonly<Record<string, number>>;
  /** Later decisions on content already exported (re-uploads): the latest decision labels it. */
  readonly duplicates: number;
  /** Objects gone, changed since their decision (the label is about other bytes) or undecodable (error verdicts). */
  readonly skipped: number;
}

/** Writes files to a folder or under an S3 prefix. */
class Writer {
  constructor(private readonly target: ExportTarget, private readonly s3: S3Client) {}

  async put(rel: string, body: Buffer | string): Promise<void> {
    if (this.target.kind === 'dir') {
      const path = join(this.target.path, rel);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, body);
    } else {
      await this.s3.send(new PutObjectCommand({ Bucket: this.target.bucket, Key: `${this.target.prefix}${rel}`, Body: body }));
    }
  }
}

const EXTENSIONS: ReadonlyArray<[Buffer, string]> = [
  [Buffer.from([0xff, 0xd8, 0xff]), 'jpg'], [Buffer.from('\x89PNG', 'binary'), 'png'], [Buffer.from('GIF8'), 'gif'], [Buffer.from('BM'), 'bmp'],
];
function extensionOf(bytes: Buffer): string {
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  return EXTENSIONS.find(([magic]) => bytes.subarray(0, magic.length).equals(magic))?.[1] ?? 'bin';
}

export interface ExportOptions {
  readonly log: DecisionLog;
  /** Reads the images (and writes s3:// exports). */
  readonly s3: S3Client;
  readonly target: ExportTarget;
  readonly sinceMs?: number;
  readonly untilMs?: number;
  readonly layout: DatasetLayout;
  readonly taxonomy: readonly Reason[];
  readonly maxBytes: number;
  /** Records the export (for retention and erasure) in this Redis sorted set. */
  readonly registry?: { readonly redis: Redis; readonly key: string };
}

/**
 * A training set from people's decisions: an ImageFolder (one folder per class) and a
 * manifest.jsonl, deduplicated by content sha256 (the latest decision on a content labels it).
 * Each image is fetched at the version its verdict judged, and checked against its sha256.
 */
export async function exportDataset(o: ExportOptions): Promise<ExportReport> {
  // The highest round per job, then newest first, so the first decision seen for a content is the latest.
  const perJob = latestPerJob(await o.log.decisions(o.sinceMs, o.untilMs));
  const decisions = [...perJob.values()].sort((a, b) => Date.parse(b.decidedAt) - Date.parse(a.decidedAt));
  const categories = new Map(o.taxonomy.map((r) => [r.code, r.category]));
  const writer = new Writer(o.target, o.s3);
  const seen = new Set<string>();
  const manifest: ManifestEntry[] = [];
  const byClass: Record<string, number> = {};
  let duplicates = 0;
  let skipped = 0;
  for (const d of decisions) {
    if (d.sha256 && seen.has(d.sha256)) {
      duplicates += 1;
      continue;
    }
    // An image the worker could not decode teaches a model nothing, whatever a person said of it.
    if (d.verdict.error) {
      skipped += 1;
      continue;
    }
    const version = verdictVersion(d.verdict);
    let bytes: Buffer;
    try {
      const res = await o.s3.send(new GetObjectCommand({ Bucket: d.bucket, Key: d.key, ...(version?.versionId ? { VersionId: version.versionId } : {}) }));
      if ((res.ContentLength ?? 0) > o.maxBytes) throw new RevmodError('OBJECT_TOO_LARGE', 'too large');
      bytes = Buffer.from(await res.Body!.transformToByteArray());
    } catch {
      skipped += 1;
      continue;
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if ((d.sha256 && sha !== d.sha256) || (version?.sha256 && sha !== version.sha256)) {
      skipped += 1;
      continue;
    }
    if (seen.has(sha)) {
      duplicates += 1;
      continue;
    }
    seen.add(sha);
    const cls = d.outcome === 'pass' ? 'normal' : o.layout === 'binary' ? 'violate' : (categories.get(d.reasons[0] ?? '') ?? 'violate');
    const file = `${cls}/${sha}.${extensionOf(bytes)}`;
    await writer.put(file, bytes);
    byClass[cls] = (byClass[cls] ?? 0) + 1;
    manifest.push({
      file, sha256: sha, class: cls, decision: d.outcome, reasons: d.reasons, reviewer: d.reviewer.id,
      modelName: d.model.name, modelVersion: d.model.version, source: { bucket: d.bucket, key: d.key, jobId: d.jobId },
      decisionId: d.id, round: d.round, kind: d.kind, decidedAt: d.decidedAt,
    });
  }
  manifest.sort((a, b) => a.file.localeCompare(b.file));
  await writer.put('manifest.jsonl', manifest.map((m) => JSON.stringify(m)).join('\n') + (manifest.length > 0 ? '\n' : ''));
  const report: ExportReport = { target: targetName(o.target), images: manifest.length, byClass, duplicates, skipped };
  await writer.put('export.json', `${JSON.stringify({ ...report, layout: o.layout, since: o.sinceMs === undefined ? null : new Date(o.sinceMs).toISOString(), exportedAt: new Date().toISOString() }, null, 2)}\n`);
  if (o.registry) await o.registry.redis.zadd(o.registry.key, Date.now(), targetName(o.target));
  return report;
}

/** Reads an export's manifest. */
async function readManifest(target: ExportTarget, s3: S3Client): Promise<ManifestEntry[]> {
  let text: string;
  try {
    if (target.kind === 'dir') text = await readFile(join(target.path, 'manifest.jsonl'), 'utf8');
    else text = await (await s3.send(new GetObjectCommand({ Bucket: target.bucket, Key: `${target.prefix}manifest.jsonl` }))).Body!.transformToString('utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as ManifestEntry);
}

/** Removes the entries `drop` selects from an export (their files and manifest lines); returns how many. */
export async function pruneExport(target: ExportTarget, s3: S3Client, drop: (m: ManifestEntry) => boolean): Promise<number> {
  const manifest = await readManifest(target, s3);
  const gone = manifest.filter(drop);
  if (gone.length === 0) return 0;
  for (const m of gone) {
    if (target.kind === 'dir') await rm(join(target.path, m.file), { force: true });
    else await s3.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: `${target.prefix}${m.file}` }));
  }
  const kept = manifest.filter((m) => !drop(m));
  await new Writer(target, s3).put('manifest.jsonl', kept.map((m) => JSON.stringify(m)).join('\n') + (kept.length > 0 ? '\n' : ''));
  return gone.length;
}

/** Deletes a whole export (retention). */
export async function deleteExport(target: ExportTarget, s3: S3Client): Promise<void> {
  if (target.kind === 'dir') {
    // Only what an export writes: class folders listed in its manifest, the manifest and export.json.
    const manifest = await readManifest(target, s3);
    for (const dir of new Set(manifest.map((m) => m.file.split('/')[0]!))) await rm(join(target.path, dir), { recursive: true, force: true });
    for (const f of ['manifest.jsonl', 'export.json']) await rm(join(target.path, f), { force: true });
    if ((await readdir(target.path).catch(() => ['x'])).length === 0) await rm(target.path, { recursive: true, force: true });
    return;
  }
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: target.bucket, Prefix: target.prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const obj of page.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: obj.Key! }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}
