import { listSettings } from '@revmod/client';
import { DEFAULTS, envVarNames, loadConfig, REVMOD_SETTINGS } from '../../src/config';

describe('loadConfig', () => {
  it('fills every default when nothing is set', () => {
    const c = loadConfig({}, {});
    expect(c.redis.url).toBe(DEFAULTS.redis.url);
    expect(c.batch).toEqual({ size: 32, maxWaitMs: DEFAULTS.batch.maxWaitMs });
    expect(c.model.executionProvider).toBe('auto');
    expect(c.limits.maxBytes).toBe(DEFAULTS.limits.maxBytes);
    expect(c.requests.allowedBuckets).toEqual([]);
    expect(c.policy).toEqual({ sensitivity: 'card' });
  });

  it('reads typed values from the environment', () => {
    const c = loadConfig({}, {
      REVMOD_BATCH_SIZE: '16', REVMOD_BATCH_MAX_WAIT_MS: '5', S3_FORCE_PATH_STYLE: 'false',
      REVMOD_ALLOWED_BUCKETS: 'reviews, avatars', REVMOD_BLOCK_THRESHOLD: 'off', REVMOD_VIOLATE_THRESHOLD: '0.8',
      REVMOD_EXECUTION_PROVIDER: 'cuda', S3_ENDPOINT: 'http://127.0.0.1:9000',
    });
    expect(c.batch).toEqual({ size: 16, maxWaitMs: 5 });
    expect(c.s3.forcePathStyle).toBe(false);
    expect(c.requests.allowedBuckets).toEqual(['reviews', 'avatars']);
    expect(c.policy.blockThreshold).toBeNull();
    expect(c.policy.violateThreshold).toBe(0.8);
    expect(c.model.executionProvider).toBe('cuda');
    expect(c.s3.endpoint).toBe('http://127.0.0.1:9000');
  });

  it('lets explicit overrides win over the environment', () => {
    expect(loadConfig({ batch: { size: 8 } }, { REVMOD_BATCH_SIZE: '16' }).batch.size).toBe(8);
  });

  it('names the variable and the value it received when a value does not parse', () => {
    expect(() => loadConfig({}, { REVMOD_BATCH_SIZE: 'lots' })).toThrow('REVMOD_BATCH_SIZE must be an integer, received "lots"');
    expect(() => loadConfig({}, { S3_FORCE_PATH_STYLE: 'maybe' })).toThrow('S3_FORCE_PATH_STYLE must be true or false, received "maybe"');
  });

  it('names the field, its variable and the value when validation fails', () => {
    expect(() => loadConfig({}, { REVMOD_BATCH_SIZE: '0' })).toThrow(/batch\.size \(REVMOD_BATCH_SIZE\): .*received 0/);
    expect(() => loadConfig({}, { REVMOD_EXECUTION_PROVIDER: 'tpu' })).toThrow(/model\.executionProvider \(REVMOD_EXECUTION_PROVIDER\).*received "tpu"/);
    expect(() => loadConfig({}, { REDIS_URL: 'localhost:6379' })).toThrow(/redis\.url \(REDIS_URL\): must start with redis:\/\/ or rediss:\/\/, received "localhost:6379"/);
    try {
      loadConfig({}, { REVMOD_VIOLATE_THRESHOLD: '7' });
      throw new Error('expected a throw');
    } catch (err) {
      expect(err).toMatchObject({ code: 'CONFIG_INVALID', retryable: false });
    }
  });

  it('never echoes secrets in errors', () => {
    expect(() => loadConfig({ s3: { secretAccessKey: 42 as unknown as string } }, {})).toThrow(/s3\.secretAccessKey.*received "<redacted>"/);
  });

  it('maps every declared variable to a config field that exists, each variable once', () => {
    const c = loadConfig({}, {}) as unknown as Record<string, Record<string, unknown>>;
    for (const { path: [section, field] } of listSettings(REVMOD_SETTINGS)) {
      expect({ field: `${section}.${field}`, present: section in c && field in c[section]! }).toEqual({ field: `${section}.${field}`, present: true });
    }
    expect(new Set(envVarNames()).size).toBe(envVarNames().length);
  });

  it('refuses unknown sections and fields, so a misspelt override cannot fall back to a default', () => {
    expect(() => loadConfig({ batch: { sise: 8 } as never }, {})).toThrow(/batch\.sise: unknown setting/);
    expect(() => loadConfig({ bacth: {} } as never, {})).toThrow(/bacth: unknown section/);
  });

  it('masks the password of a Redis URL that does not parse, whatever its characters', () => {
    expect(() => loadConfig({}, { REDIS_URL: 'http://user:p@ss/w:rd@host:6379' })).toThrow(/received "http:\/\/\[Redacted\]@host:6379"/);
    try {
      loadConfig({}, { REDIS_URL: 'http://user:p@ss/w:rd@host:6379' });
    } catch (err) {
      expect((err as Error).message).not.toContain('ss/w:rd');
    }
  });
});
