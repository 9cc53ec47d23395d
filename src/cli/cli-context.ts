/** What a command may touch of its process: output, the environment, and (entry point only) exit. */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** One line to stdout. */
  out(line: string): void;
  /** One line to stderr. */
  err(line: string): void;
  /**
   * Ends the process now. Only for the second-signal forced exit of long-running commands; every
   * other command returns its exit code to the entry point.
   */
  exit(code: number): never;
}

/** Exit codes of the `revmod` commands. */
export const EXIT = { ok: 0, failure: 1, usage: 2, forced: 130 } as const;

/** A bad argument: one line naming it, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
