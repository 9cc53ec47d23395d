/**
 * Command-line flags for the bench tools: node's parseArgs with --help, and errors that print the
 * usage and exit 2 (only entry points exit).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ModelKind } from '../model-gen/ensure-model';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface ToolArgs<T extends OptionsConfig> {
  readonly values: ReturnType<typeof parseArgs<{ options: T; strict: true }>>['values'];
  /** Prints `message` and the usage, exits 2. */
  fail(message: string): never;
  /** A whole number ≥ `min` given to --`name`. */
  int(name: string, raw: string, min: number): number;
  /** A generated model's kind given to --model. */
  model(raw: string): ModelKind;
}

export function toolArgs<const T extends OptionsConfig>(tool: string, help: string, options: T): ToolArgs<T> {
  const fail: (message: string) => never = (message) => {
    process.stderr.write(`${tool}: ${message}\n${help}`);
    process.exit(2);
  };
  let values: ToolArgs<T>['values'];
  try {
    values = parseArgs({ options: { ...options, help: { type: 'boolean', default: false } }, strict: true }).values as ToolArgs<T>['values'];
  } catch (err) {
    return fail((err as Error).message);
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(help);
    process.exit(0);
  }
  return {
    values,
    fail,
    int: (name, raw, min) => (/^\d+$/.test(raw) && Number(raw) >= min ? Number(raw) : fail(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`)),
    model: (raw) => (raw === 'resnet18' || raw === 'probe' ? raw : fail(`--model must be resnet18 or probe, got ${JSON.stringify(raw)}`)),
  };
}
