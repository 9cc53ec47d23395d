/** Where images come from. The S3 implementation is the real one; tests may use others beside it. */
export interface FetchOptions {
  /** Objects larger than this are refused (OBJECT_TOO_LARGE) before their body is read. */
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
}

export interface ObjectStore {
  /** The whole object. Throws RevmodError: OBJECT_NOT_FOUND, OBJECT_TOO_LARGE, STORAGE_UNAVAILABLE, ... */
  fetch(bucket: string, key: string, options: FetchOptions): Promise<Buffer>;
  close(): void;
}
