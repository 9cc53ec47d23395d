import { Store, type SessionData } from 'express-session';
import type { Redis } from 'ioredis';

type Callback<T = void> = (err?: unknown, value?: T) => void;

/**
 * express-session's store on the ioredis connection revmod already holds: one JSON string per
 * session, expiring with the cookie. Sessions live in Redis, not in the cookie, so that signing out,
 * or removing a user, ends their sessions on every console replica.
 */
export class RedisSessionStore extends Store {
  constructor(private readonly redis: Redis, private readonly keyPrefix: string, private readonly defaultTtlSeconds: number) {
    super();
  }

  private key(sid: string): string {
    return `${this.keyPrefix}${sid}`;
  }

  private ttlOf(session: SessionData): number {
    const maxAge = session.cookie?.maxAge;
    return typeof maxAge === 'number' && maxAge > 0 ? Math.ceil(maxAge / 1_000) : this.defaultTtlSeconds;
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    this.redis.get(this.key(sid)).then((text) => callback(undefined, text === null ? null : (JSON.parse(text) as SessionData)), callback);
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    this.redis.set(this.key(sid), JSON.stringify(session), 'EX', this.ttlOf(session)).then(() => callback?.(), (err) => callback?.(err));
  }

  override destroy(sid: string, callback?: Callback): void {
    this.redis.del(this.key(sid)).then(() => callback?.(), (err) => callback?.(err));
  }

  override touch(sid: string, session: SessionData, callback?: Callback): void {
    this.redis.expire(this.key(sid), this.ttlOf(session)).then(() => callback?.(), (err) => callback?.(err));
  }
}
