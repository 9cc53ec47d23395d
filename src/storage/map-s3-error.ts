import { RevmodError } from '@revmod/client';

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'ECONNABORTED', 'UND_ERR_SOCKET',
]);

/**
 * 403s about the worker's credentials rather than the object: clock skew, expired session tokens,
 * and keys that are not (or no longer, or not yet) known during a rotation. They hit every object
 * alike, so they are storage trouble: retried, and counted by the storage breaker.
 */
const CREDENTIAL_TROUBLE = new Set([
  'RequestTimeTooSkewed', 'ExpiredToken', 'TokenRefreshRequired', 'InvalidToken', 'InvalidAccessKeyId', 'SignatureDoesNotMatch',
]);

/** Maps an @aws-sdk/client-s3 (or network) error to a registry code. The one place that knows S3's names. */
export function mapS3Error(err: unknown, bucket: string, key: string): RevmodError {
  if (err instanceof RevmodError) return err;
  const e = (err ?? {}) as AwsLikeError;
  const name = e.name ?? '';
  const code = e.code ?? '';
  const status = e.$metadata?.httpStatusCode;
  const where = `s3://${bucket}/${key}`;
  const detail = `${name || code || 'Error'}${e.message ? `: ${e.message}` : ''}`;
  // Before the 404s: a submitted version that is gone (404 NoSuchVersion) is a change, not a missing key.
  if (name === 'NoSuchVersion' || name === 'PreconditionFailed' || status === 412) {
    return new RevmodError('OBJECT_CHANGED', `${where} is not at the version submitted any more (${detail}): nothing was judged`, { cause: err });
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && name !== 'NoSuchBucket')) {
    return new RevmodError('OBJECT_NOT_FOUND', `no object at ${where}`, { cause: err });
  }
  if (name === 'NoSuchBucket') {
    return new RevmodError('OBJECT_NOT_FOUND', `bucket ${JSON.stringify(bucket)} does not exist (${where})`, { cause: err });
  }
  if (CREDENTIAL_TROUBLE.has(name)) {
    return new RevmodError('STORAGE_AUTH', `object store refused this worker's credentials fetching ${where} (${detail})`, { cause: err });
  }
  if (name === 'AccessDenied' || status === 403) {
    return new RevmodError('ACCESS_DENIED', `access denied to ${where} (${detail})`, { cause: err });
  }
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'ETIMEDOUT' || name === 'RequestTimeout') {
    return new RevmodError('STORAGE_TIMEOUT', `object store timed out fetching ${where} (${detail})`, { cause: err });
  }
  if (NETWORK_CODES.has(code) || (status !== undefined && status >= 500) || status === 429) {
    return new RevmodError('STORAGE_UNAVAILABLE', `object store unavailable fetching ${where} (${detail})`, { cause: err });
  }
  // Unknown: retryable, so that an unexpected failure never turns into a lost image.
  return new RevmodError('STORAGE_UNAVAILABLE', `unexpected error fetching ${where} (${detail})`, { cause: err });
}
