/**
 * A persistent Redis for fault tests and the soak: `redis-server` from PATH on its own port with
 * its own directory and the append-only file on, so it can be stopped and started again on the same
 * port and data (a Redis restart, as in production with AOF).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/dev/free-port';
import { redisAnswers } from '../../src/dev/local-redis';

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
      if (await redisAnswers(this.url)) return;
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

