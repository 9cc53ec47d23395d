/**
 * The one Redis launcher for the demo, the tests, the benchmark and the soak: `redis-server` from
 * PATH on a loopback port, in memory or with an append-only file so it can be stopped, killed and
 * started again on the same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port';
import { setTimeout as sleep } from 'node:timers/promises';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** True when a Redis answers PING at `url` within `connectTimeoutMs` (a loading Redis is not ready). */
export async function redisAnswers(url: string, connectTimeoutMs = 1_000): Promise<boolean> {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true, connectTimeout: connectTimeoutMs });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    // Loading an AOF answers LOADING errors: only a PONG means ready.
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * - `none`: in memory only.
 * - `everysec`: AOF fsynced once a second (a kill -9 can lose the last second of acknowledged writes).
 * - `always`: AOF fsynced before each reply.
 */
export type RedisPersistence = 'none' | 'everysec' | 'always';

export interface RedisServerOptions {
  /** @defaultValue a free loopback port */
  readonly port?: number;
  /** Data directory; @defaultValue a new temp directory, removed by `destroy()` */
  readonly dir?: string;
  /** @defaultValue 'none' */
  readonly persistence?: RedisPersistence;
  /** Leave the server running after this process exits (`--daemonize yes`). @defaultValue false */
  readonly daemonize?: boolean;
}

const INSTALL_HINT = 'install Redis 7 (Debian: apt-get install redis-server) or set REDIS_URL';

export class RedisServer {
  readonly url: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly persistence: RedisPersistence,
    private readonly daemonize: boolean,
  ) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'revmod-redis-'));
    const server = new RedisServer(options.port ?? (await freePort()), dir, options.dir === undefined, options.persistence ?? 'none', options.daemonize ?? false);
    await server.start();
    return server;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the server (again) on the same port and directory; resolves once it answers PING. */
  async start(timeoutMs = 15_000): Promise<void> {
    if (this.child) return;
    const aof = this.persistence === 'none' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', this.persistence];
    const child = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, ...aof, '--save', '',
      '--maxmemory-policy', 'noeviction', '--daemonize', this.daemonize ? 'yes' : 'no', '--loglevel', 'warning',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    let exitCode: number | null | undefined;
    let spawnError: Error | undefined;
    this.exited = new Promise((resolve) => child.once('exit', (code) => { exitCode = code; resolve(); }));
    child.once('error', (err) => { spawnError = err; exitCode = -1; });
    this.child = child;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (spawnError) break;
      // A daemonizing redis-server exits 0 once the daemon runs.
      if (exitCode !== undefined && !(this.daemonize && exitCode === 0)) break;
      if (await redisAnswers(this.url)) return;
      await sleep(50);
    }
    child.kill('SIGKILL');
    this.child = undefined;
    if (spawnError) throw new Error(`redis-server could not be started (${spawnError.message}): ${INSTALL_HINT}`);
    throw new Error(`redis-server on port ${this.port} did not answer (exit ${String(exitCode)}): ${stderr.trim()}`);
  }

  /** SIGTERM (Redis flushes its AOF and exits, as on SHUTDOWN) and waits for the exit. */
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** Sends `signal` (kill -9 by default: nothing flushed) and waits for the exit. */
  async signal(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.daemonize) {
      // The spawned process only forked the daemon: reach the daemon itself.
      const redis = new Redis(this.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on('error', () => undefined);
      await redis.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      redis.disconnect();
      this.child = undefined;
      return;
    }
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /** Stops the server and removes the directory it created. */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface LocalRedis {
  readonly url: string;
  /** Whether this call started it (`stop` then stops it). */
  readonly started: boolean;
  stop(): Promise<void>;
}

/**
 * The Redis answering at `url`, or a `redis-server` started on that URL's loopback port. Throws a
 * message saying how to get one.
 */
export async function ensureRedis(url: string = process.env.REDIS_URL ?? DEFAULT_REDIS_URL, options: { daemonize?: boolean } = {}): Promise<LocalRedis> {
  if (await redisAnswers(url)) return { url, started: false, stop: async () => undefined };
  const parsed = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) {
    throw new Error(`no Redis answers at ${url}; start it, or unset REDIS_URL to use a local one`);
  }
  const server = await RedisServer.start({ port: Number(parsed.port || '6379'), daemonize: options.daemonize ?? false });
  return { url, started: true, stop: () => server.destroy() };
}
