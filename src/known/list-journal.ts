import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { RevmodError } from '@revmod/client';
import type { ListChange } from './list-types';

/** Options of {@link ListJournal}. */
export interface ListJournalOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Key prefix, e.g. `revmod/known-lists/`. */
  readonly prefix: string;
  /** A write gives up after this long (the change is then refused, never half-applied). @defaultValue 10000 */
  readonly writeTimeoutMs?: number;
}

/** A journaled change with the time it was written. */
export interface JournalRecord {
  readonly at: string;
  readonly change: ListChange;
}

/**
 * The lists' journal in S3: one object per change, written before the change reaches Redis, so a
 * Redis loss loses no acknowledged change. Keys start with the write time (zero-padded ms), then
 * the writer and its own counter: a listing replays changes in the order they were made (changes
 * by different writers within one millisecond are to different entries in practice, and every
 * change is idempotent).
 */
export class ListJournal {
  private readonly writer = `${hostname().replace(/[^A-Za-z0-9-]/g, '')}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private seq = 0;

  constructor(private readonly o: ListJournalOptions) {}

  get location(): string {
    return `s3://${this.o.bucket}/${this.o.prefix}`;
  }

  /** Stores `change`; rejects with LIST_UNAVAILABLE when S3 does not take it. */
  async append(change: ListChange, nowMs = Date.now()): Promise<string> {
    const key = `${this.o.prefix}${String(nowMs).padStart(15, '0')}-${this.writer}-${String(this.seq++).padStart(8, '0')}.json`;
    const record: JournalRecord = { at: new Date(nowMs).toISOString(), change };
    try {
      await this.o.s3.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: key, Body: JSON.stringify(record), ContentType: 'application/json' }),
        { abortSignal: AbortSignal.timeout(this.o.writeTimeoutMs ?? 10_000) });
    } catch (err) {
      throw new RevmodError('LIST_UNAVAILABLE', `the lists' journal (${this.location}) could not be written, so the change was not made: ${(err as Error).message}`, { cause: err });
    }
    return key;
  }

  /** Every journaled change, oldest first. */
  async *records(): AsyncGenerator<JournalRecord> {
    let token: string | undefined;
    const keys: string[] = [];
    do {
      const page = await this.o.s3.send(new ListObjectsV2Command({ Bucket: this.o.bucket, Prefix: this.o.prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const obj of page.Contents ?? []) if (obj.Key?.endsWith('.json')) keys.push(obj.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    keys.sort();
    for (const key of keys) {
      const res = await this.o.s3.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key }));
      yield JSON.parse(await res.Body!.transformToString('utf8')) as JournalRecord;
    }
  }
}
