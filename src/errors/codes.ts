/**
 * The one registry of error codes. Codes are stable strings (they appear in verdicts, metrics and
 * logs); `retryable` says whether BullMQ should try the job again (transient) or the item should
 * get an error verdict at once (permanent).
 */
export const ERROR_CODES = {
  INVALID_JOB: { retryable: false, description: 'The job payload is malformed (missing or mistyped fields, unsafe key).' },
  BUCKET_NOT_ALLOWED: { retryable: false, description: 'The bucket is not in the configured allow-list.' },
  OBJECT_NOT_FOUND: { retryable: false, description: 'No object at that bucket/key.' },
  OBJECT_EMPTY: { retryable: false, description: 'The object has zero bytes.' },
  OBJECT_TOO_LARGE: { retryable: false, description: 'The object is larger than limits.maxBytes (refused before download).' },
  ACCESS_DENIED: { retryable: false, description: 'The object store refused access to the object.' },
  STORAGE_UNAVAILABLE: { retryable: true, description: 'The object store could not be reached or answered with a server error.' },
  STORAGE_TIMEOUT: { retryable: true, description: 'The object store did not answer within the configured timeout.' },
  NOT_AN_IMAGE: { retryable: false, description: 'The object is not in any image format (HTML, PDF, random bytes...).' },
  UNSUPPORTED_FORMAT: { retryable: false, description: 'An image format this worker does not decode (HEIC/HEIF, SVG unless enabled, ...).' },
  IMAGE_CORRUPT: { retryable: false, description: 'The image is truncated or its data is invalid.' },
  IMAGE_TOO_LARGE: { retryable: false, description: 'The image declares more pixels than limits.maxPixels (decompression bomb guard).' },
  INFERENCE_FAILED: { retryable: true, description: 'The inference thread failed or died while running the batch.' },
  MODEL_INVALID: { retryable: false, description: 'The model file or its card does not satisfy the model contract.' },
  OCR_FAILED: { retryable: true, description: 'The OCR thread failed or died while reading the image\'s text.' },
  OCR_OVERLOADED: { retryable: true, description: 'The OCR pool\'s queue is full; the job is tried again later.' },
  CONFIG_INVALID: { retryable: false, description: 'A configuration value is invalid.' },
  SHUTTING_DOWN: { retryable: true, description: 'The worker is closing; the job is handed back to the queue.' },
  INTERNAL: { retryable: true, description: 'An unexpected error; treated as transient so that nothing is lost.' },
} as const satisfies Record<string, { readonly retryable: boolean; readonly description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}
