// Process entry of the `revmod` command: parse → run → exit with the command's code. The other
// entries here (moderation-worker, ops-server, demo) are `revmod <command>` under a fixed name.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliContext, type CliExtension } from '../src/cli';

// The AWS SDK is pinned to a release that supports Node 20; its notice about later releases is noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ctx: CliContext = {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  exit: (code) => process.exit(code),
};

/** In a checkout of the repository, the development commands (demo, model make) join in. */
function devExtensions(): CliExtension[] {
  const dir = join(__dirname, '..', 'tools', 'cli');
  if (!existsSync(join(dir, 'dev-commands.ts')) && !existsSync(join(dir, 'dev-commands.js'))) return [];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return [(require(join(dir, 'dev-commands')) as { devCommands: CliExtension }).devCommands];
}

/** Runs `revmod ARGS…` and exits with its code. */
export function main(args: readonly string[]): void {
  void runCli(args, ctx, devExtensions()).then((code) => process.exit(code));
}

if (require.main === module) main(process.argv.slice(2));
