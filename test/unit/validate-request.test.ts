import { jobIdFor, validateRequest } from '@revmod/client';

const limits = { allowedBuckets: [] as string[], maxMetaBytes: 100 };

describe('validateRequest', () => {
  it('accepts a normal request and normalizes meta', () => {
    expect(validateRequest({ bucket: 'reviews', key: 'shop-1/2026/a b:c.jpg', meta: { id: 1 } }, limits))
      .toEqual({ bucket: 'reviews', key: 'shop-1/2026/a b:c.jpg', meta: { id: 1 } });
    expect(validateRequest({ bucket: 'reviews', key: 'x.jpg' }, limits).meta).toEqual({});
  });

  it.each([
    [null, /request must be an object/],
    [{ key: 'a.jpg' }, /bucket must be an S3 bucket name.*received undefined/],
    [{ bucket: 'Bad_Bucket', key: 'a.jpg' }, /bucket .*received "Bad_Bucket"/],
    [{ bucket: 'reviews' }, /key must be a non-empty string, received undefined/],
    [{ bucket: 'reviews', key: 42 }, /key must be a non-empty string, received 42/],
    [{ bucket: 'reviews', key: '../etc/passwd' }, /key must not contain "\." or "\.\." path segments/],
    [{ bucket: 'reviews', key: 'a/../../b.jpg' }, /path segments/],
    [{ bucket: 'reviews', key: '/abs.jpg' }, /must not start with "\/"/],
    [{ bucket: 'reviews', key: 'a\u0000b' }, /control characters/],
    [{ bucket: 'reviews', key: 'k'.repeat(1025) }, /at most 1024 bytes, received 1025/],
    [{ bucket: 'reviews', key: 'a.jpg', meta: [1] }, /meta must be a plain object/],
    [{ bucket: 'reviews', key: 'a.jpg', meta: { s: 'x'.repeat(200) } }, /meta must serialize to at most 100 bytes/],
  ])('rejects %j with INVALID_JOB', (input, message) => {
    expect(() => validateRequest(input, limits)).toThrow(message);
    try { validateRequest(input, limits); } catch (err) { expect(err).toMatchObject({ code: 'INVALID_JOB', retryable: false }); }
  });

  it('enforces the bucket allow-list', () => {
    const strict = { ...limits, allowedBuckets: ['reviews'] };
    expect(() => validateRequest({ bucket: 'secrets', key: 'a.jpg' }, strict)).toThrow('bucket "secrets" is not in the allow-list (reviews)');
    expect(validateRequest({ bucket: 'reviews', key: 'a.jpg' }, strict).bucket).toBe('reviews');
  });
});

describe('jobIdFor', () => {
  it('is stable, distinct per object and free of ":"', () => {
    expect(jobIdFor('reviews', 'a.jpg')).toBe(jobIdFor('reviews', 'a.jpg'));
    expect(jobIdFor('reviews', 'a.jpg')).not.toBe(jobIdFor('reviews', 'b.jpg'));
    // The separator keeps ("ab","c") and ("a","bc") apart.
    expect(jobIdFor('ab', 'c')).not.toBe(jobIdFor('a', 'bc'));
    expect(jobIdFor('reviews', 'x:y:z')).toMatch(/^[0-9a-f]{40}$/);
  });
});
