import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { listSettings } from '@revmod/client';
import { DEFAULTS, loadConfig, REVMOD_SETTINGS } from '../../src/config';
import { RevmodError, createRedisConnection } from '@revmod/client';
import { mapS3Error } from '../../src/storage/map-s3-error';
import { createLogger } from '../../src/util/logger';

describe('credentials from files (*_FILE)', () => {
  let dir: string;
  const file = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'revmod-secrets-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads REDIS_PASSWORD_FILE, S3_ACCESS_KEY_ID_FILE and S3_SECRET_ACCESS_KEY_FILE (one trailing newline dropped)', () => {
    const c = loadConfig({}, {
      REDIS_PASSWORD_FILE: file('redis-password', 's3cr3t redis\n'),
      S3_ACCESS_KEY_ID_FILE: file('s3-key-id', 'AKIAFROMFILE\r\n'),
      S3_SECRET_ACCESS_KEY_FILE: file('s3-secret', 'wJalrXUtnFEMI/K7MDENG'),
    });
    expect(c.redis.password).toBe('s3cr3t redis');
    expect(c.s3.accessKeyId).toBe('AKIAFROMFILE');
    expect(c.s3.secretAccessKey).toBe('wJalrXUtnFEMI/K7MDENG');
  });

  it('documents each file variable beside the variable it replaces', () => {
    const settings = listSettings(REVMOD_SETTINGS).map((s) => s.setting);
    for (const [name, plain] of [['REDIS_PASSWORD_FILE', 'REDIS_PASSWORD'], ['S3_ACCESS_KEY_ID_FILE', 'S3_ACCESS_KEY_ID'], ['S3_SECRET_ACCESS_KEY_FILE', 'S3_SECRET_ACCESS_KEY'], ['REVMOD_OPS_PASSWORD_FILE', 'REVMOD_OPS_PASSWORD']] as const) {
      const spec = settings.find((s) => s.env === plain)!;
      expect({ plain, fileEnv: spec.fileEnv, secret: spec.secret }).toEqual({ plain, fileEnv: name, secret: true });
    }
  });

  it('refuses both the variable and its file, a missing file and an empty one, naming the variable and never the secret', () => {
    const secret = file('pw', 'hunter2-secret\n');
    const attempts: Array<[Record<string, string>, RegExp]> = [
      [{ REDIS_PASSWORD: 'hunter2-secret', REDIS_PASSWORD_FILE: secret }, /REDIS_PASSWORD and REDIS_PASSWORD_FILE both set redis\.password: set only one/],
      [{ S3_SECRET_ACCESS_KEY_FILE: join(dir, 'missing') }, /S3_SECRET_ACCESS_KEY_FILE: cannot read ".*missing" \(ENOENT\)/],
      [{ S3_ACCESS_KEY_ID_FILE: file('empty', '\n') }, /S3_ACCESS_KEY_ID_FILE: ".*empty" is empty/],
    ];
    for (const [env, message] of attempts) {
      let err: unknown;
      try { loadConfig({}, env); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(RevmodError);
      expect(err).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(message) });
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});

describe('logging never prints credentials or presigned URL signatures', () => {
  const PRESIGNED = 'https://reviews.s3.eu-west-1.amazonaws.com/shop-1/photo.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
    '&X-Amz-Credential=AKIAPRESIGNED%2F20260101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z' +
    '&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=9f1e2d3c4b5a69788796a5b4c3d2e1f0&X-Amz-Security-Token=FQoGZXIvYXdzSESSION';
  const SECRETS = ['hunter2-redis', 'AKIAFROMENV', 'wJalrXUtnSECRETKEY', 'urlpassword', 'AKIAPRESIGNED', '9f1e2d3c4b5a69788796a5b4c3d2e1f0', 'FQoGZXIvYXdzSESSION', 'Bearer-abc123'];

  function capture(): { logger: ReturnType<typeof createLogger>; output: () => string } {
    const chunks: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, cb) { chunks.push(chunk.toString()); cb(); } });
    return { logger: createLogger('debug', {}, sink), output: () => chunks.join('') };
  }

  it('redacts a whole config, an error with a presigned URL, and messages', () => {
    const config = loadConfig({}, {
      REDIS_URL: 'redis://default:urlpassword@redis.internal:6379', REDIS_PASSWORD: 'hunter2-redis',
      S3_ACCESS_KEY_ID: 'AKIAFROMENV', S3_SECRET_ACCESS_KEY: 'wJalrXUtnSECRETKEY',
    });
    const { logger, output } = capture();
    logger.info({ config }, 'effective configuration');
    logger.info(config, 'effective configuration, top level');
    logger.info({ s3: config.s3, redis: config.redis }, 'sections');
    const fetchError = new Error(`GET ${PRESIGNED} failed: 503`);
    logger.error({ err: fetchError }, 'fetch failed');
    logger.error(fetchError, 'fetch failed (error first)');
    logger.warn({ err: mapS3Error(Object.assign(new Error(`socket hang up ${PRESIGNED}`), { code: 'ECONNRESET' }), 'reviews', 'k.jpg') }, 'mapped');
    logger.error({ err: new RevmodError('STORAGE_UNAVAILABLE', 'outer', { cause: new Error(`inner ${PRESIGNED}`) }) }, 'with cause');
    logger.info({ request: { url: PRESIGNED, headers: { authorization: 'Bearer-abc123' } } }, `fetching ${PRESIGNED}`);
    logger.info(`plain message with ${PRESIGNED} and redis://:urlpassword@redis.internal:6379`);

    const text = output();
    const leaked = SECRETS.filter((s) => text.includes(s));
    expect(leaked).toEqual([]);
    // What is not secret is still there: the object's address and which parameters were present.
    expect(text).toContain('https://reviews.s3.eu-west-1.amazonaws.com/shop-1/photo.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256');
    expect(text).toContain('X-Amz-Signature=[Redacted]');
    expect(text).toContain('redis.internal:6379');
    // Errors are still logged as errors (type, message, stack), only scrubbed.
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, { type?: string; message?: string; stack?: string }>);
    const err = lines.find((l) => (l.msg as unknown) === 'fetch failed')!.err!;
    expect(err.type).toBe('Error');
    expect(err.message).toMatch(/^GET https:\/\/reviews\.s3\.eu-west-1\.amazonaws\.com\/shop-1\/photo\.jpg\?.*failed: 503$/);
    expect(err.stack).toMatch(/^Error: GET /);
  });
});

describe('Redis password and TLS', () => {
  const opened: Redis[] = [];
  // Options are checked without a server: connect to a closed port and disconnect at once.
  function connectionFor(redis: Record<string, unknown>): Redis['options'] {
    const connection = createRedisConnection(loadConfig({ redis }, {}), 'worker');
    connection.on('error', () => undefined);
    opened.push(connection);
    return connection.options;
  }
  afterAll(() => opened.forEach((c) => c.disconnect()));

  it('rediss:// turns TLS on and keeps the URL credentials and database', () => {
    const o = connectionFor({ url: 'rediss://moderation:urlpass@cache.example.com:6380/2' });
    expect(o.tls).toEqual({});
    expect({ host: o.host, port: o.port, db: o.db, username: o.username, password: o.password })
      .toEqual({ host: 'cache.example.com', port: 6380, db: 2, username: 'moderation', password: 'urlpass' });
  });

  it('REDIS_PASSWORD and REDIS_TLS apply to a plain redis:// URL', () => {
    const config = loadConfig({}, { REDIS_URL: 'redis://10.0.0.5:6379', REDIS_PASSWORD: 'pw-from-env', REDIS_TLS: 'true' });
    const connection = createRedisConnection(config, 'producer');
    connection.on('error', () => undefined);
    opened.push(connection);
    expect(connection.options.password).toBe('pw-from-env');
    expect(connection.options.tls).toEqual({});
    expect(connection.options.maxRetriesPerRequest).toBe(20); // producers fail a submit eventually
  });

  it('plain redis:// without a password stays plain; workers retry forever', () => {
    const o = connectionFor({ url: 'redis://127.0.0.1:1' });
    expect(o.tls).toBeUndefined();
    expect(o.password).toBeFalsy();
    expect(o.maxRetriesPerRequest).toBeNull();
    expect(typeof o.retryStrategy).toBe('function');
    expect(o.retryStrategy!(100)).toBeLessThanOrEqual(5_000);
  });
});

describe('safe defaults', () => {
  const c = loadConfig({}, {});

  it('bounds what one job can cost: bytes, pixels, meta; SVG off', () => {
    expect(c.limits.maxBytes).toBeLessThanOrEqual(50 * 1024 * 1024);
    expect(c.limits.maxPixels).toBeLessThanOrEqual(50_000_000);
    expect(c.requests.maxMetaBytes).toBeLessThanOrEqual(64 * 1024);
    expect(c.limits.allowSvg).toBe(false);
    expect(c.s3.requestTimeoutMs).toBeLessThanOrEqual(60_000);
  });

  it('has no credentials of its own and exposes nothing beyond loopback without credentials', () => {
    expect([c.redis.password, c.s3.accessKeyId, c.s3.secretAccessKey]).toEqual([undefined, undefined, undefined]);
    expect(DEFAULTS.redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:/);
    expect(c.ops.host).toBe('127.0.0.1');
    expect(c.ops.allowNoAuth).toBe(false);
  });

  it('recovers a dead worker\'s jobs within about a minute, without false stalls on a busy one', () => {
    const { lockDurationMs, stalledIntervalMs, maxStalledCount } = c.worker;
    // Locks are renewed every lockDuration/2 by a timer on the event loop (inference runs in its own
    // thread), so the lock only has to outlast an event-loop stall or a Redis blip.
    expect(lockDurationMs).toBeGreaterThanOrEqual(20_000);
    expect(lockDurationMs + 2 * stalledIntervalMs).toBeLessThanOrEqual(60_000);
    expect(maxStalledCount).toBeGreaterThanOrEqual(1);
  });
});
