import { DEFAULTS, ENV_VARS, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  it('fills every default when nothing is set', () => {
    const c = loadConfig({}, {});
    expect(c.redis.url).toBe(DEFAULTS.redis.url);
    expect(c.batch).toEqual({ size: 32, maxWaitMs: DEFAULTS.batch.maxWaitMs });
    expect(c.model.executionProvider).toBe('auto');
    expect(c.limits.maxBytes).toBe(DEFAULTS.limits.maxBytes);
    expect(c.s3.allowedBuckets).toEqual([]);
    expect(c.policy).toEqual({});
  });

  it('reads typed values from the environment', () => {
    const c = loadConfig({}, {
      REVMOD_BATCH_SIZE: '16', REVMOD_BATCH_MAX_WAIT_MS: '5', S3_FORCE_PATH_STYLE: 'false',
      REVMOD_ALLOWED_BUCKETS: 'reviews, avatars', REVMOD_BLOCK_THRESHOLD: 'off', REVMOD_VIOLATE_THRESHOLD: '0.8',
      REVMOD_EXECUTION_PROVIDER: 'cuda', S3_ENDPOINT: 'http://127.0.0.1:9000',
    });
    expect(c.batch).toEqual({ size: 16, maxWaitMs: 5 });
    expect(c.s3.forcePathStyle).toBe(false);
    expect(c.s3.allowedBuckets).toEqual(['reviews', 'avatars']);
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

  it('maps every documented variable to a config field that exists', () => {
    const c = loadConfig({}, {}) as unknown as Record<string, Record<string, unknown>>;
    for (const spec of ENV_VARS) {
      expect(c[spec.path[0]]).toBeDefined();
    }
    expect(new Set(ENV_VARS.map((s) => s.name)).size).toBe(ENV_VARS.length);
  });
});
