import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };

export interface S3TestServer {
  readonly endpoint: string;
  readonly port: number;
  readonly client: S3Client;
  readonly s3Config: { endpoint: string; forcePathStyle: true; accessKeyId: string; secretAccessKey: string; region: string };
  createBucket(name: string): Promise<void>;
  put(bucket: string, key: string, body: Buffer, contentType?: string): Promise<void>;
  close(): Promise<void>;
}

/** A real S3-compatible server (s3rver) on a free loopback port, storing under a temp directory. */
export async function startS3TestServer(port = 0): Promise<S3TestServer> {
  const directory = mkdtempSync(join(tmpdir(), 'revmod-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port, directory, silent: true });
  const info = await server.run();
  const endpoint = `http://127.0.0.1:${info.port}`;
  const s3Config = { endpoint, forcePathStyle: true as const, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' };
  const client = new S3Client({
    endpoint, region: s3Config.region, forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    port: info.port,
    client,
    s3Config,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async put(bucket, key, body, contentType = 'application/octet-stream') {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
    },
    async close() {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
