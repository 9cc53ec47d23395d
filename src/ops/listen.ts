import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A listening HTTP server: its actual port (useful with port 0) and a close that does not hang. */
export interface RunningHttpServer {
  readonly port: number;
  /** `http://<host>:<port>`, with a loopback host when bound to all interfaces. */
  readonly url: string;
  close(): Promise<void>;
}

/** Starts `server` on host:port; rejects with the listen error (port in use, bad host...). */
export function listen(server: Server, port: number, host: string): Promise<RunningHttpServer> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const actual = (server.address() as AddressInfo).port;
      const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
      resolve({
        port: actual,
        url: `http://${shownHost}:${actual}`,
        close: () => new Promise<void>((done) => {
          // Keep-alive connections (Prometheus, browsers) would otherwise hold close() open.
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}
