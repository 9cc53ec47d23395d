import { Queue } from 'bullmq';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import sharp from 'sharp';
import type { RevmodConfig, RevmodConfigInput } from '../../src/config';
import { hashPassword, UsersDirectory, writeUsersFile, type Role } from '../../src/identity';
import { listen, type RunningHttpServer } from '../../src/ops/listen';
import { createConsoleApp, type ConsoleApp } from '../../src/review/console-app';
import { QC_SAMPLE_JOB_NAME } from '../../src/review/sampling';
import { S3Server } from '../../tools/dev/s3-server';
import { verdictJobOptions, type Verdict } from '@revmod/client';
import { makeVerdict } from './review-fixtures';
import { deletePrefix, testConfig, uniquePrefix } from './test-config';

export const PHOTOS = 'shop-photos';
export const LOG_BUCKET = 'revmod-log';
export const OTHER_BUCKET = 'not-allowed';
const SAMPLES = resolve(__dirname, '../../samples');

/** The logins of the console tests: two reviewers, a lead, and a dashboard admin (no console role). */
export const USERS: ReadonlyArray<{ id: string; name: string; roles: Role[]; password: string }> = [
  { id: 'alice', name: '王丽 Alice', roles: ['reviewer'], password: 'alice-password-1' },
  { id: 'bob', name: '陈波 Bob', roles: ['reviewer'], password: 'bob-password-22' },
  { id: 'lee', name: '李组长 Lee', roles: ['lead'], password: 'lee-password-333' },
  { id: 'ops', name: 'On-call', roles: ['admin'], password: 'ops-password-4444' },
];

export interface ConsoleHarness {
  readonly url: string;
  readonly config: RevmodConfig;
  readonly s3: S3Server;
  readonly console: ConsoleApp;
  readonly usersFile: string;
  readonly reviewQueue: Queue<Verdict>;
  /** Photos put in S3 and their verdicts on the review queue, as a worker publishes them; resolves once ingested. */
  seed(items: ReadonlyArray<SeedItem>): Promise<Verdict[]>;
  close(): Promise<void>;
}

export interface SeedItem {
  readonly key: string;
  readonly decision: Verdict['decision'];
  readonly ageMs?: number;
  readonly bucket?: string;
  /** Schema-2 extras merged into the verdict. */
  readonly extra?: Record<string, unknown>;
  /** Upload these bytes instead of a generated photo. */
  readonly bytes?: Buffer;
}

let photoCache: Buffer[] | undefined;

/** Distinct photos from the sample images: crops, flips and tints, so each has its own sha256. */
export async function photo(index: number): Promise<Buffer> {
  photoCache ??= ['chelsea_451x300_q85.jpg', 'coffee_600x400_q85.jpg', 'rocket_1080x1080_q85.jpg'].map((f) => readFileSync(join(SAMPLES, f)));
  const source = photoCache[index % photoCache.length]!;
  const variant = Math.floor(index / photoCache.length);
  let img = sharp(source).resize({ width: 640, height: 480, fit: 'cover', position: ['centre', 'north', 'south', 'east', 'west'][variant % 5] as string });
  if (variant % 2 === 1) img = img.flop();
  if (variant % 3 === 2) img = img.modulate({ hue: (variant * 37) % 360 });
  return img.jpeg({ quality: 80 }).toBuffer();
}

export interface ConsoleHarnessOptions {
  readonly name: string;
  readonly review?: RevmodConfigInput['review'];
  readonly identity?: RevmodConfigInput['identity'];
  /** Known images (verdict reuse, "reject and block similar"); a journal bucket is made when it names one. */
  readonly known?: RevmodConfigInput['known'];
  /** A Redis of the test's own (one it may FLUSHALL). @defaultValue the shared test Redis */
  readonly redisUrl?: string;
}

/** A review console on a loopback port with its own prefix, S3 server and users file. */
export async function startConsole(o: ConsoleHarnessOptions): Promise<ConsoleHarness> {
  const prefix = uniquePrefix(o.name);
  const s3 = await S3Server.start({ buckets: [PHOTOS, LOG_BUCKET, OTHER_BUCKET, ...(o.known?.journalBucket ? [o.known.journalBucket] : [])] });
  const dir = mkdtempSync(join(tmpdir(), 'revmod-console-'));
  const usersFile = join(dir, 'users.json');
  await writeUsersFile(usersFile, {
    users: await Promise.all(USERS.map(async (u) => ({ id: u.id, name: u.name, roles: u.roles, password: await hashPassword(u.password) }))),
  });
  const config = testConfig({
    redis: { prefix, ...(o.redisUrl ? { url: o.redisUrl } : {}) },
    s3: s3.s3Config,
    identity: { usersFile, ...(o.identity ?? {}) },
    review: { logBucket: LOG_BUCKET, sessionSecret: 'test-session-secret-0123456789abcdef', cookieSecure: 'never', imageBuckets: [PHOTOS], ...(o.review ?? {}) },
    ...(o.known ? { known: o.known } : {}),
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const consoleApp = createConsoleApp({ config, users: new UsersDirectory(usersFile), logger, defaultMetrics: false, sweepMs: 300 });
  const server: RunningHttpServer = await listen(createServer(consoleApp.app), 0, '127.0.0.1');
  const reviewQueue = new Queue<Verdict>(config.queues.review, { connection: { url: config.redis.url }, prefix });
  let n = 0;
  return {
    url: server.url, config, s3, console: consoleApp, usersFile, reviewQueue,
    async seed(items) {
      const verdicts: Verdict[] = [];
      for (const item of items) {
        const bytes = item.bytes ?? await photo(n++);
        const bucket = item.bucket ?? PHOTOS;
        await s3.put(bucket, item.key, bytes, 'image/jpeg');
        verdicts.push(makeVerdict({ bucket, key: item.key, decision: item.decision, bytes, decidedAtMs: Date.now() - (item.ageMs ?? 0), ...(item.extra ? { extra: item.extra } : {}) }));
      }
      await reviewQueue.addBulk(verdicts.map((v) => ({ name: v.decision === 'pass' ? QC_SAMPLE_JOB_NAME : v.decision, data: v, opts: verdictJobOptions(config, v.id) })));
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const known = await consoleApp.store.getMany(verdicts.map((v) => v.id));
        if (known.every(Boolean)) return verdicts;
        await sleep(50);
      }
      throw new Error('seeded verdicts were not ingested within 20 s');
    },
    async close() {
      await server.close();
      await consoleApp.close();
      await reviewQueue.close();
      await s3.close();
      await deletePrefix(prefix, config.redis.url).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A signed-in console session over plain HTTP (cookie and CSRF token), for API-level tests. */
export class ConsoleSession {
  private constructor(readonly url: string, readonly cookie: string, readonly csrf: string) {}

  /** Signs in through the form, as a browser would; throws with the status when it fails. */
  static async login(url: string, user: string, password: string): Promise<ConsoleSession> {
    const r = await ConsoleSession.tryLogin(url, user, password);
    if (r.status !== 303) throw new Error(`login as ${user} answered ${r.status}`);
    const page = await fetch(`${url}/`, { headers: { cookie: r.cookie } });
    const html = await page.text();
    const boot = /<script type="application\/json" id="boot">(.*?)<\/script>/s.exec(html);
    if (!boot) throw new Error(`no console page after login as ${user} (status ${page.status})`);
    return new ConsoleSession(url, r.cookie, (JSON.parse(boot[1]!) as { csrf: string }).csrf);
  }

  /** One login attempt: its status and the session cookie it set. */
  static async tryLogin(url: string, user: string, password: string): Promise<{ status: number; cookie: string; body: string }> {
    const form = await fetch(`${url}/login`);
    const cookie = (form.headers.get('set-cookie') ?? '').split(';')[0]!;
    const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
    const res = await fetch(`${url}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: url },
      body: new URLSearchParams({ user, password, _csrf: token }).toString(),
    });
    const set = (res.headers.get('set-cookie') ?? '').split(';')[0];
    return { status: res.status, cookie: set || cookie, body: await res.text() };
  }

  async call<T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { cookie: this.cookie, 'x-csrf-token': this.csrf, 'content-type': 'application/json', accept: 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch { /* not JSON (an image) */ }
    return { status: res.status, body: parsed as T };
  }
}
