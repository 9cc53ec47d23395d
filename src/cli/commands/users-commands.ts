import type { Command } from 'commander';
import { Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../../config';
import { hashPassword, readUsersFile, removeUser, ROLES, upsertUser, USER_ID, type Role } from '../../identity';
import { EXIT, UsageError, type CliContext } from '../cli-context';
import type { Runner } from '../program';

/** Where the users file is: --file, else REVMOD_USERS_FILE. */
function usersFile(ctx: CliContext, file: string | undefined): string {
  const path = file ?? loadConfig({}, ctx.env).identity.usersFile;
  if (path === undefined) throw new UsageError('--file or REVMOD_USERS_FILE must name the users file, received neither');
  return path;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The password from exactly one source: --password-file, --password-stdin, or --generate (printed once). */
async function passwordFrom(opts: { passwordFile?: string; passwordStdin?: boolean; generate?: boolean; proxyOnly?: boolean }): Promise<{ password?: string; generated: boolean }> {
  const sources = [opts.passwordFile !== undefined, opts.passwordStdin === true, opts.generate === true, opts.proxyOnly === true].filter(Boolean).length;
  if (sources !== 1) throw new UsageError(`exactly one of --password-file, --password-stdin, --generate or --proxy-only must be given, received ${sources}`);
  if (opts.proxyOnly) return { generated: false };
  if (opts.generate) return { password: randomBytes(15).toString('base64url'), generated: true };
  let text: string;
  if (opts.passwordFile !== undefined) {
    try {
      text = await readFile(opts.passwordFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--password-file must name a readable file, received ${JSON.stringify(opts.passwordFile)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  } else {
    text = await readStdin();
  }
  const password = text.replace(/\r?\n$/, '');
  if (password.length < 12) throw new UsageError(`the password must have at least 12 characters, received ${password.length}`);
  return { password, generated: false };
}

export function registerUsersCommands(program: Command, ctx: CliContext, run: Runner): void {
  const users = program.command('users').description('manage console and dashboard logins in the users file (REVMOD_USERS_FILE)');

  users.command('add')
    .description('add a user, or replace one with the same id (its password and roles)')
    .argument('<id>', 'login name: lower-case letters, digits and . _ @ -')
    .addOption(new Option('--role <role...>', 'one or more roles: reviewer, lead (console), viewer, admin (dashboard)').choices(ROLES).makeOptionMandatory())
    .option('--name <name>', 'display name')
    .option('--password-file <file>', 'read the password from FILE (one trailing newline ignored)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--generate', 'generate a password and print it once')
    .option('--proxy-only', 'no password: the user signs in through the auth proxy header only')
    .option('--file <path>', 'the users file (default REVMOD_USERS_FILE)')
    .action(run(async (id: string, opts: { role: Role[]; name?: string; passwordFile?: string; passwordStdin?: boolean; generate?: boolean; proxyOnly?: boolean; file?: string }) => {
      if (!USER_ID.test(id)) throw new UsageError(`ID must be lower-case letters, digits and . _ @ - (at most 64), received ${JSON.stringify(id)}`);
      if (opts.name !== undefined && (opts.name.trim() === '' || opts.name.length > 100)) throw new UsageError(`--name must be 1 to 100 characters, received ${JSON.stringify(opts.name)}`);
      const path = usersFile(ctx, opts.file);
      const { password, generated } = await passwordFrom(opts);
      const result = await upsertUser(path, {
        id, roles: [...new Set(opts.role)], ...(opts.name ? { name: opts.name.trim() } : {}), ...(password !== undefined ? { password: await hashPassword(password) } : {}),
      });
      ctx.out(`${result} ${id} (${[...new Set(opts.role)].join(', ')}) in ${path}`);
      if (generated) ctx.out(`password: ${password}`);
      return EXIT.ok;
    }));

  users.command('list')
    .description('list users and their roles (never their hashes)')
    .option('--file <path>', 'the users file (default REVMOD_USERS_FILE)')
    .action(run(async (opts: { file?: string }) => {
      const file = await readUsersFile(usersFile(ctx, opts.file));
      for (const u of file.users) ctx.out(`${u.id}\t${u.roles.join(',')}\t${u.password ? 'password' : 'proxy only'}${u.disabled ? '\tdisabled' : ''}\t${u.name ?? ''}`);
      return EXIT.ok;
    }));

  users.command('remove')
    .description('remove a user (their console sessions end at their next request)')
    .argument('<id>', 'login name')
    .option('--file <path>', 'the users file (default REVMOD_USERS_FILE)')
    .action(run(async (id: string, opts: { file?: string }) => {
      const path = usersFile(ctx, opts.file);
      if (!(await removeUser(path, id))) {
        ctx.err(`revmod: no user ${JSON.stringify(id)} in ${path}`);
        return EXIT.failure;
      }
      ctx.out(`removed ${id} from ${path}`);
      return EXIT.ok;
    }));
}
