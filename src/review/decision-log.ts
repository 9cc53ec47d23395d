import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { RevmodError, type ReviewDecision } from '@revmod/client';

/** Options of {@link DecisionLog}. */
export interface DecisionLogOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Key prefix, e.g. `revmod/decisions/`. */
  readonly prefix: string;
  /** Most decisions in one object. @defaultValue 500 */
  readonly maxPerObject?: number;
  /** A write gives up after this long (the decision is then refused, never half-recorded). @defaultValue 10000 */
  readonly writeTimeoutMs?: number;
  /** Names this writer in object keys. @defaultValue host-pid-random */
  readonly writerId?: string;
}

/** One object of the log and its decisions. */
export interface LogObject {
  readonly key: string;
  readonly decisions: ReviewDecision[];
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `yyyy/mm/dd/HHMMSS.mmmZ`: keys sort by write time, so a listing from a date starts there. */
function timePath(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`;
}

interface Waiting {
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/**
 * The durable decision log: JSONL objects in S3, one decision per line. `append` resolves only once
 * the object holding the decision is stored, so a decision acknowledged to its reviewer survives the
 * loss of Redis. Appends that arrive while a write is in flight go together into the next object
 * (group commit): no waiting when idle, fewer objects under load. S3 cannot append, so objects are
 * never rewritten except by deletion (`rewrite`, for erasure requests).
 */
export class DecisionLog {
  private readonly maxPerObject: number;
  private readonly writeTimeoutMs: number;
  private readonly writerId: string;
  private waiting: Waiting[] = [];
  private writing = false;
  private seq = 0;

  constructor(private readonly o: DecisionLogOptions) {
    this.maxPerObject = o.maxPerObject ?? 500;
    this.writeTimeoutMs = o.writeTimeoutMs ?? 10_000;
    this.writerId = o.writerId ?? `${hostname().replace(/[^A-Za-z0-9-]/g, '')}-${process.pid}-${randomBytes(2).toString('hex')}`;
  }

  get bucket(): string {
    return this.o.bucket;
  }

  get prefix(): string {
    return this.o.prefix;
  }

  /** Stores `decision` durably; rejects with DECISION_LOG_UNAVAILABLE when S3 does not take it. */
  append(decision: ReviewDecision): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ line: JSON.stringify(decision), resolve, reject });
      if (!this.writing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.writing = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, this.maxPerObject);
        const key = `${this.o.prefix}${timePath(Date.now())}-${this.writerId}-${pad(this.seq++, 6)}.jsonl`;
        try {
          await this.o.s3.send(new PutObjectCommand({
            Bucket: this.o.bucket, Key: key, Body: `${batch.map((w) => w.line).join('\n')}\n`, ContentType: 'application/x-ndjson',
          }), { abortSignal: AbortSignal.timeout(this.writeTimeoutMs) });
          for (const w of batch) w.resolve();
        } catch (err) {
          const failure = new RevmodError('DECISION_LOG_UNAVAILABLE', `the decision log (s3://${this.o.bucket}/${this.o.prefix}) could not be written: ${(err as Error).message}`, { cause: err });
          for (const w of batch) w.reject(failure);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** Keys of the log's objects written at or after `sinceMs` (all when undefined), oldest first. */
  async keys(sinceMs?: number): Promise<string[]> {
    const out: string[] = [];
    // Decisions wait a moment in a group before their object is written: start a minute early.
    const startAfter = sinceMs === undefined ? undefined : `${this.o.prefix}${timePath(sinceMs - 60_000)}`;
    let token: string | undefined;
    do {
      const page = await this.o.s3.send(new ListObjectsV2Command({
        Bucket: this.o.bucket, Prefix: this.o.prefix, ...(startAfter ? { StartAfter: startAfter } : {}), ...(token ? { ContinuationToken: token } : {}),
      }));
      for (const obj of page.Contents ?? []) if (obj.Key?.endsWith('.jsonl')) out.push(obj.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  async read(key: string): Promise<ReviewDecision[]> {
    const res = await this.o.s3.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key }));
    const text = await res.Body!.transformToString('utf8');
    return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as ReviewDecision);
  }

  /** Every decision decided in [sinceMs, untilMs), oldest object first. */
  async decisions(sinceMs?: number, untilMs?: number): Promise<ReviewDecision[]> {
    const all: ReviewDecision[] = [];
    for await (const obj of this.objects(sinceMs)) all.push(...obj.decisions.filter((d) => untilMs === undefined || Date.parse(d.decidedAt) < untilMs));
    return all;
  }

  /** Every decision decided at or after `sinceMs`, object by object, oldest first. */
  async *objects(sinceMs?: number): AsyncGenerator<LogObject> {
    for (const key of await this.keys(sinceMs)) {
      const decisions = (await this.read(key)).filter((d) => sinceMs === undefined || Date.parse(d.decidedAt) >= sinceMs);
      yield { key, decisions };
    }
  }

  /**
   * Rewrites the objects holding decisions that `drop` selects, without them (erasure requests);
   * an object left empty is deleted. Returns how many decisions were removed.
   */
  async rewrite(drop: (d: ReviewDecision) => boolean): Promise<{ removed: number; objects: number }> {
    let removed = 0;
    let objects = 0;
    for (const key of await this.keys()) {
      const all = await this.read(key);
      const kept = all.filter((d) => !drop(d));
      if (kept.length === all.length) continue;
      removed += all.length - kept.length;
      objects += 1;
      if (kept.length === 0) await this.o.s3.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: key }));
      else await this.o.s3.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: key, Body: `${kept.map((d) => JSON.stringify(d)).join('\n')}\n`, ContentType: 'application/x-ndjson' }));
    }
    return { removed, objects };
  }

  /** Keys of the objects written before `beforeMs`. */
  async keysBefore(beforeMs: number): Promise<string[]> {
    const cutoff = `${this.o.prefix}${timePath(beforeMs)}`;
    return (await this.keys()).filter((k) => k < cutoff);
  }

  /** Deletes log objects written before `beforeMs` (retention); returns how many. */
  async deleteBefore(beforeMs: number): Promise<number> {
    const old = await this.keysBefore(beforeMs);
    for (const key of old) await this.o.s3.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: key }));
    return old.length;
  }
}

/**
 * One decision per id, the last written winning: a decision logged by a console that crashed before
 * acknowledging it may be followed by another under the same id (same job and round), and the
 * acknowledged one is the later.
 */
export function latestById(decisions: Iterable<ReviewDecision>): Map<string, ReviewDecision> {
  const out = new Map<string, ReviewDecision>();
  for (const d of decisions) out.set(d.id, d);
  return out;
}

/** The decision that stands for each job: its highest round (an appeal's outcome beats the first). */
export function latestPerJob(decisions: Iterable<ReviewDecision>): Map<string, ReviewDecision> {
  const perJob = new Map<string, ReviewDecision>();
  for (const d of latestById(decisions).values()) {
    const prev = perJob.get(d.jobId);
    if (!prev || d.round > prev.round) perJob.set(d.jobId, d);
  }
  return perJob;
}
