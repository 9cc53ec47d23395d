import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { credentialsMatch } from '../../src/ops/basic-auth';
import { isLoopbackHost, resolveOpsCredentials } from '../../src/ops/ops-auth';

const opsFromEnv = (env: Record<string, string>) => loadConfig({}, env).ops;
const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;

describe('resolveOpsCredentials', () => {
  it('takes user and password from the environment', () => {
    expect(resolveOpsCredentials(opsFromEnv({ REVMOD_OPS_USER: 'oncall', REVMOD_OPS_PASSWORD: 'pw' })))
      .toEqual({ user: 'oncall', password: 'pw' });
  });

  it('reads the password file, without its trailing newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'revmod-ops-auth-'));
    try {
      const file = join(dir, 'ops');
      writeFileSync(file, 's3cret\n');
      expect(resolveOpsCredentials(opsFromEnv({ REVMOD_OPS_USER: 'oncall', REVMOD_OPS_PASSWORD_FILE: file }))).toEqual({ user: 'oncall', password: 's3cret' });
      expect(() => opsFromEnv({ REVMOD_OPS_USER: 'oncall', REVMOD_OPS_PASSWORD_FILE: join(dir, 'missing') })).toThrow(/REVMOD_OPS_PASSWORD_FILE: cannot read ".*missing" \(ENOENT\)/);
      writeFileSync(file, '\n');
      expect(() => opsFromEnv({ REVMOD_OPS_USER: 'oncall', REVMOD_OPS_PASSWORD_FILE: file })).toThrow(/REVMOD_OPS_PASSWORD_FILE: ".*ops" is empty/);
      expect(() => opsFromEnv({ REVMOD_OPS_PASSWORD: 'pw', REVMOD_OPS_PASSWORD_FILE: file })).toThrow(/REVMOD_OPS_PASSWORD and REVMOD_OPS_PASSWORD_FILE both set ops.password: set only one/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start without credentials unless no-auth is allowed on loopback', () => {
    expect(() => resolveOpsCredentials(opsFromEnv({}))).toThrow(/needs credentials: set REVMOD_OPS_USER and REVMOD_OPS_PASSWORD/);
    expect(resolveOpsCredentials(opsFromEnv({ REVMOD_OPS_ALLOW_NO_AUTH: 'true' }))).toBeNull();
    expect(resolveOpsCredentials(opsFromEnv({ REVMOD_OPS_ALLOW_NO_AUTH: 'true', REVMOD_OPS_HOST: '::1' }))).toBeNull();
    expect(() => resolveOpsCredentials(opsFromEnv({ REVMOD_OPS_ALLOW_NO_AUTH: 'true', REVMOD_OPS_HOST: '0.0.0.0' })))
      .toThrow(/only accepted with a loopback REVMOD_OPS_HOST .*received "0.0.0.0"/);
  });

  it('names the variable and never prints the password', () => {
    const messages: string[] = [];
    const attempt = (env: Record<string, string>) => {
      try {
        resolveOpsCredentials(opsFromEnv(env));
      } catch (err) {
        messages.push((err as Error).message);
      }
    };
    attempt({ REVMOD_OPS_PASSWORD: 'hunter2' });
    attempt({ REVMOD_OPS_USER: 'a:b', REVMOD_OPS_PASSWORD: 'hunter2' });
    attempt({ REVMOD_OPS_USER: 'oncall', REVMOD_OPS_PASSWORD: 'hunter2', REVMOD_OPS_PASSWORD_FILE: '/x' });
    attempt({ REVMOD_OPS_USER: 'oncall' });
    expect(messages).toHaveLength(4);
    expect(messages[0]).toMatch(/REVMOD_OPS_USER must be set/);
    expect(messages[1]).toMatch(/REVMOD_OPS_USER must not contain ":", received "a:b"/);
    expect(messages[2]).toMatch(/REVMOD_OPS_PASSWORD and REVMOD_OPS_PASSWORD_FILE both set ops.password: set only one/);
    expect(messages[3]).toMatch(/must be set with REVMOD_OPS_USER \("oncall"\)/);
    for (const m of messages) expect(m).not.toContain('hunter2');
  });

  it('validates the ops variables through the config system', () => {
    expect(() => loadConfig({}, { REVMOD_OPS_PORT: '70000' })).toThrow(/ops\.port \(REVMOD_OPS_PORT\).*received 70000/);
    expect(() => loadConfig({}, { REVMOD_OPS_READ_ONLY: 'maybe' })).toThrow(/REVMOD_OPS_READ_ONLY must be true or false, received "maybe"/);
    expect(() => loadConfig({}, { REVMOD_OPS_PASSWORD: '' })).toThrow(/ops\.password \(REVMOD_OPS_PASSWORD\).*received "<redacted>"/);
    expect(loadConfig({}, {}).ops).toEqual({ host: '127.0.0.1', port: 3000, allowNoAuth: false, readOnly: false });
  });
});

describe('isLoopbackHost', () => {
  it.each([['127.0.0.1', true], ['127.1.2.3', true], ['localhost', true], ['::1', true], ['[::1]', true], ['0.0.0.0', false], ['::', false], ['10.0.0.5', false], ['ops.example.com', false]])(
    '%s → %s', (host, expected) => expect(isLoopbackHost(host)).toBe(expected));
});

describe('credentialsMatch', () => {
  const expected = { user: 'oncall', password: 'p:ss wörd' };
  it('accepts exactly the credentials (the password may hold colons and non-ASCII)', () => {
    expect(credentialsMatch(basic('oncall:p:ss wörd'), expected)).toBe(true);
    expect(credentialsMatch(`basic  ${Buffer.from('oncall:p:ss wörd').toString('base64')}`, expected)).toBe(true);
  });
  it.each([
    ['no header', undefined],
    ['wrong password', basic('oncall:p:ss word')],
    ['wrong user', basic('admin:p:ss wörd')],
    ['no colon', basic('oncallp:ss wörd')],
    ['empty', basic(':')],
    ['another scheme', `Bearer ${Buffer.from('oncall:p:ss wörd').toString('base64')}`],
    ['garbage', 'Basic !!!'],
  ])('refuses %s', (_what, header) => expect(credentialsMatch(header, expected)).toBe(false));
});
