import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { KnownLists } from '../../src/known/known-lists';
import { listStoreOf } from '../../src/known/list-store';
import { verdictCacheOf } from '../../src/known/verdict-cache';
import { replayDecisions } from '../../src/review/replay';
import { Queue } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { consolePage, launchChromium } from '../helpers/browser';
import { S3ObjectStore } from '../../src/storage';
import { ModerationClient, type Verdict } from '@revmod/client';
import type { ModerationWorker } from '../../src/worker/moderation-worker';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';
import { startTestWorker, VerdictCollector } from '../helpers/worker-harness';
import { ConsoleSession, PHOTOS, startConsole, USERS, type ConsoleHarness } from '../helpers/console-harness';

const pw = (id: string): string => USERS.find((u) => u.id === id)!.password;
const JOURNAL = 'console-known-journal';
const rocket = readFileSync(join(resolve(__dirname, '../../samples'), 'rocket_1080x1080_q85.jpg'));
interface ClaimBody { items: Array<{ id: string; token: string; key: string }> }
interface DecisionBody { decision: { id: string; outcome: string }; blockSimilar?: { list: string; entry: string; hash: string } | { error: { code: string; message: string } }; error?: { code: string; message: string } }

/**
 * "Reject and block similar" in the review console (real Redis, real S3 server): the rejection is
 * recorded as usual and kept for the image's bytes, and the image goes on the console's block list,
 * hashed from its S3 object, so that its copies match.
 */
describe('review console: reject and block similar', () => {
  let h: ConsoleHarness;
  let alice: ConsoleSession;
  let lists: KnownLists;

  beforeAll(async () => {
    h = await startConsole({ name: 'console-similar', review: { claimBatch: 1, blockList: 'rejected-in-review' }, known: { enabled: true, journalBucket: JOURNAL } });
    alice = await ConsoleSession.login(h.url, 'alice', pw('alice'));
    lists = new KnownLists({
      store: listStoreOf(h.console.store.redis, h.s3.client, h.config), objects: new S3ObjectStore(h.config.s3, h.s3.client),
      allowedBuckets: [], maxBytes: h.config.limits.maxBytes, decode: {},
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('tells the page its block list, whose script has the K key and the button', async () => {
    const page = await alice.call<string>('GET', '/');
    expect(String(page.body)).toContain('"blockList":"rejected-in-review"');
    const script = await alice.call<string>('GET', '/assets/console.js');
    expect(String(script.body)).toMatch(/case 'k':\s*case 'K':\s*armSimilar\(\)/);
    expect(String(script.body)).toContain("'data-action': 'reject-similar'");
  });

  it('rejects, keeps the decision for the bytes, and lists the image so that a mirrored copy matches', async () => {
    const [v] = await h.seed([{ key: 'similar/spam.jpg', decision: 'review', bytes: rocket }]);
    const { body } = await alice.call<ClaimBody>('POST', '/api/claim', { lane: 'decide', want: 1 });
    const item = body.items[0]!;
    expect(item.id).toBe(v!.id);
    const refused = await alice.call<DecisionBody>('POST', `/api/items/${item.id}/decision`, { token: item.token, outcome: 'pass', reasons: [], blockSimilar: true });
    expect([refused.status, refused.body.error?.code]).toEqual([400, 'DECISION_INVALID']);
    expect(refused.body.error?.message).toMatch(/blockSimilar goes with outcome "block", received "pass"/);

    const r = await alice.call<DecisionBody>('POST', `/api/items/${item.id}/decision`, { token: item.token, outcome: 'block', reasons: ['porn'], blockSimilar: true });
    expect(r.status).toBe(200);
    expect(r.body.decision.outcome).toBe('block');
    expect(r.body.blockSimilar).toMatchObject({ list: 'rejected-in-review', hash: expect.stringMatching(/^[0-9a-f]{64}$/) });

    // The list was made on first use, and the entry names the verdict, the reviewer and the decision.
    const shown = await lists.show('rejected-in-review');
    expect(shown).toMatchObject({ list: { kind: 'block', action: 'block' }, entries: 1 });
    expect(shown.sample[0]).toMatchObject({ addedBy: 'alice', origin: { type: 'verdict', verdictId: v!.id, bucket: PHOTOS, key: 'similar/spam.jpg', sha256: v!.version!.sha256 } });
    expect(shown.sample[0]!.origin.note).toMatch(new RegExp(`rejected in review \\(${r.body.decision.id}: porn\\)`));

    await h.s3.put(PHOTOS, 'similar/copy.jpg', await sharp(rocket).flop().resize(640).jpeg({ quality: 70 }).toBuffer());
    const found = await lists.lookup({ bucket: PHOTOS, key: 'similar/copy.jpg' });
    expect(found.matches.map((m) => m.list)).toEqual(['rejected-in-review']);

    // Identical bytes uploaded again get the person's decision (the worker reads this: known-images.test.ts).
    const kept = await verdictCacheOf(h.console.store.redis, h.config).get(v!.version!.sha256!, { modelSha256: 'any', policyVersion: 'any' });
    expect(kept).toMatchObject({ source: 'decision', verdict: { id: v!.id, decision: 'block', reasons: ['porn'] } });
  });

  it('blocks a re-upload of the rejected bytes in a worker, and a copy of them, with no second look and no inference', async () => {
    let worker: ModerationWorker | undefined;
    const collector = new VerdictCollector(h.config);
    const client = new ModerationClient({ config: h.config });
    try {
      worker = await startTestWorker({ ...h.config, model: { ...h.config.model, path: defaultModelPath('probe'), executionProvider: 'cpu', intraOpThreads: 1 } });
      await h.s3.put(PHOTOS, 'similar/reupload.jpg', rocket);
      const { jobId: reId } = await client.submit({ bucket: PHOTOS, key: 'similar/reupload.jpg' });
      const { jobId: copyId } = await client.submit({ bucket: PHOTOS, key: 'similar/copy.jpg' });
      const [re, copy] = await collector.waitFor(2, 60_000).then((vs) => [reId, copyId].map((id) => vs.find((v) => v.id === id)!)) as [Verdict, Verdict];
      const rejected = (await lists.show('rejected-in-review')).sample[0]!.origin.verdictId!;
      expect(re).toMatchObject({ decision: 'block', reasons: ['known_decision', 'porn'], reusedFrom: rejected, batch: null });
      expect(copy).toMatchObject({ decision: 'block', reasons: ['known_violation'], batch: null, evidence: { known_violation: { list: 'rejected-in-review' } } });
      // Settled by people before: neither reaches the review queue (no second look).
      const reviewJobs = await h.reviewQueue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'], 0, -1);
      expect(reviewJobs.filter((j) => j.id === reId || j.id === copyId)).toEqual([]);
      expect(await h.console.store.get(reId)).toBeUndefined();
    } finally {
      await client.close();
      await collector.close();
      await worker?.close(10_000);
    }
  }, 120_000);

  it('keeps the decisions for re-uploads again when the decision log is replayed (after Redis lost them)', async () => {
    const cache = verdictCacheOf(h.console.store.redis, h.config);
    const sha256 = (await lists.show('rejected-in-review')).sample[0]!.origin.sha256!;
    expect(await cache.forget(sha256)).toBeGreaterThanOrEqual(1);
    expect(await cache.get(sha256, { modelSha256: 'x', policyVersion: 'y' })).toBeUndefined();
    const queue = new Queue(h.config.queues.decisions, { connection: h.console.store.redis, prefix: h.config.redis.prefix });
    try {
      const report = await replayDecisions({ log: h.console.log, queue, store: h.console.store, retainDecisionsSeconds: 60, known: cache });
      expect(report.knownDecisions).toBeGreaterThanOrEqual(1);
    } finally {
      await queue.close();
    }
    expect(await cache.get(sha256, { modelSha256: 'x', policyVersion: 'y' })).toMatchObject({ source: 'decision', verdict: { decision: 'block', reasons: ['porn'] } });
  });

  it('records the rejection even when the image cannot be listed, and says why', async () => {
    const [v] = await h.seed([{ key: 'similar/flat.jpg', decision: 'review', bytes: await sharp({ create: { width: 400, height: 300, channels: 3, background: '#777777' } }).jpeg().toBuffer() }]);
    const { body } = await alice.call<ClaimBody>('POST', '/api/claim', { lane: 'decide', want: 1 });
    const item = body.items.find((i) => i.id === v!.id)!;
    const r = await alice.call<DecisionBody>('POST', `/api/items/${item.id}/decision`, { token: item.token, outcome: 'block', reasons: ['porn'], blockSimilar: true });
    expect(r.status).toBe(200);
    expect(r.body.decision.outcome).toBe('block');
    // A flat image has PDQ quality 0: its hash would match nothing reliably.
    expect(r.body.blockSimilar).toMatchObject({ error: { code: 'LIST_INVALID', message: expect.stringMatching(/PDQ quality is 0, below list rejected-in-review's minQuality 50/) } });
    expect((await lists.show('rejected-in-review')).entries).toBe(1);
  });
  it('in a real browser: K, then a reason, rejects the image and lists it (headless Chromium)', async () => {
    const astronaut = readFileSync(join(resolve(__dirname, '../fixtures/photos'), 'astronaut_512x512_q85.jpg'));
    const [v] = await h.seed([{ key: 'similar/browser.jpg', decision: 'review', bytes: astronaut, ageMs: 86_400_000 }]);
    const browser = await launchChromium();
    try {
      const { context, page } = await consolePage(browser, h.url, 'alice', pw('alice'));
      try {
        await page.waitForSelector(`article.tile[data-id="${v!.id}"]`);
        await page.waitForSelector('button[data-action="reject-similar"]');
        await page.keyboard.press('k');
        await page.waitForSelector('button[data-action="reject-similar"].armed');
        await page.keyboard.press('1');
        const deadline = Date.now() + 20_000;
        while ((await h.console.store.get(v!.id))?.state !== 'decided' && Date.now() < deadline) await sleep(100);
        expect(await h.console.store.get(v!.id)).toMatchObject({ state: 'decided', outcome: 'block' });
        const deadline2 = Date.now() + 10_000;
        let origins: string[] = [];
        while (Date.now() < deadline2) {
          origins = (await lists.show('rejected-in-review', 100)).sample.map((e) => e.origin.verdictId ?? '');
          if (origins.includes(v!.id)) break;
          await sleep(100);
        }
        expect(origins).toContain(v!.id);
      } finally {
        await context.close();
      }
    } finally {
      await browser.close();
    }
  }, 90_000);
});
