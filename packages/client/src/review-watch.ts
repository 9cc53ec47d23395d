import type { Redis } from 'ioredis';
import { loadClientConfig, type ClientConfigInput } from './client-settings';
import { createRedisConnection } from './redis-connection';
import { reviewEventsKey } from './review-keys';
import type { ReviewEvent, ReviewEventType } from './review-types';

export interface ReviewWatchOptions {
  /** Called for each event in order. A throw is reported to `onError` and the watch goes on. */
  readonly handler: (event: ReviewEvent) => Promise<void> | void;
  /** Where to start: `$` new events only, `0` everything retained, or a `streamId` seen before. @defaultValue '$' */
  readonly from?: string;
  readonly config?: ClientConfigInput;
  /** A connection to duplicate (the watch blocks on its own one). @defaultValue one from config */
  readonly connection?: Redis;
  /** Longest a read blocks before checking for close. @defaultValue 2000 */
  readonly blockMs?: number;
  /** Connection and handler errors. @defaultValue ignored */
  readonly onError?: (err: Error) => void;
}

export interface ReviewWatcher {
  /** The last event handled, for resuming with `from`. */
  readonly lastId: string;
  close(): Promise<void>;
}

function toEvent(streamId: string, fields: readonly string[]): ReviewEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  return {
    streamId,
    type: (f.type ?? 'queued') as ReviewEventType,
    jobId: f.jobId ?? '',
    lane: f.lane ?? '',
    kind: f.kind ?? '',
    ...(f.by ? { by: f.by } : {}),
    ...(f.decisionId ? { decisionId: f.decisionId } : {}),
    at: new Date(Number(f.at ?? 0)).toISOString(),
  };
}

/**
 * Watches the review queue without taking anything from it: every watcher sees every event (an item
 * queued, claimed, escalated, decided, appealed…). The review console owns the review queue itself;
 * use this to show "under review" in a shop's back office, or for audit. Events are kept for a
 * bounded length (the console trims the stream); decisions themselves come from `consumeDecisions`.
 */
export function watchReview(options: ReviewWatchOptions): ReviewWatcher {
  const config = loadClientConfig(options.config);
  const connection = options.connection ? options.connection.duplicate() : createRedisConnection(config, 'worker');
  const onError = options.onError ?? (() => undefined);
  connection.on('error', onError);
  const key = reviewEventsKey(config.redis.prefix);
  const blockMs = options.blockMs ?? 2_000;
  let lastId = options.from ?? '$';
  let closed = false;

  const loop = (async () => {
    // `$` means "after the newest entry now": resolve it once, so events between reads are not skipped.
    if (lastId === '$') {
      const newest = await connection.xrevrange(key, '+', '-', 'COUNT', 1).catch(() => []);
      lastId = newest[0]?.[0] ?? '0';
    }
    while (!closed) {
      let reply: Array<[string, Array<[string, string[]]>]> | null;
      try {
        reply = (await connection.xread('COUNT', 100, 'BLOCK', blockMs, 'STREAMS', key, lastId)) as typeof reply;
      } catch (err) {
        if (closed) break;
        onError(err as Error);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          lastId = id;
          try {
            await options.handler(toEvent(id, fields));
          } catch (err) {
            onError(err as Error);
          }
        }
      }
    }
  })();

  return {
    get lastId() {
      return lastId;
    },
    async close() {
      closed = true;
      // The blocking read ends with the connection.
      connection.disconnect();
      await loop.catch(() => undefined);
    },
  };
}
