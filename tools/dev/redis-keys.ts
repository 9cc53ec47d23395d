import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** A unique BullMQ prefix, so runs and test files sharing one Redis never see each other's jobs. */
export function uniquePrefix(name: string): string {
  return `revmod-${name}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under a BullMQ prefix (demo, benchmark and test cleanup); returns how many. */
export async function deletePrefix(options: { readonly url: string; readonly prefix: string }): Promise<number> {
  const redis = new Redis(options.url, { maxRetriesPerRequest: 3 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${options.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
