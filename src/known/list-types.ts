import { createHash } from 'node:crypto';
import { RevmodError } from '@revmod/client';
import { PDQ_MATCH_DISTANCE, PDQ_MIN_QUALITY } from './pdq';

/** `block` lists flag copies of known violations (`known_violation`); `allow` lists known-good images (`known_ok`). */
export type ListKind = 'block' | 'allow';

/** What a match on the list asks the policy for (block lists: block or review; allow lists: pass). */
export type ListAction = 'block' | 'review' | 'pass';

/** A named list of PDQ hashes. */
export interface KnownList {
  readonly name: string;
  readonly kind: ListKind;
  readonly action: ListAction;
  /** Largest Hamming distance that matches (PDQ's published operating point: 31). */
  readonly maxDistance: number;
  /** Uploads whose PDQ quality is below this never match (flat images hash unreliably). */
  readonly minQuality: number;
  readonly description?: string;
  readonly createdAt: string;
  readonly createdBy: string;
}

/** Where a listed hash came from: an image in S3, a verdict, or a raw hash someone supplied. */
export interface EntryOrigin {
  readonly type: 'object' | 'verdict' | 'hash';
  readonly bucket?: string;
  readonly key?: string;
  readonly verdictId?: string;
  readonly sha256?: string;
  /** The review decision or note that put it here, when there is one. */
  readonly note?: string;
}

/** One hash on a list. */
export interface ListEntry {
  /** Stable id: derived from the list and the hash, so adding the same hash twice is one entry. */
  readonly id: string;
  /** PDQ hash, 64 hex digits. */
  readonly hash: string;
  /** PDQ quality of the listed image (0–100); absent for raw hashes given without one. */
  readonly quality?: number;
  readonly origin: EntryOrigin;
  readonly addedAt: string;
  readonly addedBy: string;
}

/** One change to the lists, as journaled in S3 and streamed to workers. */
export type ListChange =
  | { readonly op: 'list'; readonly list: KnownList }
  | { readonly op: 'unlist'; readonly name: string }
  | { readonly op: 'add'; readonly name: string; readonly entries: readonly ListEntry[] }
  | { readonly op: 'remove'; readonly name: string; readonly ids: readonly string[] };

export const LIST_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const DEFAULT_LIST_ACTION: Readonly<Record<ListKind, ListAction>> = { block: 'block', allow: 'pass' };

/** Validates a list's name. @throws RevmodError LIST_INVALID naming the value. */
export function checkListName(name: unknown): string {
  if (typeof name !== 'string' || !LIST_NAME_PATTERN.test(name)) {
    throw new RevmodError('LIST_INVALID', `list name must be 1–64 of a-z 0-9 . _ - (starting with a letter or digit), received ${JSON.stringify(name)}`);
  }
  return name;
}

/** A PDQ hash as 64 lower-case hex digits. @throws RevmodError LIST_INVALID naming the value. */
export function checkHashHex(hash: unknown, what = 'hash'): string {
  if (typeof hash !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hash)) {
    throw new RevmodError('LIST_INVALID', `${what} must be a PDQ hash of 64 hex digits, received ${JSON.stringify(hash)}`);
  }
  return hash.toLowerCase();
}

/** The id of `hash` on list `name`. */
export function entryIdOf(name: string, hash: string): string {
  return createHash('sha256').update(`${name}\n${hash}`).digest('hex').slice(0, 24);
}

export interface ListSpec {
  readonly name: string;
  readonly kind: ListKind;
  readonly action?: ListAction;
  readonly maxDistance?: number;
  readonly minQuality?: number;
  readonly description?: string;
}

/** A list from what a user asked for, with the defaults. @throws RevmodError LIST_INVALID naming the field. */
export function makeList(spec: ListSpec, by: string, now = new Date()): KnownList {
  const name = checkListName(spec.name);
  if (spec.kind !== 'block' && spec.kind !== 'allow') throw new RevmodError('LIST_INVALID', `list kind must be "block" or "allow", received ${JSON.stringify(spec.kind)}`);
  const action = spec.action ?? DEFAULT_LIST_ACTION[spec.kind];
  const allowed: readonly ListAction[] = spec.kind === 'block' ? ['block', 'review'] : ['pass'];
  if (!allowed.includes(action)) throw new RevmodError('LIST_INVALID', `${spec.kind === 'allow' ? 'an' : 'a'} ${spec.kind} list's action must be ${allowed.map((a) => `"${a}"`).join(' or ')}, received ${JSON.stringify(action)}`);
  const maxDistance = spec.maxDistance ?? PDQ_MATCH_DISTANCE;
  if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > 64) throw new RevmodError('LIST_INVALID', `maxDistance must be an integer 0–64, received ${JSON.stringify(spec.maxDistance)}`);
  const minQuality = spec.minQuality ?? PDQ_MIN_QUALITY;
  if (!Number.isInteger(minQuality) || minQuality < 0 || minQuality > 100) throw new RevmodError('LIST_INVALID', `minQuality must be an integer 0–100, received ${JSON.stringify(spec.minQuality)}`);
  if (spec.description !== undefined && (typeof spec.description !== 'string' || spec.description.length > 500)) {
    throw new RevmodError('LIST_INVALID', `description must be a string of at most 500 characters, received ${JSON.stringify(spec.description).slice(0, 80)}`);
  }
  return {
    name, kind: spec.kind, action, maxDistance, minQuality,
    ...(spec.description ? { description: spec.description } : {}),
    createdAt: now.toISOString(), createdBy: by,
  };
}
