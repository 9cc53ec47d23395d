import type { CliContext } from '../../src/cli';

/** A CliContext that records output, with the given environment. */
export function capture(env: Record<string, string>): CliContext & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    env, stdout, stderr,
    out: (line) => stdout.push(line),
    err: (line) => stderr.push(line),
    exit: (code) => { throw new Error(`unexpected exit(${code})`); },
  };
}
