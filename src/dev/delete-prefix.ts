import { Redis } from 'ioredis';

/** Deletes every key under a BullMQ prefix (demo, benchmark and test cleanup). */
export async function deletePrefix(prefix: string, url: string): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
