import { deletePrefix as deletePrefixAt, uniquePrefix as uniquePrefixOf } from '../../tools/dev/redis-keys';
import { DEFAULT_REDIS_URL } from '../../tools/dev/redis-server';
import { loadConfig, type RevmodConfig, type RevmodConfigInput } from '../../src/config';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;

/** A unique BullMQ prefix per test file, so files running in parallel never see each other's jobs. */
export function uniquePrefix(name: string): string {
  return uniquePrefixOf(`test-${name}`);
}

/**
 * Config for tests: the environment is ignored so a developer's variables cannot leak in, and the
 * generated (untrained) test models are allowed unless a test says otherwise. The detectors are off
 * unless a test turns them on: most tests judge the classifier and the queues on synthetic images,
 * which the blur and text rules would flag (test/integration/detectors-worker.test.ts runs them).
 */
export function testConfig(overrides: RevmodConfigInput): RevmodConfig {
  return loadConfig({
    ...overrides,
    redis: { url: TEST_REDIS_URL, ...(overrides.redis ?? {}) },
    model: { allowUntrained: true, ...(overrides.model ?? {}) },
    detectors: { blur: false, qr: false, text: false, ...(overrides.detectors ?? {}) },
  }, {});
}

/** Deletes every key under a prefix (test cleanup). */
export async function deletePrefix(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  await deletePrefixAt({ url, prefix });
}
