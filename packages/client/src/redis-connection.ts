import { Redis, type RedisOptions } from 'ioredis';
import type { ClientConfig } from './client-settings';

export type RedisRole = 'worker' | 'producer';

/**
 * One ioredis connection from config. Workers (blocking commands) need `maxRetriesPerRequest: null`
 * so a Redis restart pauses them instead of failing jobs; producers keep ioredis' bounded retries so
 * a submit during an outage waits a while, then fails clearly instead of hanging forever.
 */
export function createRedisConnection(config: Pick<ClientConfig, 'redis'>, role: RedisRole): Redis {
  const { url, password, tls } = config.redis;
  const options: RedisOptions = {
    maxRetriesPerRequest: role === 'worker' ? null : 20,
    enableReadyCheck: true,
    // Reconnect forever with a capped delay: outages end, workers must come back by themselves.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5_000),
    lazyConnect: false,
    ...(password !== undefined ? { password } : {}),
    ...(tls || url.startsWith('rediss://') ? { tls: {} } : {}),
  };
  return new Redis(url, options);
}
