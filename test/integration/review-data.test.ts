import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { consumeDecisions, ReviewClient, type ReviewDecision } from '@revmod/client';
import { runCli, type CliContext } from '../../src/cli';
import { configEnv } from '../../src/config';
import { applyRetention } from '../../src/review/retention';
import { RedisServer } from '../../tools/dev/redis-server';
import { ConsoleSession, photo, startConsole, USERS, type ConsoleHarness } from '../helpers/console-harness';

const pw = (id: string): string => USERS.find((u) => u.id === id)!.password;

function cli(h: ConsoleHarness): (args: string[]) => Promise<{ code: number; out: string[]; err: string[] }> {
  const env = configEnv({ redis: { url: h.config.redis.url, prefix: h.config.redis.prefix }, s3: h.s3.s3Config, review: { logBucket: h.config.review.logBucket } });
  return async (args) => {
    const out: string[] = [];
    const err: string[] = [];
    const ctx: CliContext = { env, out: (l) => out.push(l), err: (l) => err.push(l), exit: (c) => { throw new Error(`exit ${c}`); } };
    return { code: await runCli(args, ctx), out, err };
  };
}

async function decideAll(h: ConsoleHarness, user: string, outcomes: Array<'pass' | 'block'>): Promise<string[]> {
  const s = await ConsoleSession.login(h.url, user, pw(user));
  const { body } = await s.call<{ items: Array<{ id: string; token: string }> }>('POST', '/api/claim', { lane: 'decide', want: outcomes.length });
  for (const [i, item] of body.items.entries()) {
    const outcome = outcomes[i]!;
    const r = await s.call('POST', `/api/items/${item.id}/decision`, { token: item.token, outcome, reasons: outcome === 'block' ? ['porn'] : [] });
    if (r.status !== 200) throw new Error(`decision answered ${r.status}`);
  }
  return body.items.map((i) => i.id);
}

describe('decisions survive Redis: acknowledged, FLUSHALL, replayed (a Redis of its own)', () => {
  let redis: RedisServer;
  let h: ConsoleHarness;

  beforeAll(async () => {
    redis = await RedisServer.start();
    h = await startConsole({ name: 'replay', redisUrl: redis.url, review: { claimBatch: 5 } });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await redis?.destroy();
  });

  it('loses nothing: every acknowledged decision is republished, getDecision answers again, a second replay adds nothing', async () => {
    await h.seed(Array.from({ length: 5 }, (_, i) => ({ key: `replay/${i}.jpg`, decision: 'review' as const, ageMs: (10 - i) * 60_000 })));
    const decided = await decideAll(h, 'alice', ['pass', 'block', 'pass', 'block', 'block']);
    const flush = new Redis(redis.url);
    await flush.flushall();
    flush.disconnect();

    const received: ReviewDecision[] = [];
    const consumer = consumeDecisions({ config: h.config, handler: (d) => { received.push(d); } });
    try {
      const run = cli(h);
      const first = await run(['decisions', 'replay']);
      expect(first.code).toBe(0);
      expect(JSON.parse(first.out[0]!)).toMatchObject({ decisions: 5, republished: 5, alreadyQueued: 0, statesRestored: 5 });
      const deadline = Date.now() + 15_000;
      while (received.length < 5 && Date.now() < deadline) await sleep(50);
      expect(received.map((d) => d.jobId).sort()).toEqual([...decided].sort());
      expect(received.filter((d) => d.outcome === 'block')).toHaveLength(3);
      const review = new ReviewClient({ config: h.config });
      try {
        expect(await review.getDecision(decided[1]!)).toMatchObject({ status: 'final', outcome: 'block', source: 'reviewer', round: 1 });
      } finally {
        await review.close();
      }
      const second = await run(['decisions', 'replay']);
      expect(JSON.parse(second.out[0]!)).toMatchObject({ decisions: 5, republished: 0, alreadyQueued: 5 });
      await sleep(300);
      expect(received).toHaveLength(5);
    } finally {
      await consumer.close();
    }
  });
});

describe('dataset export, erasure and retention (real S3 server)', () => {
  let h: ConsoleHarness;
  let out: string;

  beforeAll(async () => {
    h = await startConsole({ name: 'dataset', review: { claimBatch: 6 } });
    out = mkdtempSync(join(tmpdir(), 'revmod-dataset-'));
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    rmSync(out, { recursive: true, force: true });
  });

  it('writes an ImageFolder and a manifest deduplicated by sha256, to a folder and to S3', async () => {
    const same = await photo(40);
    const seeded = await h.seed([
      { key: 'ds/cat.jpg', decision: 'review', ageMs: 6_000 },
      { key: 'ds/coffee.jpg', decision: 'review', ageMs: 5_000 },
      { key: 'ds/rocket.jpg', decision: 'review', ageMs: 4_000 },
      { key: 'ds/reupload-1.jpg', decision: 'review', ageMs: 3_000, bytes: same },
      { key: 'ds/reupload-2.jpg', decision: 'review', ageMs: 2_000, bytes: same },
    ]);
    await decideAll(h, 'bob', ['pass', 'block', 'pass', 'pass', 'block']);
    const run = cli(h);
    const dir = join(out, 'set');
    const r = await run(['dataset', 'export', '--since', '1h', '--out', dir]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out[0]!)).toMatchObject({ images: 4, duplicates: 1, skipped: 0, byClass: { normal: 2, violate: 2 } });
    const manifest = readFileSync(join(dir, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { file: string; sha256: string; decision: string; reviewer: string; modelVersion: string; source: { key: string } });
    expect(manifest).toHaveLength(4);
    expect(new Set(manifest.map((m) => m.sha256)).size).toBe(4);
    for (const m of manifest) {
      expect(existsSync(join(dir, m.file))).toBe(true);
      expect(m.file).toBe(`${m.decision === 'pass' ? 'normal' : 'violate'}/${m.sha256}.jpg`);
      expect([m.reviewer, m.modelVersion]).toEqual(['bob', '0.0.1']);
    }
    // The re-uploaded content is labelled by its latest decision (block, on reupload-2).
    expect(manifest.find((m) => m.source.key.startsWith('ds/reupload'))).toMatchObject({ decision: 'block', source: { key: 'ds/reupload-2.jpg' } });
    expect(readdirSync(dir).sort()).toEqual(['export.json', 'manifest.jsonl', 'normal', 'violate']);

    const s3r = await run(['dataset', 'export', '--since', '1h', '--out', 's3://revmod-log/exports/first', '--layout', 'category']);
    expect(JSON.parse(s3r.out[0]!)).toMatchObject({ images: 4, byClass: { normal: 2, porn: 2 } });
    const listed = await h.s3.client.send(new ListObjectsV2Command({ Bucket: 'revmod-log', Prefix: 'exports/first/' }));
    expect(listed.Contents?.map((o) => o.Key!.split('/')[2]).sort()).toEqual(['export.json', 'manifest.jsonl', 'normal', 'normal', 'porn', 'porn']);
    expect(seeded).toHaveLength(5);
  });

  it('erases one image everywhere (review store, queues, decision log, exports) and records it by hash only', async () => {
    const run = cli(h);
    const victim = 'ds/coffee.jpg';
    const item = (await h.console.store.idsFor({ bucket: 'shop-photos', key: victim }))[0]!;
    expect(item).toBeDefined();
    const dry = await run(['delete', '--key', `s3://shop-photos/${victim}`, '--dry-run']);
    expect(JSON.parse(dry.out[0]!)).toMatchObject({ reviewItems: 1, logDecisions: 1 });
    expect(await h.console.store.get(item)).toBeDefined();
    const r = await run(['delete', '--key', `s3://shop-photos/${victim}`, '--by', 'dpo@shop']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out[0]!) as { reviewItems: number; queueJobs: number; logDecisions: number; exportEntries: number; record: string };
    expect(report).toMatchObject({ reviewItems: 1, logDecisions: 1, exportEntries: 2 });
    expect(report.queueJobs).toBeGreaterThanOrEqual(2);
    expect(await h.console.store.get(item)).toBeUndefined();
    const logged: ReviewDecision[] = [];
    for await (const obj of h.console.log.objects()) logged.push(...obj.decisions);
    expect(logged.some((d) => d.key === victim)).toBe(false);
    expect(logged.length).toBeGreaterThanOrEqual(4);
    const manifest = readFileSync(join(out, 'set', 'manifest.jsonl'), 'utf8');
    expect(manifest).not.toContain(victim);
    const recordKey = report.record.replace('s3://revmod-log/', '');
    const record = JSON.parse(await (await h.s3.client.send(new GetObjectCommand({ Bucket: 'revmod-log', Key: recordKey }))).Body!.transformToString()) as Record<string, unknown>;
    expect(record).toMatchObject({ by: 'dpo@shop', selector: { bucket: 'shop-photos', keySha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(JSON.stringify(record)).not.toContain('coffee');
  });

  it('applies retention: log objects and exports past their days are deleted', async () => {
    const before = (await h.console.log.keys()).length;
    expect(before).toBeGreaterThan(0);
    const redis = new Redis(h.config.redis.url);
    try {
      const report = await applyRetention({
        log: h.console.log, s3: h.s3.client, redis, exportsKey: `${h.console.store.base}:exports`,
        decisionLogDays: 1, exportsDays: 1, nowMs: Date.now() + 2 * 86_400_000,
      });
      expect(report.logObjectsDeleted).toBe(before);
      expect([...report.exportsDeleted].sort()).toEqual([join(out, 'set'), 's3://revmod-log/exports/first/'].sort());
      expect(await h.console.log.keys()).toEqual([]);
      expect(existsSync(join(out, 'set', 'manifest.jsonl'))).toBe(false);
    } finally {
      redis.disconnect();
    }
  });
});
