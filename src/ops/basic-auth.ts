import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { OpsCredentials } from './ops-auth';

// Hashing first gives equal-length inputs to timingSafeEqual, so neither content nor length leaks.
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
const sameSecret = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));

/** Whether an Authorization header carries exactly these credentials (constant-time compare). */
export function credentialsMatch(header: string | undefined, expected: OpsCredentials): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  const user = colon >= 0 ? decoded.slice(0, colon) : '';
  const password = colon >= 0 ? decoded.slice(colon + 1) : '';
  // Both compares always run: which part was wrong must not show in the timing either.
  const userOk = sameSecret(user, expected.user);
  const passwordOk = sameSecret(password, expected.password);
  return colon >= 0 && userOk && passwordOk;
}

/** Express middleware: 401 with a Basic challenge unless the request carries the credentials. */
export function basicAuth(expected: OpsCredentials, realm = 'revmod ops'): RequestHandler {
  return (req, res, next) => {
    if (credentialsMatch(req.headers.authorization, expected)) return next();
    res.set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    res.status(401).type('text/plain').send('authentication required\n');
  };
}
