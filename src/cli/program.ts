import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { isRevmodError } from '@revmod/client';
import { EXIT, UsageError, type CliContext } from './cli-context';
import { registerFailedCommands } from './commands/failed-commands';
import { registerModelCommands } from './commands/model-commands';
import { registerOpsCommand } from './commands/ops-command';
import { registerSubmitCommands } from './commands/submit-commands';
import { registerWorkerCommand } from './commands/worker-command';
import { registerReviewCommand } from './commands/review-command';
import { registerUsersCommands } from './commands/users-commands';
import { registerReviewDataCommands } from './commands/review-data-commands';
import { registerEvalCommands } from './commands/eval-commands';
import { registerListsCommands } from './commands/lists-commands';


/** A command's action: resolves with the process's exit code. */
export type Action<A extends unknown[]> = (...args: A) => Promise<number>;

/** Turns an Action into a commander action whose exit code reaches the entry point. */
export type Runner = <A extends unknown[]>(action: Action<A>) => (...args: A) => Promise<void>;

/** Adds commands that live outside what ships (the demo and the model generators of tools/). */
export type CliExtension = (program: Command, ctx: CliContext, run: Runner) => void;

/** commander argument parser for positive integers, naming the option in its error. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`must be a positive integer, received ${JSON.stringify(value)}`);
  return Number(value);
}

/** commander argument parser for integers ≥ 0. */
export function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`must be a non-negative integer, received ${JSON.stringify(value)}`);
  return Number(value);
}

/** The `revmod` program with every shipped command, and `extensions` on top. */
export function buildProgram(ctx: CliContext, extensions: readonly CliExtension[] = []): { program: Command; exitCode: () => number } {
  let exitCode: number = EXIT.ok;
  const program = new Command('revmod')
    .description('Queue-driven batch moderation of review photos: worker, ops server, SDK tasks and model tools.')
    .showHelpAfterError('(run with --help for usage)')
    // Options after a subcommand belong to it (`eval` and `eval calibrate` share option names).
    .enablePositionalOptions()
    .configureOutput({ writeOut: (s) => ctx.out(s.replace(/\n$/, '')), writeErr: (s) => ctx.err(s.replace(/\n$/, '')) })
    .exitOverride();
  /** Wraps an action so that its exit code reaches the entry point. */
  const run = <A extends unknown[]>(action: Action<A>) => async (...args: A): Promise<void> => {
    exitCode = await action(...args);
  };
  registerWorkerCommand(program, ctx, run);
  registerOpsCommand(program, ctx, run);
  registerSubmitCommands(program, ctx, run);
  registerFailedCommands(program, ctx, run);
  registerModelCommands(program, ctx, run);
  registerReviewCommand(program, ctx, run);
  registerUsersCommands(program, ctx, run);
  registerReviewDataCommands(program, ctx, run);
  registerEvalCommands(program, ctx, run);
  registerListsCommands(program, ctx, run);
  for (const extend of extensions) extend(program, ctx, run);
  // Every subcommand exits through the override too, so bad arguments reach runCli.
  const override = (c: Command): void => {
    c.exitOverride().configureOutput({ writeOut: (s) => ctx.out(s.replace(/\n$/, '')), writeErr: (s) => ctx.err(s.replace(/\n$/, '')) });
    c.commands.forEach(override);
  };
  program.commands.forEach(override);
  return { program, exitCode: () => exitCode };
}

/**
 * Runs `revmod ARGS…` and resolves with the exit code: 0 done, 1 failed, 2 bad arguments or
 * configuration (one line naming the problem).
 */
export async function runCli(argv: readonly string[], ctx: CliContext, extensions: readonly CliExtension[] = []): Promise<number> {
  const { program, exitCode } = buildProgram(ctx, extensions);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode();
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version print themselves and exit 0; every other commander error is a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof UsageError || (isRevmodError(err) && (err.code === 'CONFIG_INVALID' || err.code === 'INVALID_JOB' || err.code === 'BUCKET_NOT_ALLOWED' || err.code === 'LIST_INVALID'))) {
      ctx.err(`revmod: ${err.message}`);
      return EXIT.usage;
    }
    ctx.err(`revmod: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failure;
  }
}
