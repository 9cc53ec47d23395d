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
  OBJECT_CHANGED: { retryable: false, description: 'The object at the key is no longer the version submitted (overwritten or deleted): nothing was judged.' },
  STORAGE_AUTH: { retryable: true, description: "The object store refused this worker's credentials (expired token, clock skew, key rotation): storage trouble, retried." },
  STORAGE_UNAVAILABLE: { retryable: true, description: 'The object store could not be reached or answered with a server error.' },
  STORAGE_TIMEOUT: { retryable: true, description: 'The object store did not answer within the configured timeout.' },
  NOT_AN_IMAGE: { retryable: false, description: 'The object is not in any image format (HTML, PDF, random bytes...).' },
  UNSUPPORTED_FORMAT: { retryable: false, description: 'An image format this worker does not decode (SVG unless enabled, JPEG 2000, HEIF with other than HEVC or AV1, ...).' },
  IMAGE_CORRUPT: { retryable: false, description: 'The image is truncated or its data is invalid.' },
  IMAGE_TOO_LARGE: { retryable: false, description: 'The image declares more pixels than limits.maxPixels (decompression bomb guard).' },
  INFERENCE_FAILED: { retryable: true, description: 'The inference thread failed or died while running the batch.' },
  MODEL_OUTPUT_INVALID: { retryable: false, description: 'The model produced non-finite scores (NaN or Infinity) for the image: never a pass.' },
  PROCESSING_CRASHED: { retryable: false, description: 'Workers died repeatedly while processing this image (a poison image or an out-of-memory): it goes to a person.' },
  MODEL_INVALID: { retryable: false, description: 'The model file or its card does not satisfy the model contract.' },
  OCR_FAILED: { retryable: true, description: 'The OCR thread failed or died while reading the image\'s text.' },
  OCR_OVERLOADED: { retryable: true, description: 'The OCR pool\'s queue is full; the job is tried again later.' },
  MODEL_IMPORT_UNAVAILABLE: { retryable: false, description: 'A model import needs a development dependency (nsfwjs, @tensorflow/tfjs) that is not installed.' },
  CONFIG_INVALID: { retryable: false, description: 'A configuration value is invalid.' },
  VERDICT_SIGNATURE_INVALID: { retryable: false, description: 'A verdict failed signature verification (forged, altered or signed with an unknown key): refused.' },
  SHUTTING_DOWN: { retryable: true, description: 'The worker is closing; the job is handed back to the queue.' },
  INTERNAL: { retryable: true, description: 'An unexpected error; treated as transient so that nothing is lost.' },
  // Review console and decisions.
  UNAUTHENTICATED: { retryable: false, description: 'No valid session or credentials: sign in first.' },
  FORBIDDEN: { retryable: false, description: "The signed-in user's role does not allow this action." },
  CSRF_REJECTED: { retryable: false, description: 'A state-changing request without a valid CSRF token or from another origin.' },
  ITEM_NOT_FOUND: { retryable: false, description: 'No review item, verdict or decision is known for that job id.' },
  CLAIM_EXPIRED: { retryable: false, description: 'The claim (lease) on the review item expired before the decision; the item went back to the queue and the decision was not applied.' },
  CLAIM_NOT_HELD: { retryable: false, description: 'The review item is not claimed by this reviewer (another reviewer holds it, or it was already decided).' },
  DECISION_INVALID: { retryable: false, description: 'The decision is malformed: unknown outcome, a rejection without a reason, an unknown reason, a note too long.' },
  DECISION_CONFLICT: { retryable: false, description: 'A different decision was already recorded with this claim; the first one stands.' },
  DECISION_LOG_UNAVAILABLE: { retryable: true, description: 'The decision log in S3 could not be written: the decision was not recorded, and can be submitted again.' },
  CONTENT_MISMATCH: { retryable: false, description: "The object's bytes no longer match the version (ETag, VersionId or sha256) the verdict was about." },
  // Known-image lists.
  LIST_INVALID: { retryable: false, description: 'A known-image list request is malformed: a bad list name, kind, action, radius, hash or entry selector.' },
  LIST_NOT_FOUND: { retryable: false, description: 'No known-image list by that name, or no such entry in it.' },
  LIST_UNAVAILABLE: { retryable: true, description: 'The lists could not be changed or read now (their S3 journal or Redis did not answer, or no worker answered the request in time); nothing was half-applied.' },
} as const satisfies Record<string, { readonly retryable: boolean; readonly description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}
