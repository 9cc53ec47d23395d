/**
 * The one S3-compatible server wrapper (s3rver, a devDependency) for the demo, the tests, the
 * benchmark and the soak, on a loopback port. It runs in this process, or in a child process
 * (`inChildProcess`) so that its CPU time, playing a remote S3/MinIO, is not counted as the
 * caller's. It can be stopped and started again on the same port and data, to play an outage.
 * Run directly it is that child: `node --require tsx/cjs tools/dev/s3-server.ts DIR PORT` prints
 * `{"port":N}` and serves until its stdin closes or it gets SIGTERM.
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { configEnv } from '../../src/config';

/** s3rver's fixed development credentials. */
export const LOCAL_S3_CREDENTIALS = Object.freeze({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
const REGION = 'us-east-1';

/** The `s3` section of a revmod config for a local server. */
export interface LocalS3Config {
  readonly endpoint: string;
  readonly forcePathStyle: true;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: Server;
}

function newS3rver(port: number, directory: string): S3rverInstance {
  // s3rver ships no types; it is loaded only when a local server is wanted.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => S3rverInstance;
  return new S3rver({ address: '127.0.0.1', port, directory, silent: true });
}

export interface S3ServerOptions {
  /** @defaultValue a free port (kept for restarts) */
  readonly port?: number;
  /** Buckets created at start. @defaultValue none */
  readonly buckets?: readonly string[];
  /** Serve from a child process. @defaultValue false */
  readonly inChildProcess?: boolean;
}

/** Where the server runs: this process or a child. */
interface Host {
  readonly pid: number | undefined;
  /** Closes the listening socket and every open connection: clients see refused or reset connections. */
  close(): Promise<void>;
}

async function hostInProcess(port: number, directory: string): Promise<{ host: Host; port: number }> {
  const server = newS3rver(port, directory);
  const info = await server.run();
  return {
    port: info.port,
    host: {
      pid: process.pid,
      async close() {
        const closing = server.close();
        server.httpServer?.closeAllConnections();
        await closing;
      },
    },
  };
}

async function hostInChild(port: number, directory: string): Promise<{ host: Host; port: number }> {
  const child: ChildProcess = spawn(process.execPath, ['--require', 'tsx/cjs', __filename, directory, String(port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const actual = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error('s3rver child did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`s3rver child exited with code ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      try {
        resolvePort((JSON.parse(line) as { port: number }).port);
      } catch (err) {
        reject(err as Error);
      }
    });
  });
  return {
    port: actual,
    host: {
      pid: child.pid,
      async close() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    },
  };
}

export class S3Server {
  readonly client: S3Client;
  private host: Host | undefined;

  private constructor(readonly port: number, readonly directory: string, private readonly inChild: boolean, host: Host) {
    this.host = host;
    this.client = new S3Client({
      // A copy: the SDK marks the credentials object it is given.
      endpoint: this.endpoint, region: REGION, forcePathStyle: true, credentials: { ...LOCAL_S3_CREDENTIALS },
      // Without this a streamed body is stored with aws-chunked framing by s3rver.
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  static async start(options: S3ServerOptions = {}): Promise<S3Server> {
    const directory = mkdtempSync(join(tmpdir(), 'revmod-s3-'));
    const inChild = options.inChildProcess ?? false;
    const { host, port } = await (inChild ? hostInChild : hostInProcess)(options.port ?? 0, directory);
    const server = new S3Server(port, directory, inChild, host);
    for (const bucket of options.buckets ?? []) await server.createBucket(bucket);
    return server;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.host !== undefined;
  }

  /** The process serving requests (this one, or the child). */
  get pid(): number | undefined {
    return this.host?.pid;
  }

  get s3Config(): LocalS3Config {
    const { accessKeyId, secretAccessKey } = LOCAL_S3_CREDENTIALS;
    return { endpoint: this.endpoint, forcePathStyle: true, accessKeyId, secretAccessKey, region: REGION };
  }

  /** The environment variables a worker process needs for this server. */
  get env(): Record<string, string> {
    return configEnv({ s3: this.s3Config });
  }

  async createBucket(name: string): Promise<void> {
    await this.client.send(new CreateBucketCommand({ Bucket: name }));
  }

  async put(bucket: string, key: string, body: Buffer, contentType = 'application/octet-stream'): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
  }

  /** Stops serving (an outage); objects and buckets are kept for `restart()`. */
  async stop(): Promise<void> {
    const host = this.host;
    this.host = undefined;
    await host?.close();
  }

  /** Serves again on the same port and directory. */
  async restart(): Promise<void> {
    if (this.host) return;
    this.host = (await (this.inChild ? hostInChild : hostInProcess)(this.port, this.directory)).host;
  }

  /** Stops the server and removes its directory. Safe to call twice. */
  async close(): Promise<void> {
    this.client.destroy();
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }
}

async function childMain(directory: string, port: number): Promise<void> {
  const server = newS3rver(port, directory);
  const info = await server.run();
  process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
  const stop = () => void server.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', () => undefined); // the parent decides when to stop
  process.stdin.on('end', stop); // the parent died
  process.stdin.resume();
}

if (require.main === module) {
  const [directory, port] = process.argv.slice(2);
  if (!directory) {
    process.stderr.write('usage: s3-server.ts DIR [PORT]\n');
    process.exit(2);
  }
  void childMain(directory, Number(port ?? 0));
}
