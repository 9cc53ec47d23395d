import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { loadConfig } from '../../src/config';
import { RevmodError } from '@revmod/client';
import { S3ObjectStore } from '../../src/storage';

/** How the S3 store reports a broken object store: transient failures retryable, permanent ones not. */

function storeAt(port: number, timeouts: { connectTimeoutMs?: number; requestTimeoutMs?: number } = {}): S3ObjectStore {
  const config = loadConfig({
    s3: { endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, accessKeyId: 'test', secretAccessKey: 'test', connectTimeoutMs: 1_000, requestTimeoutMs: 2_000, ...timeouts },
  }, {});
  return new S3ObjectStore(config.s3);
}

async function fetchError(store: S3ObjectStore): Promise<RevmodError> {
  try {
    await store.fetch('reviews', 'photos/a.jpg', { maxBytes: 1024 });
  } catch (err) {
    expect(err).toBeInstanceOf(RevmodError);
    return err as RevmodError;
  }
  throw new Error('expected fetch to fail');
}

async function listen<T extends HttpServer | TcpServer>(server: T): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function close(server: HttpServer | TcpServer): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('S3ObjectStore against a failing object store', () => {
  const servers: Array<HttpServer | TcpServer> = [];
  const sockets: Socket[] = [];
  afterAll(async () => {
    sockets.forEach((s) => s.destroy());
    await Promise.all(servers.map(close));
  });

  it('connection refused (server down) → STORAGE_UNAVAILABLE, retryable', async () => {
    const probe = createTcpServer();
    const port = await listen(probe);
    await close(probe); // nothing listens on the port now
    const store = storeAt(port);
    try {
      const err = await fetchError(store);
      expect({ code: err.code, retryable: err.retryable }).toEqual({ code: 'STORAGE_UNAVAILABLE', retryable: true });
      expect(err.message).toMatch(/ECONNREFUSED/);
      expect(err.message).toContain('s3://reviews/photos/a.jpg');
    } finally {
      store.close();
    }
  });

  it('connection reset mid-request (server crashed) → STORAGE_UNAVAILABLE, retryable', async () => {
    const server = createTcpServer((socket) => socket.resetAndDestroy());
    servers.push(server);
    const store = storeAt(await listen(server));
    try {
      const err = await fetchError(store);
      expect({ code: err.code, retryable: err.retryable }).toEqual({ code: 'STORAGE_UNAVAILABLE', retryable: true });
    } finally {
      store.close();
    }
  });

  it('a server that accepts and never answers → STORAGE_TIMEOUT, retryable', async () => {
    const server = createTcpServer((socket) => { sockets.push(socket); });
    servers.push(server);
    const store = storeAt(await listen(server), { requestTimeoutMs: 300 });
    try {
      const started = Date.now();
      const err = await fetchError(store);
      expect({ code: err.code, retryable: err.retryable }).toEqual({ code: 'STORAGE_TIMEOUT', retryable: true });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      store.close();
    }
  });

  it.each([
    [503, 'SlowDown', 'STORAGE_UNAVAILABLE', true],
    [500, 'InternalError', 'STORAGE_UNAVAILABLE', true],
    [404, 'NoSuchKey', 'OBJECT_NOT_FOUND', false],
    [403, 'AccessDenied', 'ACCESS_DENIED', false],
  ])('HTTP %i %s → %s (retryable %s)', async (status, s3Code, code, retryable) => {
    const server = createHttpServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${s3Code}</Code><Message>test</Message></Error>`);
    });
    servers.push(server);
    const store = storeAt(await listen(server));
    try {
      const err = await fetchError(store);
      expect({ code: err.code, retryable: err.retryable }).toEqual({ code, retryable });
    } finally {
      store.close();
    }
  });
});
