import { ERROR_CODES, type ErrorCode } from './codes';

/** An error with a stable code from the registry; library errors are mapped to it at the edge. */
export class RevmodError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RevmodError';
    this.code = code;
    this.retryable = ERROR_CODES[code].retryable;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isRevmodError(err: unknown): err is RevmodError {
  return err instanceof RevmodError;
}

/** Any thrown value as a RevmodError; unknown errors become INTERNAL (retryable: nothing is lost). */
export function toRevmodError(err: unknown): RevmodError {
  if (err instanceof RevmodError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new RevmodError('INTERNAL', message, { cause: err });
}
