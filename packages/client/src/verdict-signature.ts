import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { RevmodError } from './errors';
import type { Verdict } from './types';

/**
 * Verdict signatures: HMAC-SHA256 over the verdict's canonical form, so that a consumer can tell a
 * verdict a worker wrote from one added to the queue by anyone else who can reach Redis.
 *
 * Canonical form: the verdict without its `signature` field, as JSON with object keys sorted by
 * UTF-16 code unit at every level, no whitespace, fields whose value is undefined left out
 * (JSON.stringify's number and string encoding). The signature is `<keyId>.<hex HMAC>`, where keyId
 * is the first 8 hex digits of sha256(key): it tells a verifier holding two keys which one signed.
 */
export function canonicalVerdict(verdict: Verdict): string {
  const { signature: _signature, ...rest } = verdict;
  return canonicalJson(rest);
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The id of a signing key: the first 8 hex digits of its sha256. */
export function signingKeyId(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 8);
}

/** The verdict with its signature. */
export function signVerdict(verdict: Verdict, key: string): Verdict {
  const mac = createHmac('sha256', key).update(canonicalVerdict(verdict), 'utf8').digest('hex');
  return { ...verdict, signature: `${signingKeyId(key)}.${mac}` };
}

/**
 * Checks a verdict's signature against the keys accepted (the current one and, while rotating, the
 * previous one). Throws VERDICT_SIGNATURE_INVALID when it is missing, signed by another key, or does
 * not match the verdict (altered or forged).
 */
export function verifyVerdict(verdict: Verdict, keys: readonly string[]): void {
  const sig = verdict.signature;
  const where = `verdict ${JSON.stringify(verdict.id)}`;
  if (typeof sig !== 'string') throw new RevmodError('VERDICT_SIGNATURE_INVALID', `${where} is not signed`);
  const dot = sig.indexOf('.');
  const keyId = sig.slice(0, dot);
  const key = keys.find((k) => signingKeyId(k) === keyId);
  if (dot < 0 || key === undefined) throw new RevmodError('VERDICT_SIGNATURE_INVALID', `${where} is signed by key ${JSON.stringify(keyId)}, which is not accepted here`);
  const expected = createHmac('sha256', key).update(canonicalVerdict(verdict), 'utf8').digest();
  const given = Buffer.from(sig.slice(dot + 1), 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new RevmodError('VERDICT_SIGNATURE_INVALID', `${where} does not match its signature: it was altered or forged`);
  }
}

/** The keys a config accepts, current first. */
export function acceptedKeys(signing: { readonly key?: string | undefined; readonly previousKey?: string | undefined }): string[] {
  return [signing.key, signing.previousKey].filter((k): k is string => k !== undefined);
}
