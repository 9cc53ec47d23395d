/**
 * The roles of revmod's logins:
 * - `viewer`, `admin`: the ops dashboard (an admin may act on the moderation queue, a viewer only looks);
 * - `reviewer`, `lead`: the review console (a lead also handles escalations and reverses decisions).
 * A role implies the ones listed in ROLE_IMPLIES; console and dashboard roles never imply each other.
 */
export const ROLES = ['viewer', 'admin', 'reviewer', 'lead'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_IMPLIES: Readonly<Record<Role, readonly Role[]>> = {
  viewer: [],
  admin: ['viewer'],
  reviewer: [],
  lead: ['reviewer'],
};

/** Console roles and dashboard roles: a login of one kind is not a login of the other. */
export const CONSOLE_ROLES: readonly Role[] = ['reviewer', 'lead'];
export const OPS_ROLES: readonly Role[] = ['viewer', 'admin'];

/** A signed-in person. */
export interface Identity {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly Role[];
  /** How they signed in: a password (form or basic auth), the auth proxy's header, or the ops server's env credentials. */
  readonly via: 'password' | 'proxy' | 'ops-env';
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Whether `identity` has `role`, directly or through an implied one. */
export function hasRole(identity: Pick<Identity, 'roles'>, role: Role): boolean {
  return identity.roles.some((r) => r === role || ROLE_IMPLIES[r].includes(role));
}

/** Whether `identity` has any of `roles`. */
export function hasAnyRole(identity: Pick<Identity, 'roles'>, roles: readonly Role[]): boolean {
  return roles.some((r) => hasRole(identity, r));
}
