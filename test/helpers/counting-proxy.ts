import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';

export interface CountingProxy {
  readonly endpoint: string;
  /** Response body bytes handed to the client, per request path (`/bucket/key`, decoded). */
  bodyBytesSent(path: string): number;
  /** Requests seen per path. */
  requests(path: string): number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of an S3 server that counts the response body bytes it passes to the
 * client. Bodies larger than `holdBodiesOverBytes` are held back for `holdMs` after the headers: a
 * client that refuses an object from its Content-Length has hung up by then, so nothing of the body
 * is sent; a client that reads the body gets all of it (later). Headers pass unchanged (signatures
 * stay valid).
 */
export async function startCountingProxy(targetPort: number, options: { holdBodiesOverBytes?: number; holdMs?: number } = {}): Promise<CountingProxy> {
  const holdOver = options.holdBodiesOverBytes ?? 1024 * 1024;
  const holdMs = options.holdMs ?? 300;
  const sent = new Map<string, number>();
  const seen = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0] ?? '');
    seen.set(path, (seen.get(path) ?? 0) + 1);
    const upstream = request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers as IncomingHttpHeaders },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        res.flushHeaders();
        const length = Number(up.headers['content-length'] ?? 0);
        const forward = () => {
          if (res.destroyed) {
            up.destroy();
            return;
          }
          up.on('data', (chunk: Buffer) => {
            sent.set(path, (sent.get(path) ?? 0) + chunk.length);
            if (!res.write(chunk)) {
              up.pause();
              res.once('drain', () => up.resume());
            }
          });
          up.on('end', () => res.end());
        };
        res.on('close', () => up.destroy());
        if (length > holdOver) setTimeout(forward, holdMs);
        else forward();
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bodyBytesSent: (path) => sent.get(path) ?? 0,
    requests: (path) => seen.get(path) ?? 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
