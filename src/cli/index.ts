export { runCli, buildProgram, positiveInt, nonNegativeInt, type CliExtension, type Runner, type Action } from './program';
export { EXIT, UsageError, type CliContext } from './cli-context';
