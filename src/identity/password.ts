import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** scrypt cost parameters of new hashes (OWASP's minimum for scrypt is N=2^17 with r=8 at p=1; 2^15 keeps a login under ~100 ms on 2 cores). */
export interface ScryptParams {
  /** log2 of N. @defaultValue 15 */
  readonly log2N: number;
  /** @defaultValue 8 */
  readonly r: number;
  /** @defaultValue 1 */
  readonly p: number;
}

export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { log2N: 15, r: 8, p: 1 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.log2N;
  // Node refuses scrypt above maxmem (32 MiB default); 128·N·r bytes is what it needs.
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A storable hash: `scrypt$<log2N>$<r>$<p>$<salt b64>$<key b64>`. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params);
  return ['scrypt', params.log2N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

const HASH = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export function isPasswordHash(value: string): boolean {
  const m = HASH.exec(value);
  return m !== null && Number(m[1]) >= 10 && Number(m[1]) <= 20;
}

/** Whether `password` matches `stored` (constant-time compare). A malformed hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = HASH.exec(stored);
  if (!m || !isPasswordHash(stored)) return false;
  const expected = Buffer.from(m[5]!, 'base64');
  const key = await derive(password, Buffer.from(m[4]!, 'base64'), { log2N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

// Unknown users are checked against this, so that a login for a name that does not exist takes as long as one that does.
let dummyHash: Promise<string> | undefined;

/** Runs a verification that cannot succeed, taking as long as a real one. */
export async function burnPasswordCheck(password: string): Promise<false> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  await verifyPassword(password, await dummyHash);
  return false;
}
