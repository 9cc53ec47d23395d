import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { Queue } from 'bullmq';
import { consumeDecisions, consumeVerdicts, ReviewClient, verdictJobOptions, watchReview, type DecisionConsumer, type ReviewDecision, type ReviewEvent, type Verdict } from '@revmod/client';
import { makeVerdict } from '../helpers/review-fixtures';
import { ConsoleSession, OTHER_BUCKET, PHOTOS, startConsole, USERS, type ConsoleHarness } from '../helpers/console-harness';
import { samples, scrape, total } from '../helpers/prom-text';

const pw = (id: string): string => USERS.find((u) => u.id === id)!.password;
interface ClaimBody { items: Array<{ id: string; token: string; key: string; kind: string; verdict: Record<string, unknown>; outcome: string | null; appeal?: { reason: string } }> }

describe('review console API (real Redis, real S3 server)', () => {
  let h: ConsoleHarness;
  let alice: ConsoleSession;
  let bob: ConsoleSession;
  let lee: ConsoleSession;
  let consumer: DecisionConsumer;
  const received: ReviewDecision[] = [];

  beforeAll(async () => {
    h = await startConsole({ name: 'console-api', review: { claimBatch: 4 } });
    consumer = consumeDecisions({ config: h.config, handler: (d) => { received.push(d); } });
    [alice, bob, lee] = await Promise.all([ConsoleSession.login(h.url, 'alice', pw('alice')), ConsoleSession.login(h.url, 'bob', pw('bob')), ConsoleSession.login(h.url, 'lee', pw('lee'))]);
  }, 60_000);
  afterAll(async () => {
    await consumer?.close();
    await h?.close();
  });

  it('acknowledges a decision only once it is in the S3 log; it reaches consumeDecisions and getDecision; a retry adds nothing', async () => {
    const [v] = await h.seed([{ key: 'api/decide-1.jpg', decision: 'review', ageMs: 3_600_000 }]);
    const claim = await alice.call<ClaimBody>('POST', '/api/claim', { lane: 'decide', want: 1 });
    expect(claim.status).toBe(200);
    const item = claim.body.items[0]!;
    expect(item.id).toBe(v!.id);
    const body = { token: item.token, outcome: 'block', reasons: ['contact_info'], note: '图中有微信号' };
    const first = await alice.call<{ decision: ReviewDecision; repeated: boolean }>('POST', `/api/items/${item.id}/decision`, body);
    expect(first.status).toBe(200);
    expect(first.body.repeated).toBe(false);
    // In the log before the answer came back.
    const keys = await h.console.log.keys();
    const logged = (await Promise.all(keys.map((k) => h.console.log.read(k)))).flat();
    expect(logged.filter((d) => d.jobId === v!.id)).toEqual([expect.objectContaining({
      id: `${v!.id}-r1`, outcome: 'block', reasons: ['contact_info'], note: '图中有微信号', reviewer: { id: 'alice', role: 'reviewer' },
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/), model: expect.objectContaining({ version: '0.0.1' }), verdict: expect.objectContaining({ id: v!.id }),
    })]);
    const again = await alice.call<{ repeated: boolean }>('POST', `/api/items/${item.id}/decision`, body);
    expect([again.status, again.body.repeated]).toEqual([200, true]);
    const conflict = await alice.call<{ error: { code: string } }>('POST', `/api/items/${item.id}/decision`, { ...body, outcome: 'pass', reasons: [] });
    expect([conflict.status, conflict.body.error.code]).toEqual([409, 'DECISION_CONFLICT']);
    const deadline = Date.now() + 10_000;
    while (!received.some((d) => d.jobId === v!.id) && Date.now() < deadline) await sleep(50);
    expect(received.filter((d) => d.jobId === v!.id)).toHaveLength(1);
    const review = new ReviewClient({ config: h.config });
    try {
      expect(await review.getDecision(v!.id)).toMatchObject({ status: 'final', outcome: 'block', source: 'reviewer', round: 1 });
    } finally {
      await review.close();
    }
    const objects = await h.s3.client.send(new ListObjectsV2Command({ Bucket: h.config.review.logBucket!, Prefix: h.config.review.logPrefix }));
    expect(objects.Contents?.every((o) => o.Key!.endsWith('.jsonl'))).toBe(true);
  });

  it('refuses a rejection without a reason, and unknown reasons, naming what it received', async () => {
    await h.seed([{ key: 'api/invalid.jpg', decision: 'review', ageMs: 7_200_000 }]);
    const { body } = await bob.call<ClaimBody>('POST', '/api/claim', { lane: 'decide', want: 1 });
    const item = body.items[0]!;
    const none = await bob.call<{ error: { code: string; message: string } }>('POST', `/api/items/${item.id}/decision`, { token: item.token, outcome: 'block', reasons: [] });
    expect([none.status, none.body.error.code]).toEqual([400, 'DECISION_INVALID']);
    expect(none.body.error.message).toMatch(/a rejection needs a reason/);
    const unknown = await bob.call<{ error: { message: string } }>('POST', `/api/items/${item.id}/decision`, { token: item.token, outcome: 'block', reasons: ['ugly'] });
    expect(unknown.body.error.message).toMatch(/reasons must be codes of the taxonomy .*received \["ugly"\]/);
    await bob.call('POST', `/api/items/${item.id}/release`, { token: item.token });
  });

  it('shows a QC sample blind: no decision, scores or reasons reach the page', async () => {
    const [s] = await h.seed([{ key: 'api/sample.jpg', decision: 'pass', ageMs: 86_400_000 }]);
    const { body } = await bob.call<ClaimBody>('POST', '/api/claim', { lane: 'decide', want: 4 });
    const item = body.items.find((i) => i.id === s!.id)!;
    expect(item.kind).toBe('decide');
    expect(item.outcome).toBeNull();
    expect(item.verdict).toMatchObject({ blind: true });
    for (const field of ['decision', 'scores', 'reasons', 'label', 'evidence', 'model']) expect(item.verdict).not.toHaveProperty(field);
    const r = await bob.call<{ decision: ReviewDecision }>('POST', `/api/items/${item.id}/decision`, { token: item.token, outcome: 'block', reasons: ['porn'] });
    expect(r.body.decision).toMatchObject({ kind: 'sample', outcome: 'block', previousOutcome: 'pass', overturned: true });
    for (const other of body.items.filter((i) => i.id !== s!.id)) await bob.call('POST', `/api/items/${other.id}/release`, { token: other.token });
  });

  it('serves images only to the claim holder (or a lead), only from allowed buckets, only at the judged content', async () => {
    const [mine, foreign, changed] = await h.seed([
      { key: 'api/proxy-mine.jpg', decision: 'review', ageMs: 90_000_000 },
      { key: 'api/proxy-foreign.jpg', decision: 'review', ageMs: 89_000_000, bucket: OTHER_BUCKET },
      { key: 'api/proxy-changed.jpg', decision: 'review', ageMs: 88_000_000 },
    ]);
    const { body } = await alice.call<ClaimBody>('POST', '/api/claim', { lane: 'decide', want: 4 });
    const ids = body.items.map((i) => i.id);
    expect(ids).toEqual(expect.arrayContaining([mine!.id, foreign!.id, changed!.id]));
    const img = await fetch(`${h.url}/api/items/${mine!.id}/image?size=thumb`, { headers: { cookie: alice.cookie } });
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/jpeg');
    expect(img.headers.get('cache-control')).toBe('private, no-store');
    const meta = await sharp(Buffer.from(await img.arrayBuffer())).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(480);
    expect(meta.exif).toBeUndefined();

    const notMine = await bob.call<{ error: { code: string } }>('GET', `/api/items/${mine!.id}/image`);
    expect([notMine.status, notMine.body.error.code]).toEqual([403, 'FORBIDDEN']);
    expect((await lee.call('GET', `/api/items/${mine!.id}/image`)).status).toBe(200);
    const outside = await alice.call<{ error: { code: string } }>('GET', `/api/items/${foreign!.id}/image`);
    expect([outside.status, outside.body.error.code]).toEqual([403, 'BUCKET_NOT_ALLOWED']);
    await h.s3.put(PHOTOS, 'api/proxy-changed.jpg', await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } }).jpeg().toBuffer(), 'image/jpeg');
    const swapped = await alice.call<{ error: { code: string } }>('GET', `/api/items/${changed!.id}/image`);
    expect([swapped.status, swapped.body.error.code]).toEqual([409, 'CONTENT_MISMATCH']);
    const anonymous = await fetch(`${h.url}/api/items/${mine!.id}/image`, { headers: { accept: 'application/json' } });
    expect(anonymous.status).toBe(401);
    for (const i of body.items) await alice.call('POST', `/api/items/${i.id}/release`, { token: i.token });
  });

  it('keeps escalations and reversals to leads, and records a reversal as a new decision', async () => {
    const [v] = await h.seed([{ key: 'api/escalate.jpg', decision: 'block', ageMs: 100_000_000 }]);
    const claim = await alice.call<ClaimBody>('POST', '/api/claim', { lane: 'audit', want: 1 });
    const item = claim.body.items[0]!;
    expect(item.id).toBe(v!.id);
    expect((await alice.call('POST', `/api/items/${item.id}/escalate`, { token: item.token, note: '需要组长确认' })).status).toBe(200);
    expect((await alice.call('POST', '/api/claim', { lane: 'escalated' })).status).toBe(403);
    expect((await alice.call('GET', '/api/decided')).status).toBe(403);
    expect((await alice.call('POST', `/api/items/${item.id}/reverse`, {})).status).toBe(403);

    const leadClaim = await lee.call<ClaimBody>('POST', '/api/claim', { lane: 'escalated', want: 1 });
    const esc = leadClaim.body.items[0]!;
    expect(esc.id).toBe(v!.id);
    const kept = await lee.call<{ decision: ReviewDecision }>('POST', `/api/items/${esc.id}/decision`, { token: esc.token, outcome: 'block', reasons: ['porn'] });
    expect(kept.body.decision).toMatchObject({ kind: 'audit', escalated: true, round: 1, reviewer: { id: 'lee', role: 'lead' } });
    const decided = await lee.call<{ items: Array<{ id: string }> }>('GET', '/api/decided');
    expect(decided.body.items.map((i) => i.id)).toContain(v!.id);
    const rev = await lee.call<{ item: { token: string; reversal: boolean } }>('POST', `/api/items/${v!.id}/reverse`, {});
    expect(rev.body.item.reversal).toBe(true);
    const same = await lee.call<{ error: { message: string } }>('POST', `/api/items/${v!.id}/decision`, { token: rev.body.item.token, outcome: 'block', reasons: ['porn'] });
    expect(same.body.error.message).toMatch(/a reversal must change the outcome/);
    const reversed = await lee.call<{ decision: ReviewDecision }>('POST', `/api/items/${v!.id}/decision`, { token: rev.body.item.token, outcome: 'pass', note: 'art, not porn' });
    expect(reversed.body.decision).toMatchObject({ kind: 'reversal', round: 2, reverses: `${v!.id}-r1`, previousOutcome: 'block', outcome: 'pass' });
    const history = (await h.console.store.history(v!.id)).map((e) => e.t);
    expect(history).toEqual(['queued', 'claimed', 'escalated', 'claimed', 'decided', 'claimed', 'decided']);
  });

  it('reopens a decided image on appeal(); the audit trail shows the whole history', async () => {
    const [v] = await h.seed([{ key: 'api/appeal.jpg', decision: 'review', ageMs: 110_000_000 }]);
    const { body } = await bob.call<ClaimBody>('POST', '/api/claim', { lane: 'decide', want: 4 });
    const item = body.items.find((i) => i.id === v!.id)!;
    await bob.call('POST', `/api/items/${item.id}/decision`, { token: item.token, outcome: 'block', reasons: ['ad_spam'] });
    for (const other of body.items.filter((i) => i.id !== v!.id)) await bob.call('POST', `/api/items/${other.id}/release`, { token: other.token });
    const review = new ReviewClient({ config: h.config });
    try {
      await expect(review.appeal(v!.id, '  ')).rejects.toMatchObject({ code: 'DECISION_INVALID' });
      await expect(review.appeal('0'.repeat(40), 'x')).rejects.toMatchObject({ code: 'ITEM_NOT_FOUND' });
      const { appealId } = await review.appeal(v!.id, '这是商品实拍，不是广告');
      expect(await review.appeal(v!.id, '这是商品实拍，不是广告')).toEqual({ appealId });
      const deadline = Date.now() + 10_000;
      while ((await h.console.store.get(v!.id))?.state !== 'pending' && Date.now() < deadline) await sleep(50);
      expect(await review.getDecision(v!.id)).toMatchObject({ status: 'pending', outcome: 'block', round: 1 });
    } finally {
      await review.close();
    }
    // The reopened item queues behind older ones (oldest first, by appeal time): skip past them.
    let appealed: ClaimBody['items'][number] | undefined;
    for (let page = 0; page < 10 && !appealed; page++) {
      const again = await alice.call<ClaimBody>('POST', '/api/claim', { lane: 'decide', want: 4 });
      appealed = again.body.items.find((i) => i.id === v!.id);
      for (const other of again.body.items.filter((i) => i.id !== v!.id)) await alice.call('POST', `/api/items/${other.id}/release`, { token: other.token, skip: true });
    }
    expect(appealed?.appeal?.reason).toBe('这是商品实拍，不是广告');
    const r = await alice.call<{ decision: ReviewDecision }>('POST', `/api/items/${v!.id}/decision`, { token: appealed!.token, outcome: 'pass' });
    expect(r.body.decision).toMatchObject({ kind: 'appeal', round: 2, previousOutcome: 'block', outcome: 'pass', appeal: { reason: '这是商品实拍，不是广告' } });
    expect((await h.console.store.history(v!.id)).map((e) => e.t)).toEqual(['queued', 'claimed', 'decided', 'appealed', 'claimed', 'decided']);
  });

  it('refuses token-less and cross-origin state changes (CSRF), and the dashboard password is no console login', async () => {
    const noToken = await alice.call<{ error: { code: string } }>('POST', '/api/claim', { lane: 'decide' }, { 'x-csrf-token': '' });
    expect([noToken.status, noToken.body.error.code]).toEqual([403, 'CSRF_REJECTED']);
    const crossSite = await alice.call<{ error: { code: string } }>('POST', '/api/claim', { lane: 'decide' }, { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' });
    expect([crossSite.status, crossSite.body.error.code]).toEqual([403, 'CSRF_REJECTED']);
    const opsLogin = await ConsoleSession.tryLogin(h.url, 'ops', pw('ops'));
    expect(opsLogin.status).toBe(403);
    expect(opsLogin.body).toContain('此账号没有审核台权限');
  });

  it('limits failed logins per user and address (429), and a right password does not reset a locked account', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await ConsoleSession.tryLogin(h.url, 'bob', 'wrong-password')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect((await ConsoleSession.tryLogin(h.url, 'bob', pw('bob'))).status).toBe(429);
    // Another user from the same address is not locked out by bob's failures.
    expect((await ConsoleSession.tryLogin(h.url, 'alice', pw('alice'))).status).toBe(303);
  });

  it('exports the backlog (exact oldest age), decisions by reviewer, time to decision, overturns and sample misses', async () => {
    const oldest = await h.seed([{ key: 'api/metrics-oldest.jpg', decision: 'review', ageMs: 500_000_000 }]);
    const m = await scrape(`${h.url}/metrics`);
    const age = samples(m, 'revmod_review_oldest_pending_age_seconds', { lane: 'decide' })[0]!.value;
    const expected = (Date.now() - Date.parse(oldest[0]!.decidedAt)) / 1_000;
    expect(Math.abs(age - expected)).toBeLessThan(5);
    expect(total(m, 'revmod_review_backlog_items', { lane: 'decide', age: 'older' })).toBeGreaterThanOrEqual(1);
    expect(total(m, 'revmod_review_backlog_items', { lane: 'decide' })).toBe(total(m, 'revmod_review_pending_items', { lane: 'decide' }));
    expect(total(m, 'revmod_review_decisions_total', { reviewer: 'alice' })).toBeGreaterThanOrEqual(2);
    expect(total(m, 'revmod_review_decisions_total', { reviewer: 'lee', kind: 'reversal', outcome: 'pass' })).toBe(1);
    expect(total(m, 'revmod_review_samples_decided_total', { outcome: 'block' })).toBe(1);
    expect(total(m, 'revmod_review_overturns_total', { model_version: '0.0.1' })).toBeGreaterThanOrEqual(1);
    expect(total(m, 'revmod_review_model_judged_total')).toBeGreaterThanOrEqual(total(m, 'revmod_review_overturns_total'));
    expect(total(m, 'revmod_review_time_to_decision_seconds_count')).toBe(total(m, 'revmod_review_decisions_total'));
    expect(total(m, 'revmod_review_metrics_up')).toBe(1);
  });

  it('shows earlier decisions on the same content when a photo is uploaded again', async () => {
    const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3a6' } }).jpeg().toBuffer();
    const [first, again] = await h.seed([
      { key: 'api/same-1.jpg', decision: 'review', ageMs: 600_000_000, bytes },
      { key: 'api/same-2.jpg', decision: 'review', ageMs: 599_000_000, bytes },
    ]);
    const { body } = await bob.call<{ items: Array<{ id: string; token: string; earlier: Array<{ jobId: string; outcome: string }> }> }>('POST', '/api/claim', { lane: 'decide', want: 4 });
    const one = body.items.find((i) => i.id === first!.id)!;
    await bob.call('POST', `/api/items/${one.id}/decision`, { token: one.token, outcome: 'block', reasons: ['ad_spam'] });
    for (const other of body.items.filter((i) => i.id !== first!.id)) await bob.call('POST', `/api/items/${other.id}/release`, { token: other.token });
    const next = await bob.call<{ items: Array<{ id: string; token: string; earlier: Array<{ jobId: string; outcome: string }> }> }>('POST', '/api/claim', { lane: 'decide', want: 4 });
    const two = next.body.items.find((i) => i.id === again!.id)!;
    expect(two.earlier).toEqual([expect.objectContaining({ jobId: first!.id, outcome: 'block' })]);
    for (const i of next.body.items) await bob.call('POST', `/api/items/${i.id}/release`, { token: i.token });
  });

  it('lets the SDK watch the review queue without taking from it, and tells auto-decided images from reviewed ones', async () => {
    expect(() => consumeVerdicts({ config: h.config, queue: 'review', handler: () => undefined })).toThrow(/would take items from the review console: use watchReview\(\)/);
    const events: ReviewEvent[] = [];
    const watchers = [watchReview({ config: h.config, blockMs: 200, handler: (e) => { events.push(e); } }), watchReview({ config: h.config, blockMs: 200, handler: () => undefined })];
    try {
      await sleep(300);
      const [v] = await h.seed([{ key: 'api/watched.jpg', decision: 'review', ageMs: 700_000_000 }]);
      const { body } = await alice.call<ClaimBody>('POST', '/api/claim', { lane: 'decide', want: 4 });
      const item = body.items.find((i) => i.id === v!.id)!;
      await alice.call('POST', `/api/items/${item.id}/decision`, { token: item.token, outcome: 'pass' });
      for (const other of body.items.filter((i) => i.id !== v!.id)) await alice.call('POST', `/api/items/${other.id}/release`, { token: other.token });
      const deadline = Date.now() + 5_000;
      while (!events.some((e) => e.jobId === v!.id && e.type === 'decided') && Date.now() < deadline) await sleep(50);
      expect(events.filter((e) => e.jobId === v!.id).map((e) => e.type)).toEqual(['queued', 'claimed', 'decided']);
      expect(events.find((e) => e.type === 'decided' && e.jobId === v!.id)).toMatchObject({ by: 'alice', decisionId: `${v!.id}-r1`, kind: 'decide' });
    } finally {
      await Promise.all(watchers.map((w) => w.close()));
    }
    // An auto-passed image, never reviewed: final by the model, from its verdict on the results queue.
    const results = new Queue<Verdict>(h.config.queues.results, { connection: { url: h.config.redis.url }, prefix: h.config.redis.prefix });
    const review = new ReviewClient({ config: h.config });
    try {
      const auto = makeVerdict({ bucket: PHOTOS, key: 'api/auto-pass.jpg', decision: 'pass' });
      await results.add('pass', auto, verdictJobOptions(h.config, auto.id));
      expect(await review.getDecision(auto.id)).toMatchObject({ status: 'final', outcome: 'pass', source: 'model', round: 0 });
      expect(await review.getDecision('f'.repeat(40))).toBeUndefined();
      await expect(review.getDecision('../etc')).rejects.toMatchObject({ code: 'INVALID_JOB' });
    } finally {
      await review.close();
      await results.close();
    }
  });
});
