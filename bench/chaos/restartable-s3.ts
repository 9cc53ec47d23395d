/**
 * An S3-compatible server (s3rver, in this process) that can be stopped and started again on the
 * same port and directory, to play an object store outage. `stop()` drops open connections too, as
 * a crashed or unplugged server would.
 */
import { LOCAL_S3_CREDENTIALS } from '../../src/dev/local-s3';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: Server;
}
// s3rver ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => S3rverInstance;


export class RestartableS3 {
  readonly client: S3Client;
  private server: S3rverInstance | undefined;

  private constructor(readonly port: number, readonly directory: string) {
    this.client = new S3Client({
      endpoint: this.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_S3_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Starts on `port` (0: a free one, kept for restarts) storing under a new temp directory. */
  static async start(port = 0): Promise<RestartableS3> {
    const directory = mkdtempSync(join(tmpdir(), 'revmod-s3-'));
    const first = new S3rver({ address: '127.0.0.1', port, directory, silent: true });
    const info = await first.run();
    const s3 = new RestartableS3(info.port, directory);
    s3.server = first;
    return s3;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** The `s3` section of a worker or test config. */
  get s3Config(): { endpoint: string; forcePathStyle: true; accessKeyId: string; secretAccessKey: string; region: string } {
    return { endpoint: this.endpoint, forcePathStyle: true, ...LOCAL_S3_CREDENTIALS, region: 'us-east-1' };
  }

  /** The environment variables a worker process needs for this server. */
  get env(): Record<string, string> {
    return {
      S3_ENDPOINT: this.endpoint, S3_FORCE_PATH_STYLE: 'true', S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId, S3_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    };
  }

  async createBucket(name: string): Promise<void> {
    await this.client.send(new CreateBucketCommand({ Bucket: name }));
  }

  async put(bucket: string, key: string, body: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }

  /** Closes the listening socket and every open connection: clients see refused/reset connections. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closing = server.close();
    server.httpServer?.closeAllConnections();
    await closing;
  }

  /** Starts again on the same port and directory (objects and buckets are kept). */
  async restart(): Promise<void> {
    if (this.server) return;
    const server = new S3rver({ address: '127.0.0.1', port: this.port, directory: this.directory, silent: true });
    await server.run();
    this.server = server;
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    this.client.destroy();
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
