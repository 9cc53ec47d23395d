import { createHash } from 'node:crypto';
import { RevmodError, type Verdict } from '@revmod/client';
import type { DecodeOptions } from '../preprocess/preprocess-options';
import type { PdqHashes } from '../pool/decode-task';
import { bareEtag, type ObjectStore } from '../storage/object-store';
import { ListIndex, type ListMatch } from './list-index';
import type { ListStore } from './list-store';
import { checkHashHex, checkListName, entryIdOf, makeList, type EntryOrigin, type KnownList, type ListEntry, type ListSpec } from './list-types';
import { pdqOfUpload } from './upload-pdq';

/** What names an image for a list: its hash, its object in S3, or a verdict about it. */
export type EntrySource =
  | { readonly hash: string; readonly quality?: number }
  | { readonly bucket: string; readonly key: string; readonly versionId?: string }
  | { readonly verdictId: string };

/** Options of {@link KnownLists}. */
export interface KnownListsOptions {
  readonly store: ListStore;
  /** Fetches images named by `{bucket, key}` or by a verdict; without one only raw hashes are accepted. */
  readonly objects?: ObjectStore;
  /** The verdict with this id (the moderation job's return value), for entries named by verdict. */
  readonly verdictOf?: (verdictId: string) => Promise<Verdict | undefined>;
  /** Buckets images may be fetched from; empty: any. */
  readonly allowedBuckets: readonly string[];
  readonly maxBytes: number;
  /** The worker's decode limits (pixels, SVG), so an image is hashed as a worker hashes it. */
  readonly decode: Partial<DecodeOptions>;
  /** The live index of a worker, for lookups; without one a lookup loads the lists from Redis. */
  readonly match?: (pdq: PdqHashes) => ListMatch[];
}

/** One list with its entry count and (some of) its entries. */
export interface ListView {
  readonly list: KnownList;
  readonly entries: number;
  readonly sample: readonly ListEntry[];
}

/** A match as the SDK and the CLI report it. */
export interface LookupMatch {
  readonly list: string;
  readonly kind: KnownList['kind'];
  readonly action: KnownList['action'];
  readonly distance: number;
  readonly entry: ListEntry;
}

/** What an image resolved to: its hashes and where it came from. */
interface Resolved {
  readonly pdq: PdqHashes | undefined;
  readonly hash: string;
  readonly quality: number | undefined;
  readonly origin: EntryOrigin;
}

/**
 * The known-image lists as people and services change them: create and delete lists, add and
 * remove entries named by a raw hash, an image in S3 (fetched and hashed exactly as a worker
 * would), or a verdict, and look images up. Every change goes through {@link ListStore} (S3
 * journal first, then Redis, then every worker within a second).
 */
export class KnownLists {
  constructor(private readonly o: KnownListsOptions) {}

  async create(spec: ListSpec, by: string): Promise<{ list: KnownList; created: boolean }> {
    const list = makeList(spec, by);
    const existing = await this.o.store.getList(list.name);
    if (existing) {
      const same = existing.kind === list.kind && existing.action === list.action && existing.maxDistance === list.maxDistance && existing.minQuality === list.minQuality;
      if (!same) {
        throw new RevmodError('LIST_INVALID', `list ${list.name} exists as ${describe(existing)}, received ${describe(list)}: delete it first to change it`);
      }
      return { list: existing, created: false };
    }
    await this.o.store.apply({ op: 'list', list });
    return { list, created: true };
  }

  async delete(name: string): Promise<void> {
    await this.need(name);
    await this.o.store.apply({ op: 'unlist', name });
  }

  async lists(): Promise<ListView[]> {
    const lists = await this.o.store.lists();
    return Promise.all(lists.map(async (list) => ({ list, entries: await this.o.store.countEntries(list.name), sample: [] })));
  }

  /** A list, its entry count and up to `limit` entries. */
  async show(name: string, limit = 20): Promise<ListView> {
    const list = await this.need(name);
    const sample: ListEntry[] = [];
    for await (const page of this.o.store.entries(name)) {
      sample.push(...page.slice(0, limit - sample.length));
      if (sample.length >= limit) break;
    }
    return { list, entries: await this.o.store.countEntries(name), sample };
  }

  /** Adds the image `source` names; adding a hash already listed keeps one entry (the newer origin). */
  async add(name: string, source: EntrySource, by: string, note?: string): Promise<ListEntry> {
    const list = await this.need(name);
    const r = await this.resolve(source);
    if (r.quality !== undefined && r.quality < list.minQuality) {
      throw new RevmodError('LIST_INVALID', `the image's PDQ quality is ${r.quality}, below list ${name}'s minQuality ${list.minQuality}: its hash is not reliable enough to match copies`);
    }
    const entry: ListEntry = {
      id: entryIdOf(name, r.hash), hash: r.hash, ...(r.quality !== undefined ? { quality: r.quality } : {}),
      origin: { ...r.origin, ...(note ? { note } : {}) }, addedAt: new Date().toISOString(), addedBy: by,
    };
    await this.o.store.apply({ op: 'add', name, entries: [entry] });
    return entry;
  }

  /** Removes the entry for the image `source` names (or `{ entryId }`); resolves with the ids removed. */
  async remove(name: string, source: EntrySource | { readonly entryId: string }): Promise<string[]> {
    await this.need(name);
    const id = 'entryId' in source ? String(source.entryId) : entryIdOf(name, (await this.resolve(source)).hash);
    const found = await this.o.store.getEntries(name, [id]);
    if (found.length === 0) throw new RevmodError('LIST_NOT_FOUND', `list ${name} has no entry ${'entryId' in source ? id : `for ${describeSource(source)}`}`);
    await this.o.store.apply({ op: 'remove', name, ids: [id] });
    return [id];
  }

  /** The lists an image matches, nearest first (one match per list). */
  async lookup(source: EntrySource): Promise<{ hash: string; quality: number | undefined; matches: LookupMatch[] }> {
    const r = await this.resolve(source);
    const pdq: PdqHashes = r.pdq ?? { hashes: [r.hash], quality: r.quality ?? 100 };
    let matches: ListMatch[];
    if (this.o.match) matches = this.o.match(pdq);
    else {
      const index = new ListIndex();
      index.load(await this.o.store.snapshot());
      matches = index.match(pdq.hashes, pdq.quality);
    }
    return {
      hash: r.hash, quality: r.quality,
      matches: matches.map((m) => ({ list: m.list.name, kind: m.list.kind, action: m.list.action, distance: m.distance, entry: m.entry })),
    };
  }

  private async need(name: string): Promise<KnownList> {
    const list = await this.o.store.getList(checkListName(name));
    if (!list) throw new RevmodError('LIST_NOT_FOUND', `no list ${JSON.stringify(name)}`);
    return list;
  }

  private async resolve(source: EntrySource): Promise<Resolved> {
    if (typeof source !== 'object' || source === null) throw new RevmodError('LIST_INVALID', `an entry is named by { hash }, { bucket, key } or { verdictId }, received ${JSON.stringify(source)}`);
    if ('hash' in source) {
      const hash = checkHashHex(source.hash);
      const q = source.quality;
      if (q !== undefined && (!Number.isInteger(q) || q < 0 || q > 100)) throw new RevmodError('LIST_INVALID', `quality must be an integer 0–100, received ${JSON.stringify(q)}`);
      return { pdq: undefined, hash, quality: q, origin: { type: 'hash' } };
    }
    if ('verdictId' in source) {
      const id = source.verdictId;
      if (typeof id !== 'string' || !/^[A-Za-z0-9_:-]{1,128}$/.test(id)) throw new RevmodError('LIST_INVALID', `verdictId must be a verdict (job) id, received ${JSON.stringify(id)}`);
      const verdict = await this.o.verdictOf?.(id);
      if (!verdict) throw new RevmodError('ITEM_NOT_FOUND', `no verdict ${id} (verdicts are kept with their jobs for REVMOD_RETAIN_COMPLETED_S)`);
      const sha256 = verdict.version?.sha256;
      const fetched = await this.hashObject(verdict.bucket, verdict.key, {
        ...(verdict.version?.versionId !== undefined ? { versionId: verdict.version.versionId } : {}),
        ...(verdict.version?.etag !== undefined ? { etag: bareEtag(verdict.version.etag)! } : {}),
      });
      if (sha256 !== undefined && fetched.sha256 !== sha256) {
        throw new RevmodError('CONTENT_MISMATCH', `s3://${verdict.bucket}/${verdict.key} no longer holds the bytes verdict ${id} judged (sha256 ${fetched.sha256}, verdict ${sha256})`);
      }
      return { pdq: fetched.pdq, hash: fetched.pdq.hashes[0]!, quality: fetched.pdq.quality, origin: { type: 'verdict', verdictId: id, bucket: verdict.bucket, key: verdict.key, sha256: fetched.sha256 } };
    }
    if ('bucket' in source && 'key' in source) {
      const { bucket, key } = source;
      if (typeof bucket !== 'string' || bucket === '' || typeof key !== 'string' || key === '') {
        throw new RevmodError('LIST_INVALID', `bucket and key must be non-empty strings, received ${JSON.stringify({ bucket, key })}`);
      }
      const fetched = await this.hashObject(bucket, key, source.versionId !== undefined ? { versionId: source.versionId } : {});
      return { pdq: fetched.pdq, hash: fetched.pdq.hashes[0]!, quality: fetched.pdq.quality, origin: { type: 'object', bucket, key, sha256: fetched.sha256 } };
    }
    throw new RevmodError('LIST_INVALID', `an entry is named by { hash }, { bucket, key } or { verdictId }, received ${JSON.stringify(source)}`);
  }

  private async hashObject(bucket: string, key: string, version: { versionId?: string; etag?: string }): Promise<{ pdq: PdqHashes; sha256: string }> {
    if (!this.o.objects) throw new RevmodError('LIST_INVALID', 'images can be named by { bucket, key } or { verdictId } only where S3 is configured; give { hash }');
    if (this.o.allowedBuckets.length > 0 && !this.o.allowedBuckets.includes(bucket)) {
      throw new RevmodError('BUCKET_NOT_ALLOWED', `bucket ${JSON.stringify(bucket)} is not in REVMOD_ALLOWED_BUCKETS (${this.o.allowedBuckets.join(', ')})`);
    }
    const fetched = await this.o.objects.fetch(bucket, key, { maxBytes: this.o.maxBytes, ...version });
    const sha256 = createHash('sha256').update(fetched.bytes).digest('hex');
    return { pdq: await pdqOfUpload(fetched.bytes, this.o.decode), sha256 };
  }
}

function describe(l: KnownList): string {
  return `${l.kind} (action ${l.action}, maxDistance ${l.maxDistance}, minQuality ${l.minQuality})`;
}

function describeSource(s: EntrySource): string {
  if ('hash' in s) return `hash ${s.hash}`;
  if ('verdictId' in s) return `verdict ${s.verdictId}`;
  return `s3://${s.bucket}/${s.key}`;
}
