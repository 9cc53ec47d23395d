import { ListIndex } from '../../src/known/list-index';
import { entryIdOf, makeList, type ListEntry } from '../../src/known/list-types';

/** A hash with `flips` bits set from the top of `base`. */
function flipped(base: string, flips: number): string {
  const bytes = Buffer.from(base, 'hex');
  for (let i = 0; i < flips; i++) bytes[i >> 3]! ^= 0x80 >> (i & 7);
  return bytes.toString('hex');
}

const A = 'a5'.repeat(32);
const B = '3c'.repeat(32);
const entry = (list: string, hash: string): ListEntry => ({ id: entryIdOf(list, hash), hash, quality: 100, origin: { type: 'hash' }, addedAt: '2026-12-01T00:00:00Z', addedBy: 't' });

describe('ListIndex (a worker\'s copy of the lists)', () => {
  it('matches within each list\'s own radius and quality floor, nearest entry per list', () => {
    const index = new ListIndex();
    index.apply({ op: 'list', list: makeList({ name: 'spam', kind: 'block' }, 't') });
    index.apply({ op: 'list', list: makeList({ name: 'tight', kind: 'block', action: 'review', maxDistance: 4, minQuality: 80 }, 't') });
    index.apply({ op: 'list', list: makeList({ name: 'banners', kind: 'allow' }, 't') });
    index.apply({ op: 'add', name: 'spam', entries: [entry('spam', A), entry('spam', flipped(A, 20))] });
    index.apply({ op: 'add', name: 'tight', entries: [entry('tight', A)] });
    index.apply({ op: 'add', name: 'banners', entries: [entry('banners', B)] });
    expect(index.size).toBe(4);

    const near = index.match([flipped(A, 3)], 90).map((m) => [m.list.name, m.distance, m.entry.hash]);
    expect(near).toEqual([['spam', 3, A], ['tight', 3, A]]);
    expect(index.match([flipped(A, 3)], 60).map((m) => m.list.name)).toEqual(['spam']); // below tight's floor
    expect(index.match([flipped(A, 6)], 90).map((m) => m.list.name)).toEqual(['spam']); // beyond tight's radius
    expect(index.match([flipped(A, 3)], 40)).toEqual([]); // below every floor
    // The second hash (a dihedral variant) matched: reported as query 1.
    expect(index.match([flipped(B, 100), flipped(B, 1)], 100)).toEqual([expect.objectContaining({ distance: 1, query: 1, list: expect.objectContaining({ name: 'banners' }) })]);
    expect(index.match([flipped(A, 60)], 100)).toEqual([]);
  });

  it('applies changes idempotently: a change replayed, removals, and a deleted list', () => {
    const index = new ListIndex();
    const list = makeList({ name: 'spam', kind: 'block' }, 't');
    const add = { op: 'add' as const, name: 'spam', entries: [entry('spam', A)] };
    index.apply({ op: 'list', list });
    index.apply(add);
    index.apply(add);
    expect(index.size).toBe(1);
    index.apply({ op: 'remove', name: 'spam', ids: [entry('spam', A).id, 'no-such-id'] });
    index.apply({ op: 'remove', name: 'spam', ids: [entry('spam', A).id] });
    expect([index.size, index.match([A], 100)]).toEqual([0, []]);
    index.apply(add);
    index.apply({ op: 'unlist', name: 'spam' });
    index.apply(add); // an add to a list deleted meanwhile is ignored
    expect([index.size, index.listCount, index.match([A], 100)]).toEqual([0, 0, []]);
  });

  it('loads a snapshot, replacing what it held', () => {
    const index = new ListIndex();
    index.apply({ op: 'list', list: makeList({ name: 'old', kind: 'block' }, 't') });
    index.apply({ op: 'add', name: 'old', entries: [entry('old', B)] });
    const list = makeList({ name: 'spam', kind: 'block' }, 't');
    index.load({ lastId: '1-0', version: 7, lists: new Map([['spam', { list, entries: [entry('spam', A)] }]]) });
    expect(index.match([B], 100)).toEqual([]);
    expect(index.match([A], 100).map((m) => m.list.name)).toEqual(['spam']);
  });

  it('refuses bad list settings, naming the field and the value', () => {
    expect(() => makeList({ name: 'Spam!', kind: 'block' }, 't')).toThrow(/list name must be 1–64 of a-z 0-9 . _ - .*received "Spam!"/);
    expect(() => makeList({ name: 'x', kind: 'grey' as 'block' }, 't')).toThrow(/list kind must be "block" or "allow", received "grey"/);
    expect(() => makeList({ name: 'x', kind: 'allow', action: 'block' }, 't')).toThrow(/an allow list's action must be "pass", received "block"/);
    expect(() => makeList({ name: 'x', kind: 'block', maxDistance: 70 }, 't')).toThrow(/maxDistance must be an integer 0–64, received 70/);
    expect(() => makeList({ name: 'x', kind: 'block', minQuality: -1 }, 't')).toThrow(/minQuality must be an integer 0–100, received -1/);
    expect(makeList({ name: 'x', kind: 'block' }, 't')).toMatchObject({ action: 'block', maxDistance: 31, minQuality: 50 });
  });
});
