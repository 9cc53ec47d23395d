/**
 * An S3-compatible server (s3rver) for the benchmark. It runs in a child process so that its CPU
 * time (it plays the part of a remote S3/MinIO) is not counted as the worker's and its request
 * handling does not share the worker's event loop. Run directly, it is the child:
 * `node --require tsx/cjs bench/s3-server.ts DIR` prints `{"port":N}` and serves until its
 * stdin closes or it gets SIGTERM.
 */
import { LOCAL_S3_CREDENTIALS } from '../src/dev/local-s3';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const CREDENTIALS = LOCAL_S3_CREDENTIALS;

export interface BenchS3 {
  readonly endpoint: string;
  readonly pid: number | undefined;
  /** For the worker's config (`s3` section). */
  readonly s3Config: { endpoint: string; forcePathStyle: true; accessKeyId: string; secretAccessKey: string; region: string };
  put(bucket: string, key: string, body: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** Starts s3rver in a child process on a free loopback port, with `bucket` created. */
export async function startS3Server(repoRoot: string, bucket: string): Promise<BenchS3> {
  const directory = mkdtempSync(join(tmpdir(), 'revmod-bench-s3-'));
  const child: ChildProcess = spawn(process.execPath, ['--require', 'tsx/cjs', resolve(repoRoot, 'bench/s3-server.ts'), directory], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolvePort, reject) => {
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
  const endpoint = `http://127.0.0.1:${port}`;
  const s3Config = { endpoint, forcePathStyle: true as const, ...CREDENTIALS, region: 'us-east-1' };
  const client = new S3Client({
    endpoint, region: s3Config.region, forcePathStyle: true, credentials: CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  let closed = false;
  return {
    endpoint,
    pid: child.pid,
    s3Config,
    async put(b, key, body) {
      await client.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body }));
    },
    async close() {
      if (closed) return;
      closed = true;
      client.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

async function childMain(directory: string): Promise<void> {
  // s3rver ships no types.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  const info = await server.run();
  process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
  const stop = () => void server.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', () => undefined); // the parent decides when to stop
  process.stdin.on('end', stop); // the parent died
  process.stdin.resume();
}

if (require.main === module) {
  const directory = process.argv[2];
  if (!directory) {
    process.stderr.write('usage: s3-server.ts DIR\n');
    process.exit(2);
  }
  void childMain(directory);
}
