import { PdqHashIndex } from './hash-index';
import { pdqHashFromHex } from './pdq';
import type { ListSnapshot } from './list-store';
import type { KnownList, ListChange, ListEntry } from './list-types';

/** The nearest entry of one list to an upload. */
export interface ListMatch {
  readonly list: KnownList;
  readonly entry: ListEntry;
  readonly distance: number;
  /** Which of the upload's hashes matched: 0 the image itself, 1–7 a rotation or flip. */
  readonly query: number;
}

/**
 * Every list's hashes in one in-memory {@link PdqHashIndex} (a worker's copy of what Redis holds),
 * changed entry by entry as changes arrive. Lookups search once at the largest radius of any list,
 * then keep, per list, its nearest entry within the list's own radius and quality floor.
 */
export class ListIndex {
  private index = new PdqHashIndex();
  private readonly lists = new Map<string, KnownList>();
  /** Per list: entry id → index id. */
  private readonly ids = new Map<string, Map<string, number>>();
  private readonly byIndexId = new Map<number, { readonly list: string; readonly entry: ListEntry }>();
  private maxRadius = 0;

  get size(): number {
    return this.byIndexId.size;
  }

  get listCount(): number {
    return this.lists.size;
  }

  /** Replaces everything with a snapshot. */
  load(snapshot: ListSnapshot): void {
    this.index = new PdqHashIndex();
    this.lists.clear();
    this.ids.clear();
    this.byIndexId.clear();
    for (const { list, entries } of snapshot.lists.values()) {
      this.apply({ op: 'list', list });
      this.apply({ op: 'add', name: list.name, entries });
    }
    this.index.build();
  }

  /** Applies one change (idempotent: a change applied twice leaves the same state). */
  apply(change: ListChange): void {
    switch (change.op) {
      case 'list':
        this.lists.set(change.list.name, change.list);
        if (!this.ids.has(change.list.name)) this.ids.set(change.list.name, new Map());
        break;
      case 'unlist': {
        for (const indexId of this.ids.get(change.name)?.values() ?? []) this.drop(indexId);
        this.ids.delete(change.name);
        this.lists.delete(change.name);
        break;
      }
      case 'add': {
        const ids = this.ids.get(change.name);
        if (!ids) break; // the list was deleted meanwhile
        for (const entry of change.entries) {
          const old = ids.get(entry.id);
          if (old !== undefined) this.drop(old);
          const indexId = this.index.add(pdqHashFromHex(entry.hash));
          ids.set(entry.id, indexId);
          this.byIndexId.set(indexId, { list: change.name, entry });
        }
        break;
      }
      case 'remove': {
        const ids = this.ids.get(change.name);
        for (const id of change.ids) {
          const indexId = ids?.get(id);
          if (indexId === undefined) continue;
          this.drop(indexId);
          ids!.delete(id);
        }
        break;
      }
    }
    this.maxRadius = Math.max(0, ...[...this.lists.values()].map((l) => l.maxDistance));
  }

  private drop(indexId: number): void {
    this.index.remove(indexId);
    this.byIndexId.delete(indexId);
  }

  /**
   * Per list, its nearest entry to any of `hashes` (hex: the image's hash, then its dihedral ones)
   * within the list's radius; lists whose quality floor is above `quality` are skipped.
   */
  match(hashes: readonly string[], quality: number): ListMatch[] {
    if (this.byIndexId.size === 0 || hashes.length === 0) return [];
    const eligible = [...this.lists.values()].filter((l) => quality >= l.minQuality);
    if (eligible.length === 0) return [];
    const radius = Math.max(...eligible.map((l) => l.maxDistance));
    const best = new Map<string, ListMatch>();
    for (const m of this.index.lookupAny(hashes.map(pdqHashFromHex), radius)) {
      const hit = this.byIndexId.get(m.id);
      if (!hit) continue;
      const list = this.lists.get(hit.list);
      if (!list || quality < list.minQuality || m.distance > list.maxDistance) continue;
      const seen = best.get(list.name);
      if (!seen || m.distance < seen.distance) best.set(list.name, { list, entry: hit.entry, distance: m.distance, query: m.query });
    }
    return [...best.values()].sort((a, b) => a.distance - b.distance || a.list.name.localeCompare(b.list.name));
  }

  /** The radius a lookup needs (the largest of the lists'); 0 without lists. */
  get radius(): number {
    return this.maxRadius;
  }
}
