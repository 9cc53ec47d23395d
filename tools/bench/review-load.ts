/**
 * Review console under load: N reviewers (default 10) claim and decide as fast as they can against a
 * backlog of B items (default 10,000), through the console's HTTP API with real sessions and CSRF
 * tokens, real Redis and an S3 server (s3rver in a child process) for the decision log. Prints the
 * claim and decide latencies (p50/p95/p99) and the throughput. By default with zero think time: a
 * person takes a second or more per image, so that is far above the load of N people.
 *
 * With --think-ms, each reviewer pauses that long before each decision (a person's pace; a fast
 * keyboard reviewer on the grid needs about a second per image).
 *
 *   npx tsx tools/bench/review-load.ts [--reviewers 10] [--backlog 10000] [--decisions 3000] [--think-ms 0]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { jobIdFor, VERDICT_SCHEMA_VERSION, type ReviewDecision, type Verdict } from '@revmod/client';
import { loadConfig } from '../../src/config';
import { hashPassword, UsersDirectory, writeUsersFile } from '../../src/identity';
import { listen } from '../../src/ops/listen';
import { createConsoleApp } from '../../src/review/console-app';
import { DecisionLog } from '../../src/review/decision-log';
import { deletePrefix, uniquePrefix } from '../dev/redis-keys';
import { DEFAULT_REDIS_URL } from '../dev/redis-server';
import { S3Server } from '../dev/s3-server';

// The AWS SDK is pinned to a release that supports Node 20; its notice about later releases is noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values } = parseArgs({ options: { reviewers: { type: 'string', default: '10' }, backlog: { type: 'string', default: '10000' }, decisions: { type: 'string', default: '3000' }, 'think-ms': { type: 'string', default: '0' } } });
const THINK_MS = Number(values['think-ms']);
const REVIEWERS = Number(values.reviewers);
const BACKLOG = Number(values.backlog);
const DECISIONS = Number(values.decisions);
const BUCKET = 'bench-photos';
const LOG = 'bench-log';

function verdict(i: number, nowMs: number): Verdict {
  const key = `shop-${i % 97}/review-${i}/1.jpg`;
  const id = jobIdFor(BUCKET, key);
  return {
    schemaVersion: VERDICT_SCHEMA_VERSION, id, jobId: id, bucket: BUCKET, key, decision: 'review', label: 'violate',
    scores: { normal: 0.2, violate: 0.8 }, reasons: ['violate_score'],
    model: { name: 'bench', version: '1', sha256: 'b'.repeat(64), executionProvider: 'cpu' },
    timings: { queueMs: 1, fetchMs: 1, decodeMs: 1, batchWaitMs: 1, inferMs: 1, totalMs: 5 }, batch: { id: 'b', size: 1 },
    meta: { shopId: i % 97, reviewId: i }, attempt: 1, worker: 'bench', decidedAt: new Date(nowMs - (BACKLOG - i) * 1_000).toISOString(),
  };
}

/** A signed-in reviewer over HTTP. */
async function signIn(url: string, user: string, password: string): Promise<{ post: (path: string, body: unknown) => Promise<{ status: number; json: Record<string, unknown> }> }> {
  const form = await fetch(`${url}/login`);
  const first = (form.headers.get('set-cookie') ?? '').split(';')[0]!;
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
  const login = await fetch(`${url}/login`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: first, origin: url },
    body: new URLSearchParams({ user, password, _csrf: token }).toString(),
  });
  if (login.status !== 303) throw new Error(`login of ${user} answered ${login.status}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const page = await (await fetch(`${url}/`, { headers: { cookie } })).text();
  const csrf = (JSON.parse(/id="boot">(.*?)<\/script>/s.exec(page)![1]!) as { csrf: string }).csrf;
  return {
    async post(path, body) {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
  };
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const fmt = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `n=${s.length}  p50 ${quantile(s, 0.5).toFixed(1)} ms  p95 ${quantile(s, 0.95).toFixed(1)} ms  p99 ${quantile(s, 0.99).toFixed(1)} ms  max ${s[s.length - 1]!.toFixed(1)} ms`;
};

async function main(): Promise<void> {
  const prefix = uniquePrefix('bench-review');
  const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  const s3 = await S3Server.start({ buckets: [BUCKET, LOG], inChildProcess: true });
  const dir = mkdtempSync(join(tmpdir(), 'revmod-bench-review-'));
  const usersFile = join(dir, 'users.json');
  const reviewers = Array.from({ length: REVIEWERS }, (_, i) => ({ id: `reviewer${i}`, password: `bench-password-${i}` }));
  await writeUsersFile(usersFile, { users: await Promise.all(reviewers.map(async (r) => ({ id: r.id, roles: ['reviewer' as const], password: await hashPassword(r.password) }))) });
  const config = loadConfig({
    redis: { url: redisUrl, prefix }, s3: s3.s3Config, identity: { usersFile, loginMaxFailures: 1_000 },
    review: { logBucket: LOG, sessionSecret: 'bench-session-secret-0123456789abcdef', cookieSecure: 'never', imageBuckets: [BUCKET], claimBatch: 12 },
    log: { level: 'warn' },
  }, {});
  const app = createConsoleApp({ config, users: new UsersDirectory(usersFile), logger: pino({ level: 'warn' }), ingest: false, defaultMetrics: false });
  const server = await listen(createServer(app.app), 0, '127.0.0.1');
  try {
    const now = Date.now();
    const t0 = performance.now();
    for (let i = 0; i < BACKLOG; i += 200) {
      await Promise.all(Array.from({ length: Math.min(200, BACKLOG - i) }, (_, k) => app.store.ingest(verdict(i + k, now))));
    }
    process.stdout.write(`backlog: ${BACKLOG} items ingested in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    // The floor under every decide: one durable append to the S3 log, by 10 writers at once.
    const appendMs: number[] = [];
    const floorLog = new DecisionLog({ s3: s3.client, bucket: LOG, prefix: 'floor/' });
    await Promise.all(Array.from({ length: REVIEWERS }, async (_, w) => {
      for (let k = 0; k < 30; k++) {
        const t = performance.now();
        await floorLog.append({ id: `floor-${w}-${k}`, jobId: 'x', decidedAt: new Date().toISOString(), verdict: verdict(k, now) } as unknown as ReviewDecision);
        appendMs.push(performance.now() - t);
      }
    }));
    const sessions = await Promise.all(reviewers.map((r) => signIn(server.url, r.id, r.password)));
    const claimMs: number[] = [];
    const decideMs: number[] = [];
    let decided = 0;
    let refused = 0;
    const start = performance.now();
    await Promise.all(sessions.map(async (s, n) => {
      while (decided < DECISIONS) {
        let t = performance.now();
        const claim = await s.post('/api/claim', { lane: 'decide', want: 12 });
        claimMs.push(performance.now() - t);
        const items = (claim.json.items ?? []) as Array<{ id: string; token: string }>;
        if (items.length === 0) break;
        for (const [k, item] of items.entries()) {
          if (decided >= DECISIONS) break;
          const block = (n + k) % 4 === 0;
          if (THINK_MS > 0) await new Promise((r) => setTimeout(r, THINK_MS));
          t = performance.now();
          const r = await s.post(`/api/items/${item.id}/decision`, { token: item.token, outcome: block ? 'block' : 'pass', reasons: block ? ['porn'] : [] });
          decideMs.push(performance.now() - t);
          if (r.status === 200) decided += 1;
          else refused += 1;
        }
      }
    }));
    const seconds = (performance.now() - start) / 1000;
    // s3rver answers InternalError to long paged listings: the count is reported when it can be had.
    const logObjects = await app.log.keys().then((k) => k.length, () => Number.NaN);
    const left = (await app.store.laneStats()).find((l) => l.lane === 'decide')!.pending;
    process.stdout.write([
      `reviewers ${REVIEWERS}, think time ${THINK_MS} ms, backlog ${BACKLOG} → ${left} unclaimed at the end`,
      `claim  (12 items): ${fmt(claimMs)}`,
      `decide (1 item):   ${fmt(decideMs)}`,
      `S3 log append alone (${REVIEWERS} writers): ${fmt(appendMs)}`,
      `${decided} decisions in ${seconds.toFixed(1)} s = ${(decided / seconds).toFixed(0)} decisions/s; refused ${refused}; decision-log objects ${logObjects} (${(decided / Math.max(1, logObjects)).toFixed(1)} decisions per object)`,
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    ].join('\n') + '\n');
  } finally {
    await server.close();
    await app.close();
    await s3.close();
    await deletePrefix({ url: redisUrl, prefix });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
