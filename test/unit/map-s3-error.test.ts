import { RevmodError } from '@revmod/client';
import { mapS3Error } from '../../src/storage/map-s3-error';

const err = (name: string, status?: number, code?: string) =>
  Object.assign(new Error(`${name} happened`), { name, ...(code ? { code } : {}), ...(status ? { $metadata: { httpStatusCode: status } } : {}) });

describe('mapS3Error', () => {
  it.each([
    [err('NoSuchKey', 404), 'OBJECT_NOT_FOUND', false],
    [err('NotFound', 404), 'OBJECT_NOT_FOUND', false],
    [err('NoSuchBucket', 404), 'OBJECT_NOT_FOUND', false],
    // A pinned version that was deleted, or an If-Match that no longer holds: the bytes changed.
    [err('NoSuchVersion', 404), 'OBJECT_CHANGED', false],
    [err('PreconditionFailed', 412), 'OBJECT_CHANGED', false],
    [err('AccessDenied', 403), 'ACCESS_DENIED', false],
    // 403s about this worker's credentials (clock skew, expired token, a key rotation) are storage
    // trouble, retried; a 403 on one object (AccessDenied) stays permanent.
    [err('InvalidAccessKeyId', 403), 'STORAGE_AUTH', true],
    [err('RequestTimeTooSkewed', 403), 'STORAGE_AUTH', true],
    [err('ExpiredToken', 400), 'STORAGE_AUTH', true],
    [err('SignatureDoesNotMatch', 403), 'STORAGE_AUTH', true],
    [err('Forbidden', 403), 'ACCESS_DENIED', false],
    [err('TimeoutError'), 'STORAGE_TIMEOUT', true],
    [err('Error', undefined, 'ECONNREFUSED'), 'STORAGE_UNAVAILABLE', true],
    [err('Error', undefined, 'ECONNRESET'), 'STORAGE_UNAVAILABLE', true],
    [err('InternalError', 500), 'STORAGE_UNAVAILABLE', true],
    [err('SlowDown', 503), 'STORAGE_UNAVAILABLE', true],
    [err('SomethingNew'), 'STORAGE_UNAVAILABLE', true],
  ])('%s → %s (retryable %s)', (input, code, retryable) => {
    const mapped = mapS3Error(input, 'reviews', 'a/b.jpg');
    expect(mapped).toBeInstanceOf(RevmodError);
    expect(mapped.code).toBe(code);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.message).toContain('reviews');
  });

  it('keeps an error that already has a code', () => {
    const e = new RevmodError('OBJECT_TOO_LARGE', 'too big');
    expect(mapS3Error(e, 'b', 'k')).toBe(e);
  });
});
