import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadClientConfig, type ClientConfig, type ClientConfigInput } from './client-settings';
import { isErrorCode, RevmodError } from './errors';
import { createRedisConnection } from './redis-connection';

/** What names an image for a list: its PDQ hash (64 hex), its object in S3, or a verdict about it. */
export type ListEntrySource =
  | { readonly hash: string; readonly quality?: number }
  | { readonly bucket: string; readonly key: string; readonly versionId?: string }
  | { readonly verdictId: string };

/** A listed hash as workers report it. */
export interface ListEntryInfo {
  readonly id: string;
  readonly hash: string;
  readonly quality?: number;
  readonly origin: Readonly<Record<string, unknown>>;
  readonly addedAt: string;
  readonly addedBy: string;
}

/** A list an image matched. */
export interface ListLookupMatch {
  readonly list: string;
  readonly kind: 'block' | 'allow';
  readonly action: 'block' | 'review' | 'pass';
  readonly distance: number;
  readonly entry: ListEntryInfo;
}

export interface ListLookupResult {
  /** The image's PDQ hash (hex) and quality (absent for a raw hash given without one). */
  readonly hash: string;
  readonly quality?: number;
  readonly matches: readonly ListLookupMatch[];
}

/** A list request as it travels on the lists queue (answered by a worker). */
export type ListRequest =
  | { readonly op: 'add'; readonly list: string; readonly source: ListEntrySource; readonly by: string; readonly note?: string }
  | { readonly op: 'remove'; readonly list: string; readonly source: ListEntrySource; readonly by: string }
  | { readonly op: 'lookup'; readonly source: ListEntrySource; readonly by: string };

export interface ListsClientOptions {
  readonly config?: ClientConfigInput;
  /** An existing ioredis connection for commands; by default the client opens (and closes) its own. */
  readonly connection?: Redis;
  /** Who is asking, recorded on the entries it adds. @defaultValue 'sdk' */
  readonly by?: string;
  /** Longest a request waits for a worker's answer. @defaultValue config.requests.listTimeoutMs (REVMOD_KNOWN_REQUEST_TIMEOUT_MS, 30000) */
  readonly timeoutMs?: number;
}

/**
 * The known-image lists from an upload service: add an image to a list, remove it, or look an image
 * up. Images named by `{bucket, key}` or by verdict are fetched and hashed where the workers are
 * (they have S3 and PDQ): a request goes on the lists queue, a worker with REVMOD_KNOWN_IMAGES on
 * answers it, and a change is in force on every worker within a second of the promise resolving. Lists are
 * created with `revmod lists create`.
 */
export class ListsClient {
  readonly config: ClientConfig;
  private readonly queue: Queue<ListRequest>;
  private readonly connection: Redis;
  private readonly ownsConnection: boolean;
  private events: QueueEvents | undefined;
  private eventsConnection: Redis | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly options: ListsClientOptions = {}) {
    this.config = loadClientConfig(options.config);
    this.ownsConnection = options.connection === undefined;
    this.connection = options.connection ?? createRedisConnection(this.config, 'producer');
    this.queue = new Queue<ListRequest>(this.config.queues.lists, { connection: this.connection, prefix: this.config.redis.prefix });
    this.queue.on('error', () => undefined);
  }

  /** Adds the image to `list` (a hash already listed stays one entry); resolves with the entry. */
  addToList(list: string, source: ListEntrySource, options: { readonly note?: string } = {}): Promise<ListEntryInfo> {
    return this.ask({ op: 'add', list, source, by: this.options.by ?? 'sdk', ...(options.note ? { note: options.note } : {}) }) as Promise<ListEntryInfo>;
  }

  /** Removes the image's entry from `list`; rejects with LIST_NOT_FOUND when it has none. */
  removeFromList(list: string, source: ListEntrySource): Promise<{ removed: string[] }> {
    return this.ask({ op: 'remove', list, source, by: this.options.by ?? 'sdk' }) as Promise<{ removed: string[] }>;
  }

  /** The lists the image matches, nearest first (one match per list), as a worker would match it now. */
  lookup(source: ListEntrySource): Promise<ListLookupResult> {
    return this.ask({ op: 'lookup', source, by: this.options.by ?? 'sdk' }) as Promise<ListLookupResult>;
  }

  private async ask(request: ListRequest): Promise<unknown> {
    if (this.closed) throw new RevmodError('SHUTTING_DOWN', 'the ListsClient is closed');
    if (typeof source(request) !== 'object' || source(request) === null) {
      throw new RevmodError('LIST_INVALID', `an entry is named by { hash }, { bucket, key } or { verdictId }, received ${JSON.stringify(source(request))}`);
    }
    const events = await this.queueEvents();
    const timeoutMs = this.options.timeoutMs ?? this.config.requests.listTimeoutMs;
    const job = await this.queue.add(request.op, request, {
      jobId: randomUUID(), attempts: 1, removeOnComplete: { age: 3_600 }, removeOnFail: { age: 86_400 },
    });
    try {
      return await job.waitUntilFinished(events, timeoutMs);
    } catch (err) {
      const message = (err as Error).message;
      const m = /^([A-Z_]+): ([\s\S]*)$/.exec(message);
      if (m && isErrorCode(m[1])) throw new RevmodError(m[1], m[2]!);
      if (/timed out/i.test(message)) {
        await job.remove().catch(() => undefined); // nobody took it: do not apply it later, unasked
        throw new RevmodError('LIST_UNAVAILABLE', `no worker answered the ${request.op} request within ${timeoutMs} ms (are workers running with REVMOD_KNOWN_IMAGES=true on queue ${this.config.queues.lists}?)`);
      }
      throw new RevmodError('LIST_UNAVAILABLE', `the ${request.op} request failed: ${message}`, { cause: err });
    }
  }

  private async queueEvents(): Promise<QueueEvents> {
    if (!this.events) {
      this.eventsConnection = createRedisConnection(this.config, 'worker');
      this.eventsConnection.on('error', () => undefined);
      this.events = new QueueEvents(this.config.queues.lists, { connection: this.eventsConnection, prefix: this.config.redis.prefix });
      this.events.on('error', () => undefined);
    }
    await this.events.waitUntilReady();
    return this.events;
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.events?.close().catch(() => undefined);
      this.eventsConnection?.disconnect();
      await this.queue.close();
      if (this.ownsConnection) await this.connection.quit().catch(() => this.connection.disconnect());
    })();
    return this.closed;
  }
}

function source(request: ListRequest): unknown {
  return request.source;
}
