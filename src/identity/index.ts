// The identity module: logins, roles and sessions for the dashboard and the review console. Re-exports only.
export { ROLES, ROLE_IMPLIES, CONSOLE_ROLES, OPS_ROLES, hasRole, hasAnyRole, isRole, type Role, type Identity } from './roles';
export { hashPassword, verifyPassword, isPasswordHash, DEFAULT_SCRYPT_PARAMS, type ScryptParams } from './password';
export { UsersDirectory, readUsersFile, writeUsersFile, upsertUser, removeUser, parseUsersFile, USER_ID, type UserRecord, type UsersFile } from './users-file';
export { createWebAuth, sameOriginOnly, sendError, type WebAuth, type WebAuthOptions, type LoginPageState } from './web-auth';
export { basicIdentity, type BasicIdentityOptions } from './basic-identity';
export { securityHeaders, loopbackHostOnly, type SecurityHeadersOptions } from './http-hardening';
export { RedisSessionStore } from './redis-session-store';
