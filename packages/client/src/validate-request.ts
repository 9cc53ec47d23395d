import { RevmodError } from './errors';
import type { SubmitRequest } from './types';

export interface RequestLimits {
  readonly allowedBuckets: readonly string[];
  readonly maxMetaBytes: number;
}

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MAX_KEY_BYTES = 1024;

function invalid(message: string): never {
  throw new RevmodError('INVALID_JOB', message);
}

function show(value: unknown): string {
  const s = JSON.stringify(value);
  return s === undefined ? String(value) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Checks a submit request (or a job payload that reached the worker) and returns it normalized.
 * Throws INVALID_JOB or BUCKET_NOT_ALLOWED with a message naming the field and what was received.
 */
/** A request, checked and normalized: meta always present, the ETag without quotes. */
export interface ValidRequest {
  readonly bucket: string;
  readonly key: string;
  readonly etag?: string;
  readonly versionId?: string;
  readonly meta: Record<string, unknown>;
}

const ETAG_RE = /^(W\/)?"?([!#-~]{1,256}?)"?$/;

export function validateRequest(input: unknown, limits: RequestLimits): ValidRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    invalid(`request must be an object { bucket, key, meta? }, received ${show(input)}`);
  }
  const { bucket, key, meta, etag, versionId } = input as Record<string, unknown>;
  if (typeof bucket !== 'string' || !BUCKET_RE.test(bucket) || bucket.includes('..')) {
    invalid(`bucket must be an S3 bucket name (3-63 of a-z 0-9 . -), received ${show(bucket)}`);
  }
  if (limits.allowedBuckets.length > 0 && !limits.allowedBuckets.includes(bucket)) {
    throw new RevmodError('BUCKET_NOT_ALLOWED',
      `bucket ${show(bucket)} is not in the allow-list (${limits.allowedBuckets.join(', ')})`);
  }
  if (typeof key !== 'string' || key.length === 0) invalid(`key must be a non-empty string, received ${show(key)}`);
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) invalid(`key must be at most ${MAX_KEY_BYTES} bytes, received ${Buffer.byteLength(key)}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) invalid(`key must not contain control characters, received ${show(key)}`);
  if (key.startsWith('/')) invalid(`key must not start with "/", received ${show(key)}`);
  if (key.split('/').some((seg) => seg === '..' || seg === '.')) {
    invalid(`key must not contain "." or ".." path segments, received ${show(key)}`);
  }
  let etagOut: string | undefined;
  if (etag !== undefined) {
    const m = typeof etag === 'string' ? ETAG_RE.exec(etag) : null;
    if (!m) invalid(`etag must be an S3 ETag (1-256 printable characters, quotes allowed), received ${show(etag)}`);
    etagOut = m[2]!;
  }
  if (versionId !== undefined && (typeof versionId !== 'string' || versionId.length === 0 || versionId.length > 1024 || !/^[!-~]+$/.test(versionId))) {
    invalid(`versionId must be an S3 version id (1-1024 printable characters), received ${show(versionId)}`);
  }
  let metaOut: Record<string, unknown> = {};
  if (meta !== undefined) {
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
      invalid(`meta must be a plain object, received ${show(meta)}`);
    }
    let json: string;
    try {
      json = JSON.stringify(meta);
    } catch (err) {
      invalid(`meta must be JSON-serializable: ${(err as Error).message}`);
    }
    if (Buffer.byteLength(json) > limits.maxMetaBytes) {
      invalid(`meta must serialize to at most ${limits.maxMetaBytes} bytes, received ${Buffer.byteLength(json)}`);
    }
    metaOut = JSON.parse(json) as Record<string, unknown>;
  }
  return {
    bucket, key,
    ...(etagOut !== undefined ? { etag: etagOut } : {}),
    ...(versionId !== undefined ? { versionId: versionId as string } : {}),
    meta: metaOut,
  };
}
