import { isIP } from 'node:net';
import type { RevmodConfig } from '../config';
import { RevmodError } from '@revmod/client';

/** Dashboard basic-auth credentials. */
export interface OpsCredentials {
  readonly user: string;
  readonly password: string;
}

/** True for hosts that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

const invalid = (message: string): never => {
  throw new RevmodError('CONFIG_INVALID', message);
};

/**
 * The dashboard's env credentials from config, or `null` when there are none: then either
 * `otherLogins` (a users file or an auth proxy) authenticate, or it is the development mode without
 * auth. Refuses (CONFIG_INVALID) to run without any login unless REVMOD_OPS_ALLOW_NO_AUTH=true and
 * the server is bound to a loopback host. Messages name the variables, never a password.
 */
export function resolveOpsCredentials(ops: RevmodConfig['ops'], otherLogins = false): OpsCredentials | null {
  // REVMOD_OPS_PASSWORD_FILE was read into ops.password when the config loaded.
  const password = ops.password;
  if (password !== undefined) {
    if (ops.user === undefined) return invalid('REVMOD_OPS_USER must be set when a dashboard password is set, received nothing');
    // Basic auth joins user and password with the first colon.
    if (ops.user.includes(':')) invalid(`REVMOD_OPS_USER must not contain ":", received ${JSON.stringify(ops.user)}`);
    return { user: ops.user, password };
  }
  if (ops.user !== undefined) {
    invalid(`REVMOD_OPS_PASSWORD or REVMOD_OPS_PASSWORD_FILE must be set with REVMOD_OPS_USER (${JSON.stringify(ops.user)}), received neither`);
  }
  // Logins from the users file (or an auth proxy) are enough without the env login.
  if (otherLogins) return null;
  if (!ops.allowNoAuth) {
    invalid('the dashboard needs credentials: set REVMOD_OPS_USER and REVMOD_OPS_PASSWORD (or REVMOD_OPS_PASSWORD_FILE); ' +
      'for local development only, REVMOD_OPS_ALLOW_NO_AUTH=true with REVMOD_OPS_HOST=127.0.0.1');
  }
  if (!isLoopbackHost(ops.host)) {
    invalid(`REVMOD_OPS_ALLOW_NO_AUTH=true is only accepted with a loopback REVMOD_OPS_HOST (127.0.0.1, ::1, localhost), received ${JSON.stringify(ops.host)}`);
  }
  return null;
}
