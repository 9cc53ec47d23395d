import { randomBytes } from 'node:crypto';
import { deletePrefix as deletePrefixAt } from '../../src/dev/delete-prefix';
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
  await deletePrefixAt(prefix, url);
}
