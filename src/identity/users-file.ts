import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { statSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { RevmodError } from '@revmod/client';
import { isPasswordHash } from './password';
import { ROLES, type Identity, type Role } from './roles';

/** User ids: lower-case letters, digits and `. _ @ -`, as typed at the login form. */
export const USER_ID = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

const userSchema = z.strictObject({
  id: z.string().regex(USER_ID, 'lower-case letters, digits and . _ @ - (at most 64)'),
  name: z.string().min(1).max(100).optional(),
  roles: z.array(z.enum(ROLES)).min(1),
  /** scrypt hash; absent for users who sign in only through the auth proxy. */
  password: z.string().refine(isPasswordHash, 'must be a scrypt hash written by `revmod users add`').optional(),
  disabled: z.boolean().optional(),
});
const fileSchema = z.strictObject({ users: z.array(userSchema) });

export type UserRecord = z.infer<typeof userSchema>;
export interface UsersFile {
  readonly users: readonly UserRecord[];
}

/** Parses a users file's text; the error names the file and each problem. */
export function parseUsersFile(text: string, path: string): UsersFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RevmodError('CONFIG_INVALID', `users file ${path} is not JSON: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new RevmodError('CONFIG_INVALID', `users file ${path}: ${problems.join('; ')}`);
  }
  const seen = new Set<string>();
  for (const u of parsed.data.users) {
    if (seen.has(u.id)) throw new RevmodError('CONFIG_INVALID', `users file ${path}: user ${JSON.stringify(u.id)} appears twice`);
    seen.add(u.id);
  }
  return parsed.data;
}

/** Reads a users file; a missing file is an empty one when `missingOk`. */
export async function readUsersFile(path: string, missingOk = false): Promise<UsersFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (missingOk && (err as NodeJS.ErrnoException).code === 'ENOENT') return { users: [] };
    throw new RevmodError('CONFIG_INVALID', `cannot read users file ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseUsersFile(text, path);
}

/** Writes a users file atomically (temp file + rename), readable by its owner only: it holds password hashes. */
export async function writeUsersFile(path: string, file: UsersFile): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ users: file.users }, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/** A user as the login code sees it. */
export interface DirectoryUser {
  readonly identity: Omit<Identity, 'via'>;
  readonly passwordHash: string | undefined;
}

/**
 * The users file, re-read when it changes (checked at most every `recheckMs`), so that `revmod users
 * add` and removals take effect without a restart. A file that turns invalid keeps the last good
 * copy and reports the problem to `onError`.
 */
export class UsersDirectory {
  private users = new Map<string, DirectoryUser>();
  private mtimeMs = -1;
  private checkedAt = 0;

  constructor(
    readonly path: string,
    private readonly recheckMs = 1_000,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    this.load(true);
  }

  private load(initial: boolean): void {
    let mtime: number;
    try {
      mtime = statSync(this.path).mtimeMs;
    } catch (err) {
      if (initial) throw new RevmodError('CONFIG_INVALID', `cannot read users file ${JSON.stringify(this.path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      this.onError(err as Error);
      return;
    }
    if (mtime === this.mtimeMs) return;
    try {
      const file = parseUsersFile(readFileSync(this.path, 'utf8'), this.path);
      this.users = new Map(file.users.filter((u) => !u.disabled).map((u) => [u.id, {
        identity: { id: u.id, name: u.name ?? u.id, roles: u.roles as readonly Role[] },
        passwordHash: u.password,
      }]));
      this.mtimeMs = mtime;
    } catch (err) {
      if (initial) throw err;
      this.onError(err as Error);
    }
  }

  /** The user with this id (case-insensitive), if present and not disabled. */
  get(id: string): DirectoryUser | undefined {
    const now = Date.now();
    if (now - this.checkedAt >= this.recheckMs) {
      this.checkedAt = now;
      this.load(false);
    }
    return this.users.get(id.trim().toLowerCase());
  }

  get size(): number {
    return this.users.size;
  }
}

/** Adds or replaces a user in the file (created when missing). */
export async function upsertUser(path: string, user: UserRecord): Promise<'added' | 'updated'> {
  const file = await readUsersFile(path, true);
  const existing = file.users.findIndex((u) => u.id === user.id);
  const users = [...file.users];
  if (existing >= 0) users[existing] = user;
  else users.push(user);
  await writeUsersFile(path, { users });
  return existing >= 0 ? 'updated' : 'added';
}

/** Removes a user; false when there was none. */
export async function removeUser(path: string, id: string): Promise<boolean> {
  const file = await readUsersFile(path, true);
  const users = file.users.filter((u) => u.id !== id);
  if (users.length === file.users.length) return false;
  await writeUsersFile(path, { users });
  return true;
}
