import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Verdict } from '@revmod/client';
import type { Signal } from '../detectors/detector';
import type { PdqHashes } from '../pool/decode-task';
import type { KnownImages, ReusableVerdict } from './known-images';
import { ListIndex, type ListMatch } from './list-index';
import type { ListStore } from './list-store';
import type { VerdictCache } from './verdict-cache';

/** Options of {@link RedisKnownImages}. */
export interface RedisKnownImagesOptions {
  /** Commands (the worker's connection). */
  readonly redis: Redis;
  readonly store: ListStore;
  readonly cache: VerdictCache;
  /** How often the lists' version is checked besides the pub/sub notices (the fallback when a notice is lost). */
  readonly syncIntervalMs: number;
  readonly logger: Logger;
}

/** The detector name on list signals. */
export const KNOWN_IMAGES_DETECTOR = 'known-images';

/** A list match as a policy signal: `known_violation` (block lists) or `known_ok` (allow lists). */
export function signalOf(m: ListMatch): Signal {
  return {
    detector: KNOWN_IMAGES_DETECTOR,
    reason: m.list.kind === 'block' ? 'known_violation' : 'known_ok',
    evidence: { list: m.list.name, action: m.list.action, distance: m.distance, entry: m.entry.id, origin: m.entry.origin, ...(m.query > 0 ? { dihedral: m.query } : {}) },
  };
}

/**
 * The known images of a worker: the exact-bytes verdict cache in Redis, and the lists' hashes in
 * an in-memory index that follows the lists in Redis. `start()` loads every list (rebuilding Redis
 * from the S3 journal when it has lost them); changes then arrive through pub/sub within
 * milliseconds, and a version check every `syncIntervalMs` catches any notice that was missed
 * (a reconnect, a flushed Redis: a gap in the versions reloads everything).
 */
export class RedisKnownImages implements KnownImages {
  readonly usesPdq = true;
  private readonly index = new ListIndex();
  private subscriber: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastId = '0-0';
  private version = 0;
  private syncing: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(private readonly o: RedisKnownImagesOptions) {}

  /** Lists and entries held, and the lists' version applied. */
  stats(): { lists: number; entries: number; version: number } {
    return { lists: this.index.listCount, entries: this.index.size, version: this.version };
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    await this.o.store.ensureLoaded();
    await this.reload();
    this.subscriber = this.o.redis.duplicate();
    this.subscriber.on('error', (err: Error) => this.o.logger.warn({ err: err.message }, 'known images: subscriber connection error'));
    this.subscriber.on('message', () => { void this.sync(); });
    // A resubscription after a reconnect may have missed notices: catch up at once.
    this.subscriber.on('ready', () => { void this.sync(); });
    await this.subscriber.subscribe(this.o.store.channel);
    this.timer = setInterval(() => { void this.sync(); }, this.o.syncIntervalMs);
    this.timer.unref();
    this.o.logger.info({ ...this.stats(), loadMs: Math.round(performance.now() - t0) }, 'known-image lists loaded');
  }

  private async reload(): Promise<void> {
    const snapshot = await this.o.store.snapshot();
    this.index.load(snapshot);
    this.lastId = snapshot.lastId;
    this.version = snapshot.version;
  }

  /** Applies the changes streamed since the last sync (one sync at a time; a request meanwhile runs another after it). */
  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.again = false;
        try {
          await this.catchUp();
        } catch (err) {
          this.o.logger.warn({ err: (err as Error).message }, 'known images: could not sync the lists; keeping the ones held');
        }
      } while (this.again && !this.closed);
    })().finally(() => { this.syncing = undefined; });
    return this.syncing;
  }

  private async catchUp(): Promise<void> {
    const current = await this.o.store.version();
    if (current === this.version) return;
    if (current < this.version) {
      // Redis lost the lists (or was replaced): rebuild it from the journal if nobody has, then reload.
      await this.o.store.ensureLoaded();
      await this.reload();
      this.o.logger.warn({ ...this.stats() }, 'known images: the lists\' version went back; reloaded them');
      return;
    }
    for (;;) {
      const changes = await this.o.store.changesAfter(this.lastId);
      if (changes.length === 0) return;
      if (changes[0]!.version !== this.version + 1) {
        // Trimmed out of the stream, or a rebuilt Redis: only a full load is right.
        await this.reload();
        return;
      }
      for (const c of changes) {
        this.index.apply(c.change);
        this.lastId = c.id;
        this.version = c.version;
      }
      this.o.logger.info({ ...this.stats(), changes: changes.length }, 'known-image lists changed');
    }
  }

  async exact(sha256: string, scope: { readonly modelSha256: string; readonly policyVersion: string }): Promise<ReusableVerdict | undefined> {
    const hit = await this.o.cache.get(sha256, scope);
    if (!hit) return undefined;
    // A list made or changed since the verdict decides instead: the image goes through the lists again.
    if (hit.source === 'verdict' && hit.pdq && this.index.match(hit.pdq.hashes, hit.pdq.quality).length > 0) return undefined;
    return { verdict: hit.verdict, source: hit.source };
  }

  async similar(pdq: PdqHashes): Promise<Signal[]> {
    return this.index.match(pdq.hashes, pdq.quality).map(signalOf);
  }

  /** The matches themselves (lookups through the SDK and the CLI). */
  matches(pdq: PdqHashes): ListMatch[] {
    return this.index.match(pdq.hashes, pdq.quality);
  }

  async remember(verdict: Verdict, pdq?: PdqHashes): Promise<void> {
    await this.o.cache.remember(verdict, pdq);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.syncing;
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }
}
