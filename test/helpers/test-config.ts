import { deletePrefix as deletePrefixAt, uniquePrefix as uniquePrefixOf } from '../../tools/dev/redis-keys';
import { DEFAULT_REDIS_URL } from '../../tools/dev/redis-server';
import { loadConfig, type RevmodConfig, type RevmodConfigInput } from '../../src/config';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;

/** A unique BullMQ prefix per test file, so files running in parallel never see each other's jobs. */
export function uniquePrefix(name: string): string {
  return uniquePrefixOf(`test-${name}`);
}

/** Config for tests: the environment is ignored so a developer's variables cannot leak in. */
export function testConfig(overrides: RevmodConfigInput): RevmodConfig {
  return loadConfig({ ...overrides, redis: { url: TEST_REDIS_URL, ...(overrides.redis ?? {}) } }, {});
}

/** Deletes every key under a prefix (test cleanup). */
export async function deletePrefix(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  await deletePrefixAt({ url, prefix });
}
