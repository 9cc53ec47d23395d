import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword, hasRole, isPasswordHash, parseUsersFile, readUsersFile, removeUser, upsertUser, UsersDirectory, verifyPassword } from '../../src/identity';
import { addressList, listHas } from '../../src/identity/network';

describe('passwords (scrypt)', () => {
  it('hashes with a random salt and verifies only the right password', async () => {
    const a = await hashPassword('correct horse battery staple');
    const b = await hashPassword('correct horse battery staple');
    expect(a).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery staple', a)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', a)).toBe(false);
    expect(await verifyPassword('x', 'scrypt$15$8$1$bad')).toBe(false);
    expect(isPasswordHash('plain text')).toBe(false);
  });
});

describe('roles', () => {
  it('a lead is a reviewer and an admin a viewer, but console and dashboard roles never mix', () => {
    expect(hasRole({ roles: ['lead'] }, 'reviewer')).toBe(true);
    expect(hasRole({ roles: ['admin'] }, 'viewer')).toBe(true);
    expect(hasRole({ roles: ['admin'] }, 'reviewer')).toBe(false);
    expect(hasRole({ roles: ['lead'] }, 'viewer')).toBe(false);
    expect(hasRole({ roles: ['reviewer'] }, 'lead')).toBe(false);
  });
});

describe('users file', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'revmod-users-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses malformed files, naming the problem', () => {
    expect(() => parseUsersFile('{', 'u.json')).toThrow(/users file u.json is not JSON/);
    expect(() => parseUsersFile(JSON.stringify({ users: [{ id: 'A B', roles: ['reviewer'] }] }), 'u.json')).toThrow(/users.0.id: lower-case letters/);
    expect(() => parseUsersFile(JSON.stringify({ users: [{ id: 'a', roles: ['god'] }] }), 'u.json')).toThrow(/users.0.roles.0/);
    expect(() => parseUsersFile(JSON.stringify({ users: [{ id: 'a', roles: ['lead'], password: 'hunter2' }] }), 'u.json')).toThrow(/must be a scrypt hash/);
    expect(() => parseUsersFile(JSON.stringify({ users: [{ id: 'a', roles: ['lead'] }, { id: 'a', roles: ['viewer'] }] }), 'u.json')).toThrow(/user "a" appears twice/);
  });

  it('adds, replaces and removes users; the directory sees changes without a restart', async () => {
    const path = join(dir, 'users.json');
    expect(await upsertUser(path, { id: 'li.wei', roles: ['reviewer'], password: await hashPassword('first-password') })).toBe('added');
    const users = new UsersDirectory(path, 0);
    expect(users.get('LI.WEI')?.identity.roles).toEqual(['reviewer']);
    expect(await upsertUser(path, { id: 'li.wei', roles: ['lead'], password: await hashPassword('second-password') })).toBe('updated');
    // Some filesystems keep mtimes at a coarse grain: make the change visible.
    writeFileSync(path, `${JSON.stringify(await readUsersFile(path), null, 2)}\n\n`);
    expect(users.get('li.wei')?.identity.roles).toEqual(['lead']);
    expect(await removeUser(path, 'li.wei')).toBe(true);
    expect(await removeUser(path, 'li.wei')).toBe(false);
    writeFileSync(path, '{"users": []}\n');
    expect(users.get('li.wei')).toBeUndefined();
  });
});

describe('trusted proxy addresses', () => {
  it('matches addresses and CIDRs, IPv4-mapped IPv6 included, and names a bad entry', () => {
    const list = addressList(['10.0.0.0/8', '192.168.1.7'], 'REVMOD_AUTH_PROXY_TRUSTED');
    expect(listHas(list, '10.1.2.3')).toBe(true);
    expect(listHas(list, '::ffff:192.168.1.7')).toBe(true);
    expect(listHas(list, '192.168.1.8')).toBe(false);
    expect(listHas(list, undefined)).toBe(false);
    expect(() => addressList(['proxy.local'], 'REVMOD_AUTH_PROXY_TRUSTED')).toThrow(/REVMOD_AUTH_PROXY_TRUSTED must list IP addresses or CIDRs, received "proxy.local"/);
  });
});
