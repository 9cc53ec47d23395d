import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RevmodError } from '@revmod/client';
import type { S3Client } from '@aws-sdk/client-s3';
import type { RevmodConfig } from '../config';
import { ListJournal } from './list-journal';
import type { KnownList, ListChange, ListEntry } from './list-types';

/** Options of {@link ListStore}. */
export interface ListStoreOptions {
  readonly redis: Redis;
  /** The BullMQ prefix (`revmod`); the lists live under `<prefix>:known:`. */
  readonly prefix: string;
  /** Where changes are journaled first; without one the lists cannot be changed (only read). */
  readonly journal: ListJournal | undefined;
  /** Changes kept in the stream for workers catching up; one further behind reloads everything. @defaultValue 100000 */
  readonly streamMaxLen?: number;
}

/** A change as streamed: its id in the stream and the lists' version it made. */
export interface StreamedChange {
  readonly id: string;
  readonly version: number;
  readonly change: ListChange;
}

/** Every list and entry at one point of the change stream (changes after `lastId` apply on top). */
export interface ListSnapshot {
  readonly lastId: string;
  readonly version: number;
  readonly lists: ReadonlyMap<string, { readonly list: KnownList; readonly entries: ListEntry[] }>;
}

/**
 * Applies one change to the lists' hashes, bumps the version, appends the change to the stream and
 * notifies subscribers, atomically. KEYS: version, stream, lists hash, the list's entries hash.
 * ARGV: op, list name, payload (JSON), change (JSON), stream length, channel.
 */
const APPLY = `
local op = ARGV[1]
if op == 'list' then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
elseif op == 'unlist' then
  redis.call('HDEL', KEYS[3], ARGV[2])
  redis.call('DEL', KEYS[4])
elseif op == 'add' then
  if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 0 then return redis.error_reply('LIST_NOT_FOUND no list ' .. ARGV[2]) end
  local flat = cjson.decode(ARGV[3])
  for i = 1, #flat, 2 do redis.call('HSET', KEYS[4], flat[i], flat[i + 1]) end
elseif op == 'remove' then
  local ids = cjson.decode(ARGV[3])
  for i = 1, #ids do redis.call('HDEL', KEYS[4], ids[i]) end
end
local v = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'v', v, 'c', ARGV[4])
redis.call('PUBLISH', ARGV[6], v)
return v
`;

const REBUILD_LOCK_MS = 120_000;

/**
 * The known-image lists in Redis: a hash of lists, a hash of entries per list, a version counter
 * and a stream of changes (what workers apply to their in-memory index), behind a journal in S3.
 * Every change is journaled first, then applied in one script; when Redis has lost the lists (a
 * new or flushed Redis: no `loaded` marker), the first process to notice replays the journal.
 */
export class ListStore {
  readonly base: string;
  readonly channel: string;
  private readonly keys: { readonly version: string; readonly stream: string; readonly lists: string; readonly loaded: string; readonly rebuilding: string };

  constructor(private readonly o: ListStoreOptions) {
    this.base = `${o.prefix}:known`;
    this.channel = `${this.base}:changed`;
    this.keys = {
      version: `${this.base}:lists:version`, stream: `${this.base}:lists:changes`, lists: `${this.base}:lists`,
      loaded: `${this.base}:lists:loaded`, rebuilding: `${this.base}:lists:rebuilding`,
    };
  }

  get journaled(): boolean {
    return this.o.journal !== undefined;
  }

  private entriesKey(name: string): string {
    return `${this.base}:list:${name}:entries`;
  }

  /** Journals `change`, then applies it in Redis; resolves with the lists' new version. */
  async apply(change: ListChange): Promise<number> {
    const journal = this.o.journal;
    if (!journal) throw new RevmodError('CONFIG_INVALID', 'the known-image lists are journaled to S3 before any change: set REVMOD_KNOWN_JOURNAL_BUCKET, received nothing');
    await this.ensureLoaded();
    await journal.append(change);
    return this.applyInRedis(change);
  }

  private async applyInRedis(change: ListChange): Promise<number> {
    const name = change.op === 'list' ? change.list.name : change.name;
    const payload = change.op === 'list' ? JSON.stringify(change.list)
      : change.op === 'add' ? JSON.stringify(change.entries.flatMap((e) => [e.id, JSON.stringify(e)]))
        : change.op === 'remove' ? JSON.stringify(change.ids) : '';
    try {
      const v = await this.o.redis.eval(APPLY, 4, this.keys.version, this.keys.stream, this.keys.lists, this.entriesKey(name),
        change.op, name, payload, JSON.stringify(change), String(this.o.streamMaxLen ?? 100_000), this.channel);
      return Number(v);
    } catch (err) {
      if (/LIST_NOT_FOUND/.test((err as Error).message)) throw new RevmodError('LIST_NOT_FOUND', `no list ${JSON.stringify(name)} (create it first)`);
      throw new RevmodError('LIST_UNAVAILABLE', `the lists in Redis could not be changed: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Makes sure Redis holds the lists: when the `loaded` marker is missing (a new or flushed Redis),
   * replays the journal (one process at a time; the others wait for it). Resolves with the number
   * of changes replayed by this call (0 when nothing was needed or another process did it).
   */
  async ensureLoaded(waitMs = REBUILD_LOCK_MS): Promise<number> {
    const { redis } = this.o;
    if ((await redis.exists(this.keys.loaded)) === 1) return 0;
    const journal = this.o.journal;
    if (!journal) {
      await redis.set(this.keys.loaded, JSON.stringify({ at: new Date().toISOString(), replayed: 0, journal: null }), 'NX');
      return 0;
    }
    const token = randomBytes(8).toString('hex');
    if ((await redis.set(this.keys.rebuilding, token, 'PX', REBUILD_LOCK_MS, 'NX')) !== 'OK') {
      const deadline = Date.now() + waitMs;
      while ((await redis.exists(this.keys.loaded)) !== 1) {
        if (Date.now() > deadline) throw new RevmodError('LIST_UNAVAILABLE', `the lists are being rebuilt from ${journal.location} by another process, not done within ${waitMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return 0;
    }
    let replayed = 0;
    try {
      for await (const record of journal.records()) {
        try {
          await this.applyInRedis(record.change);
        } catch (err) {
          // An entry added to a list deleted later (or never made): the journal's later state wins.
          if ((err as RevmodError).code !== 'LIST_NOT_FOUND') throw err;
        }
        replayed += 1;
      }
      await redis.set(this.keys.loaded, JSON.stringify({ at: new Date().toISOString(), replayed, journal: journal.location }));
    } finally {
      if ((await redis.get(this.keys.rebuilding)) === token) await redis.del(this.keys.rebuilding);
    }
    return replayed;
  }

  /** The lists' version (0 when none was ever changed, or Redis lost them). */
  async version(): Promise<number> {
    return Number((await this.o.redis.get(this.keys.version)) ?? 0);
  }

  async getList(name: string): Promise<KnownList | undefined> {
    const raw = await this.o.redis.hget(this.keys.lists, name);
    return raw === null ? undefined : JSON.parse(raw) as KnownList;
  }

  async lists(): Promise<KnownList[]> {
    return Object.values(await this.o.redis.hgetall(this.keys.lists)).map((v) => JSON.parse(v) as KnownList).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Entries of a list by id (those that exist). */
  async getEntries(name: string, ids: readonly string[]): Promise<ListEntry[]> {
    if (ids.length === 0) return [];
    const raw = await this.o.redis.hmget(this.entriesKey(name), ...ids);
    return raw.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as ListEntry);
  }

  async countEntries(name: string): Promise<number> {
    return this.o.redis.hlen(this.entriesKey(name));
  }

  /** Every entry of a list, read in pages (HSCAN) so that a large list does not block Redis. */
  async *entries(name: string, pageSize = 5_000): AsyncGenerator<ListEntry[]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.o.redis.hscan(this.entriesKey(name), cursor, 'COUNT', pageSize);
      cursor = next;
      const page: ListEntry[] = [];
      for (let i = 1; i < flat.length; i += 2) page.push(JSON.parse(flat[i]!) as ListEntry);
      if (page.length > 0) yield page;
    } while (cursor !== '0');
  }

  /**
   * Every list and entry, with the stream position to catch up from. The position is read first:
   * changes made while reading are streamed after it and applied again, which converges because
   * every change is idempotent and the stream keeps their order.
   */
  async snapshot(): Promise<ListSnapshot> {
    const last = await this.o.redis.xrevrange(this.keys.stream, '+', '-', 'COUNT', 1);
    const lastId = last[0]?.[0] ?? '0-0';
    const version = last[0] ? Number(fieldOf(last[0][1], 'v')) : await this.version();
    const lists = new Map<string, { list: KnownList; entries: ListEntry[] }>();
    for (const list of await this.lists()) {
      const entries: ListEntry[] = [];
      for await (const page of this.entries(list.name)) entries.push(...page);
      lists.set(list.name, { list, entries });
    }
    return { lastId, version, lists };
  }

  /** Changes streamed after `lastId`, oldest first, at most `count`. */
  async changesAfter(lastId: string, count = 1_000): Promise<StreamedChange[]> {
    const rows = await this.o.redis.xrange(this.keys.stream, `(${lastId}`, '+', 'COUNT', count);
    return rows.map(([id, fields]) => ({ id, version: Number(fieldOf(fields, 'v')), change: JSON.parse(fieldOf(fields, 'c')) as ListChange }));
  }
}

function fieldOf(fields: readonly string[], name: string): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]!;
  throw new RevmodError('INTERNAL', `a lists change in the stream has no field ${name}`);
}

/** The lists configured by `config.known`, journaled through `s3` when a journal bucket is set. */
export function listStoreOf(redis: Redis, s3: S3Client | undefined, config: Pick<RevmodConfig, 'redis' | 'known'>): ListStore {
  const { journalBucket, journalPrefix } = config.known;
  return new ListStore({
    redis, prefix: config.redis.prefix,
    journal: s3 && journalBucket !== undefined ? new ListJournal({ s3, bucket: journalBucket, prefix: journalPrefix }) : undefined,
  });
}
