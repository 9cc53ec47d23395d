import { createServer, type IncomingMessage, type Server } from 'node:http';
import { ModerationClient, RevmodError } from '@revmod/client';
import { loadConfig } from '../../src/config';
import { S3ObjectStore } from '../../src/storage';
import { S3Server } from '../../tools/dev/s3-server';
import { deletePrefix, testConfig, uniquePrefix } from '../helpers/test-config';

/**
 * Content versions: a fetch is pinned to the version submitted, so a verdict describes the bytes it
 * judged. s3rver ignores If-Match and has no versioning: the ETag check is tested against it, and
 * VersionId and a real S3's 412 against a small fake.
 */
const BUCKET = 'versions';

async function fetchError(run: () => Promise<unknown>): Promise<RevmodError> {
  try {
    await run();
  } catch (err) {
    expect(err).toBeInstanceOf(RevmodError);
    return err as RevmodError;
  }
  throw new Error('expected the fetch to fail');
}

describe('content versions against s3rver (ETag)', () => {
  const prefix = uniquePrefix('versions');
  let s3: S3Server;
  let store: S3ObjectStore;

  beforeAll(async () => {
    s3 = await S3Server.start({ buckets: [BUCKET] });
    store = new S3ObjectStore(loadConfig({ s3: s3.s3Config }, {}).s3);
  });

  afterAll(async () => {
    store?.close();
    await s3?.close();
    await deletePrefix(prefix);
  });

  it('refuses an object overwritten after submit with OBJECT_CHANGED, naming both ETags; the submitted version is fetched', async () => {
    await s3.put(BUCKET, 'a.jpg', Buffer.from('first photo'));
    const first = await store.fetch(BUCKET, 'a.jpg', { maxBytes: 1024 });
    expect(first.etag).toMatch(/^[0-9a-f]{32}$/);
    expect((await store.fetch(BUCKET, 'a.jpg', { maxBytes: 1024, etag: first.etag! })).bytes.toString()).toBe('first photo');

    await s3.put(BUCKET, 'a.jpg', Buffer.from('another photo'));
    const err = await fetchError(() => store.fetch(BUCKET, 'a.jpg', { maxBytes: 1024, etag: first.etag! }));
    expect({ code: err.code, retryable: err.retryable }).toEqual({ code: 'OBJECT_CHANGED', retryable: false });
    expect(err.message).toContain(first.etag!);
    expect(err.message).toMatch(/overwritten/);
  });

  it('the SDK pins each submit to the current version: an overwrite is a new job, the same version the same job', async () => {
    const client = new ModerationClient({ config: testConfig({ redis: { prefix }, s3: s3.s3Config }), s3: s3.client });
    try {
      await s3.put(BUCKET, 'b.jpg', Buffer.from('photo one'));
      const one = await client.submit({ bucket: BUCKET, key: 'b.jpg' });
      expect((await client.submit({ bucket: BUCKET, key: 'b.jpg' })).jobId).toBe(one.jobId);
      await s3.put(BUCKET, 'b.jpg', Buffer.from('photo two'));
      const two = await client.submit({ bucket: BUCKET, key: 'b.jpg' });
      expect(two.jobId).not.toBe(one.jobId);
      const etags = await Promise.all([one, two].map(async (r) => (await client.queue.getJob(r.jobId))?.data.etag));
      expect(etags[0]).toMatch(/^[0-9a-f]{32}$/);
      expect(etags[1]).toMatch(/^[0-9a-f]{32}$/);
      expect(etags[0]).not.toBe(etags[1]);
    } finally {
      await client.close();
    }
  });
});

describe('content versions against a versioned object store (fake S3: VersionId, If-Match)', () => {
  const requests: Array<{ url: string; ifMatch: string | undefined }> = [];
  let server: Server;
  let store: S3ObjectStore;

  // Versions v1 (ETag e1) and v2 (ETag e2, current) of versions/a.jpg; v0 was deleted.
  const answer = (req: IncomingMessage): { status: number; etag?: string; version?: string; body: string } => {
    const url = new URL(req.url ?? '/', 'http://x');
    const versionId = url.searchParams.get('versionId');
    const ifMatch = req.headers['if-match'];
    const version = versionId ?? 'v2';
    if (version !== 'v1' && version !== 'v2') {
      return { status: 404, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchVersion</Code><Message>The specified version does not exist.</Message></Error>' };
    }
    const etag = version === 'v1' ? 'e1' : 'e2';
    if (ifMatch !== undefined && ifMatch !== `"${etag}"`) {
      return { status: 412, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>' };
    }
    return { status: 200, etag, version, body: `bytes of ${version}` };
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push({ url: req.url ?? '', ifMatch: req.headers['if-match'] });
      const a = answer(req);
      res.writeHead(a.status, {
        'content-type': a.status === 200 ? 'image/jpeg' : 'application/xml',
        'content-length': Buffer.byteLength(a.body),
        ...(a.etag ? { etag: `"${a.etag}"` } : {}),
        ...(a.version ? { 'x-amz-version-id': a.version } : {}),
      });
      res.end(a.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    store = new S3ObjectStore(loadConfig({
      s3: { endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, accessKeyId: 'test', secretAccessKey: 'test' },
    }, {}).s3);
  });

  afterAll(async () => {
    store?.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('asks for the submitted VersionId and returns that version, though a newer one is current', async () => {
    requests.length = 0;
    const got = await store.fetch(BUCKET, 'a.jpg', { maxBytes: 1024, versionId: 'v1' });
    expect(got.bytes.toString()).toBe('bytes of v1');
    expect(got.versionId).toBe('v1');
    expect(requests.map((r) => new URL(r.url, 'http://x').searchParams.get('versionId'))).toEqual(['v1']);
  });

  it('a submitted version that is gone is OBJECT_CHANGED, not OBJECT_NOT_FOUND', async () => {
    const err = await fetchError(() => store.fetch(BUCKET, 'a.jpg', { maxBytes: 1024, versionId: 'v0' }));
    expect({ code: err.code, retryable: err.retryable }).toEqual({ code: 'OBJECT_CHANGED', retryable: false });
    expect(err.message).toMatch(/NoSuchVersion/);
  });

  it('sends If-Match with a submitted ETag; a 412 (the object changed) is OBJECT_CHANGED', async () => {
    requests.length = 0;
    const err = await fetchError(() => store.fetch(BUCKET, 'a.jpg', { maxBytes: 1024, etag: 'e1' }));
    expect({ code: err.code, retryable: err.retryable }).toEqual({ code: 'OBJECT_CHANGED', retryable: false });
    expect(requests.map((r) => r.ifMatch)).toEqual(['"e1"']);
    expect((await store.fetch(BUCKET, 'a.jpg', { maxBytes: 1024, etag: 'e2' })).bytes.toString()).toBe('bytes of v2');
  });
});
