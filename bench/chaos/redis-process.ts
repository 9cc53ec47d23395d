/**
 * A persistent Redis for fault tests and the soak: `redis-server` from PATH on its own port with
 * its own directory and the append-only file on, so it can be stopped and started again on the same
 * port and data (a Redis restart, as in production with AOF).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A free loopback TCP port (closed again, so a server can take it). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true, connectTimeout: 500 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    // Loading the AOF answers LOADING errors: only a PONG means ready.
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export class PersistentRedis {
  readonly url: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  private constructor(readonly port: number, readonly dir: string, private readonly ownsDir: boolean) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** Starts a Redis with AOF (appendfsync everysec; SHUTDOWN/SIGTERM flushes it) on a free port. */
  static async start(options: { port?: number; dir?: string } = {}): Promise<PersistentRedis> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'revmod-redis-'));
    const redis = new PersistentRedis(options.port ?? (await freePort()), dir, options.dir === undefined);
    await redis.start();
    return redis;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the server again on the same port and directory; resolves once it answers PING. */
  async start(timeoutMs = 15_000): Promise<void> {
    if (this.child) return;
    const child = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
      '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--loglevel', 'warning',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    let exitCode: number | null | undefined;
    this.exited = new Promise((r) => child.once('exit', (code) => { exitCode = code; r(); }));
    child.once('error', () => { exitCode = -1; });
    this.child = child;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exitCode !== undefined) break;
      if (await answers(this.url)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    this.child = undefined;
    throw new Error(`redis-server on port ${this.port} did not answer (exit ${String(exitCode)}): ${stderr.trim()}`);
  }

  /** SIGTERM (Redis flushes the AOF and exits, as on SHUTDOWN) and waits for the exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /** Stops the server and removes the directory it created. */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
