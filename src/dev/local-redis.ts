import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';

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

export interface LocalRedis {
  readonly url: string;
  /** Whether this process started it (and `stop` will stop it). */
  readonly started: boolean;
  stop(): Promise<void>;
}

/**
 * A Redis for development: the one answering at `url`, or a `redis-server` from PATH started on
 * that URL's port (in memory only, stopped by `stop`). Throws a message saying how to get one.
 */
export async function ensureLocalRedis(url: string): Promise<LocalRedis> {
  if (await redisAnswers(url)) return { url, started: false, stop: async () => undefined };
  const parsed = new URL(url);
  const port = parsed.port || '6379';
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) {
    throw new Error(`no Redis answers at ${url}; start it, or unset REDIS_URL to use a local one`);
  }
  const child = spawn('redis-server', ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  for (let i = 0; i < 50; i++) {
    const err = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 100))]);
    if (err) {
      throw new Error(`no Redis answers at ${url} and redis-server could not be started (${err.message}): install Redis 7 (Debian: apt-get install redis-server) or set REDIS_URL`);
    }
    if (await redisAnswers(url)) {
      return {
        url,
        started: true,
        stop: () => new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); }),
      };
    }
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server was started on port ${port} but did not answer within 5 s`);
}
