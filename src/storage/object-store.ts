/** Where images come from. The S3 implementation is the real one; tests may use others beside it. */
export interface FetchOptions {
  /** Objects larger than this are refused (OBJECT_TOO_LARGE) before their body is read. */
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
  /** Fetch this version (versioned buckets); a version that is gone is OBJECT_CHANGED. */
  readonly versionId?: string;
  /** The ETag (without quotes) the object must still have; another one is OBJECT_CHANGED. */
  readonly etag?: string;
  /**
   * Called with the object's size once known, before its body is read: resolves when that much
   * memory may be used (the worker's in-flight byte budget).
   */
  readonly reserveBytes?: (bytes: number) => Promise<void>;
}

/** An object's bytes and the version they are. */
export interface FetchedObject {
  readonly bytes: Buffer;
  /** The ETag the store reported, without quotes. */
  readonly etag: string | undefined;
  readonly versionId: string | undefined;
}

export interface ObjectStore {
  /** The whole object. Throws RevmodError: OBJECT_NOT_FOUND, OBJECT_TOO_LARGE, OBJECT_CHANGED, STORAGE_UNAVAILABLE, ... */
  fetch(bucket: string, key: string, options: FetchOptions): Promise<FetchedObject>;
  close(): void;
}

/** An ETag as S3 sends it (quoted, maybe weak) → the bare value. */
export function bareEtag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}
