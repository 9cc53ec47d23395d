import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { decisionIdFor, type DecisionState, type ReviewDecision } from '@revmod/client';
import { ReviewStore } from '../../src/review/review-store';
import { makeVerdict } from '../helpers/review-fixtures';
import { deletePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';

const HOUR = 3_600_000;

function decisionFor(id: string, round: number, outcome: 'pass' | 'block', user: string): { decision: ReviewDecision; state: DecisionState } {
  const now = new Date().toISOString();
  const decision = {
    schemaVersion: 1, id: decisionIdFor(id, round), jobId: id, bucket: 'reviews', key: id, sha256: null, round, kind: 'decide', outcome,
    previousOutcome: null, reasons: outcome === 'block' ? ['porn'] : [], reviewer: { id: user, role: 'reviewer' }, escalated: false,
    enqueuedAt: now, claimedAt: now, decidedAt: now, modelDecision: 'review', overturned: null,
    model: { name: 'm', version: '1', sha256: 'x', executionProvider: 'cpu' }, meta: {}, verdict: {} as never,
  } as ReviewDecision;
  return { decision, state: { jobId: id, status: 'final', outcome, source: 'reviewer', round, updatedAt: now } };
}

describe('review store (real Redis): leases, decisions, appeals', () => {
  const prefix = uniquePrefix('review-store');
  let redis: Redis;
  let store: ReviewStore;
  const make = (claimTtlMs = 60_000) => new ReviewStore({ redis, prefix, claimTtlMs, skipMs: 60_000, retainSeconds: 3_600, eventsMax: 1_000, commitGuardMs: 5_000 });

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
    store = make();
  });
  afterAll(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });

  it('ingests each verdict once, into the lane its decision calls for', async () => {
    const v = makeVerdict({ key: 'ingest/a.jpg', decision: 'review' });
    expect(await store.ingest(v)).toBe(true);
    expect(await store.ingest(v)).toBe(false);
    expect(await store.ingest(makeVerdict({ key: 'ingest/b.jpg', decision: 'block' }))).toBe(true);
    expect(await store.ingest(makeVerdict({ key: 'ingest/c.jpg', decision: 'pass' }))).toBe(true);
    const [a, b, c] = await store.getMany([v.id, makeVerdict({ key: 'ingest/b.jpg', decision: 'block' }).id, makeVerdict({ key: 'ingest/c.jpg', decision: 'pass' }).id]);
    expect([a?.kind, a?.lane, a?.outcome]).toEqual(['decide', 'decide', null]);
    expect([b?.kind, b?.lane, b?.outcome]).toEqual(['audit', 'audit', 'block']);
    expect([c?.kind, c?.lane, c?.outcome]).toEqual(['sample', 'decide', 'pass']);
  });

  it('hands out the oldest first and never the same item to two reviewers, however many claim at once', async () => {
    const base = Date.now() - 10 * HOUR;
    const verdicts = Array.from({ length: 60 }, (_, i) => makeVerdict({ bucket: 'race', key: `race/${i}.jpg`, decision: 'review', decidedAtMs: base + i * 1_000 }));
    // Shuffled ingestion: the order of arrival must not matter, only the verdict time.
    for (const v of [...verdicts].reverse()) await store.ingest(v);
    const reviewers = Array.from({ length: 10 }, (_, i) => `r${i}`);
    const lanePrefix = 'race/';
    const rounds = await Promise.all(reviewers.map((r) => store.claim(r, 'decide', 5)));
    const ids = rounds.flat().map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    const items = await store.getMany(ids);
    const raceItems = items.filter((i) => i?.key.startsWith(lanePrefix));
    // The 50 handed out are the 50 oldest race items (plus older items of the first test, claimed too).
    const claimedRaceKeys = new Set(raceItems.map((i) => i!.key));
    for (let i = 0; i < 50 - (ids.length - raceItems.length); i++) expect(claimedRaceKeys.has(`race/${i}.jpg`)).toBe(true);
    // Claiming again returns the same leases, not more.
    const again = await store.claim('r0', 'decide', 5);
    expect(again.map((c) => c.id).sort()).toEqual(rounds[0]!.map((c) => c.id).sort());
  });

  it('records a decision once per claim: a retry is answered with the first, another claim token is refused', async () => {
    const v = makeVerdict({ key: 'decide/one.jpg', decision: 'review', decidedAtMs: Date.now() - 20 * HOUR });
    await store.ingest(v);
    const [claim] = (await store.claim('alice', 'decide', 1));
    expect(claim?.id).toBe(v.id);
    const begin = await store.beginDecision('alice', v.id, claim!.token);
    expect(begin.status).toBe('begin');
    expect(await store.beginDecision('bob', v.id, claim!.token).catch((e: { code: string }) => e.code)).toBe('CLAIM_NOT_HELD');
    const { decision, state } = decisionFor(v.id, 1, 'block', 'alice');
    await store.commitDecision('alice', claim!.token, decision, state);
    const retry = await store.beginDecision('alice', v.id, claim!.token);
    expect(retry).toMatchObject({ status: 'done', last: { id: decision.id, outcome: 'block' } });
    expect((await store.outbox()).map((d) => d.id)).toContain(decision.id);
    const item = await store.get(v.id);
    expect([item?.state, item?.round, item?.outcome, item?.claim]).toEqual(['decided', 1, 'block', undefined]);
    expect(JSON.parse((await redis.get(`${store.base}:final:${v.id}`))!)).toMatchObject({ status: 'final', outcome: 'block', round: 1 });
    expect((await store.history(v.id)).map((h) => h.t)).toEqual(['queued', 'claimed', 'decided']);
  });

  it('returns an expired lease to the queue and refuses the late decision as expired', async () => {
    const short = make(800);
    const v = makeVerdict({ key: 'expire/late.jpg', decision: 'review', decidedAtMs: Date.now() - 30 * HOUR });
    await short.ingest(v);
    const [claim] = await short.claim('slow', 'decide', 1);
    expect(claim?.id).toBe(v.id);
    await sleep(1_000);
    expect(await short.reap()).toBeGreaterThanOrEqual(1);
    expect((await short.get(v.id))?.state).toBe('pending');
    await expect(short.beginDecision('slow', v.id, claim!.token)).rejects.toMatchObject({ code: 'CLAIM_EXPIRED', message: expect.stringMatching(/expired: the item went back to the queue and this decision was not applied/) });
    const [taken] = await short.claim('fast', 'decide', 1);
    expect(taken?.id).toBe(v.id);
    // Still expired for the first reviewer while another holds it.
    await expect(short.beginDecision('slow', v.id, claim!.token)).rejects.toMatchObject({ code: 'CLAIM_EXPIRED' });
    await short.release('fast', v.id, taken!.token, false);
  });

  it('keeps activity-extended leases alive, and skipped items away from the reviewer who skipped', async () => {
    const v = makeVerdict({ key: 'skip/me.jpg', decision: 'review', decidedAtMs: Date.now() - 40 * HOUR });
    await store.ingest(v);
    const [claim] = await store.claim('carol', 'decide', 1);
    expect(claim?.id).toBe(v.id);
    const extended = await store.extend('carol');
    expect(extended.find((e) => e.id === v.id)!.expiresAtMs).toBeGreaterThanOrEqual(claim!.expiresAtMs);
    await store.release('carol', v.id, claim!.token, true);
    const next = await store.claim('carol', 'decide', 1);
    expect(next[0]?.id).not.toBe(v.id);
    const other = await store.claim('dave', 'decide', 1);
    expect(other[0]?.id).toBe(v.id);
    for (const c of next) await store.release('carol', c.id, c.token, false);
    await store.release('dave', v.id, other[0]!.token, false);
  });

  it('escalates to the leads\' lane, reopens on appeal, and lets a lead claim a decided item to reverse it', async () => {
    const v = makeVerdict({ key: 'esc/x.jpg', decision: 'review', decidedAtMs: Date.now() - 50 * HOUR });
    await store.ingest(v);
    const [claim] = await store.claim('erin', 'decide', 1);
    await store.escalate('erin', v.id, claim!.token, 'not sure: looks like a tattoo');
    const escalated = await store.get(v.id);
    expect([escalated?.lane, escalated?.escalation?.note]).toEqual(['escalated', 'not sure: looks like a tattoo']);
    const [leadClaim] = await store.claim('lee', 'escalated', 1);
    expect(leadClaim?.id).toBe(v.id);
    await store.beginDecision('lee', v.id, leadClaim!.token);
    const d1 = decisionFor(v.id, 1, 'pass', 'lee');
    await store.commitDecision('lee', leadClaim!.token, d1.decision, d1.state);

    expect(await store.appeal(v.id, { reason: 'stale', appealedAt: new Date().toISOString() }, 0)).toBe('STALE');
    expect(await store.appeal(v.id, { reason: 'the shop says it is an ad', appealedAt: new Date().toISOString() }, 1)).toBe('REOPENED');
    const reopened = await store.get(v.id);
    expect([reopened?.state, reopened?.lane, reopened?.appeal?.reason]).toEqual(['pending', 'decide', 'the shop says it is an ad']);

    const rv = makeVerdict({ key: 'rev/y.jpg', decision: 'block' });
    await store.ingest(rv);
    await expect(store.claimForReversal('lee', rv.id)).rejects.toMatchObject({ code: 'CLAIM_NOT_HELD' });
    const all = await store.claim('lee', 'audit', 48);
    const mine = all.find((c) => c.id === rv.id)!;
    await store.beginDecision('lee', rv.id, mine.token);
    const d2 = decisionFor(rv.id, 1, 'block', 'lee');
    await store.commitDecision('lee', mine.token, d2.decision, d2.state);
    const reversal = await store.claimForReversal('lee', rv.id);
    const begin = await store.beginDecision('lee', rv.id, reversal.token);
    expect(begin.status === 'begin' && begin.item.claim?.reversal).toBe(true);
    for (const c of all.filter((c) => c.id !== rv.id)) await store.release('lee', c.id, c.token, false);
  });

  it('counts the backlog by lane and age, with the exact oldest time', async () => {
    const stats = await store.laneStats();
    const decide = stats.find((s) => s.lane === 'decide')!;
    expect(decide.pending).toBeGreaterThan(0);
    const oldest = await redis.zrange(`${store.base}:lane:decide`, '0', '0', 'WITHSCORES');
    expect(decide.oldestEnqueuedAtMs).toBe(Number(oldest[1]));
    const byAge = await store.backlogByAge(Date.now());
    const sum = byAge.filter((b) => b.lane === 'decide').reduce((a, b) => a + b.count, 0);
    expect(sum).toBe(decide.pending);
  });

  it('deletes an item with its history, final state and indexes', async () => {
    const v = makeVerdict({ key: 'gone/z.jpg', decision: 'review', bytes: Buffer.from('bytes') });
    await store.ingest(v);
    expect(await store.idsFor({ bucket: v.bucket, key: v.key })).toEqual([v.id]);
    const removed = await store.deleteItem(v.id, 'dpo');
    expect(removed).toMatchObject({ bucket: 'reviews', key: 'gone/z.jpg' });
    expect(await store.get(v.id)).toBeUndefined();
    expect(await store.history(v.id)).toEqual([]);
    expect(await redis.get(`${store.base}:final:${v.id}`)).toBeNull();
    expect(await redis.zscore(`${store.base}:lane:decide`, v.id)).toBeNull();
  });
});
