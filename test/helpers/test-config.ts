import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig, type RevmodConfig, type RevmodConfigInput } from '../../src/config';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A unique BullMQ prefix per test file, so files running in parallel never see each other's jobs. */
export function uniquePrefix(name: string): string {
  return `revmod-test-${name}-${randomBytes(4).toString('hex')}`;
}

/** Config for tests: the environment is ignored so a developer's variables cannot leak in. */
export function testConfig(overrides: RevmodConfigInput): RevmodConfig {
  return loadConfig({ ...overrides, redis: { url: TEST_REDIS_URL, ...(overrides.redis ?? {}) } }, {});
}

/** Deletes every key under a prefix (test cleanup). */
export async function deletePrefix(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
