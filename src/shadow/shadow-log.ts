import type { Redis } from 'ioredis';
import type { Decision } from '@revmod/client';
import type { ShadowBuild } from '../pool/decode-task';

/** One model's side of a shadow comparison: what it would have decided. */
export interface ShadowSide {
  /** name@version */
  readonly model: string;
  readonly decision: Decision;
  /** The top group (`normal` or a violation category). */
  readonly label: string;
  readonly violate: number;
  /** Probability per group (what calibration from the shadow log needs). */
  readonly groups: Readonly<Record<string, number>>;
  readonly reasons: readonly string[];
}

/** One image scored by the champion (who decided) and the challenger (in shadow). */
export interface ShadowRecord {
  readonly jobId: string;
  readonly bucket: string;
  readonly key: string;
  /** When the challenger's scores came back (ISO 8601). */
  readonly at: string;
  readonly champion: ShadowSide;
  readonly challenger: ShadowSide;
  /** How the challenger's tensor was built (`copy`: the champion's, reused). */
  readonly build: ShadowBuild;
  /** Sent to review for people to settle the disagreement. */
  readonly sampled: boolean;
}

/** The Redis stream of shadow comparisons, under the BullMQ prefix. */
export function shadowLogKey(prefix: string): string {
  return `${prefix}:shadow:log`;
}

/**
 * The shadow comparisons, a capped Redis stream: workers append, `revmod eval shadow` reads a
 * period back. Entry ids are Redis stream ids, so their time is the append time.
 */
export class ShadowLog {
  readonly key: string;
  private readonly jobPrefix: string;

  /** `jobTtlSeconds`: how long each record is also kept by job id (see `get`). */
  constructor(private readonly redis: Redis, prefix: string, private readonly maxEntries: number, private readonly jobTtlSeconds = 604_800) {
    this.key = shadowLogKey(prefix);
    this.jobPrefix = `${prefix}:shadow:job:`;
  }

  async append(records: readonly ShadowRecord[]): Promise<void> {
    if (records.length === 0) return;
    const multi = this.redis.multi();
    for (const r of records) {
      const text = JSON.stringify(r);
      multi.xadd(this.key, 'MAXLEN', '~', this.maxEntries, '*', 'r', text);
      multi.set(`${this.jobPrefix}${r.jobId}`, text, 'EX', this.jobTtlSeconds);
    }
    await multi.exec();
  }

  /** The last comparison of a job, while kept (for the console, when a person decides it). */
  async get(jobId: string): Promise<ShadowRecord | undefined> {
    const text = await this.redis.get(`${this.jobPrefix}${jobId}`);
    return text === null ? undefined : (JSON.parse(text) as ShadowRecord);
  }

  /** The records appended in [sinceMs, untilMs), oldest first. */
  async *read(sinceMs = 0, untilMs?: number): AsyncGenerator<ShadowRecord> {
    let start = `${Math.max(0, Math.floor(sinceMs))}-0`;
    const end = untilMs === undefined ? '+' : String(Math.floor(untilMs) - 1);
    for (;;) {
      const page = await this.redis.xrange(this.key, start, end, 'COUNT', 1_000);
      for (const [, fields] of page) {
        const i = fields.indexOf('r');
        if (i >= 0 && fields[i + 1] !== undefined) yield JSON.parse(fields[i + 1]!) as ShadowRecord;
      }
      if (page.length < 1_000) return;
      start = `(${page[page.length - 1]![0]}`;
    }
  }

  /** Entries held now. */
  length(): Promise<number> {
    return this.redis.xlen(this.key);
  }
}
