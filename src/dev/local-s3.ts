import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** s3rver's fixed development credentials. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface LocalS3 {
  readonly endpoint: string;
  readonly client: S3Client;
  put(bucket: string, key: string, body: Buffer): Promise<void>;
  createBucket(bucket: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * An S3-compatible server in this process (s3rver, a devDependency) on a loopback port, storing in
 * a temp directory removed by `stop`. For the demo and benchmarks; production uses real S3 or MinIO.
 */
export async function startLocalS3(port = 0): Promise<LocalS3> {
  // s3rver is a devDependency without types: loaded only when a local server is wanted.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver') as new (o: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };
  const directory = await mkdtemp(join(tmpdir(), 'revmod-local-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port, directory, silent: true });
  const info = await server.run();
  const endpoint = `http://127.0.0.1:${info.port}`;
  const client = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_S3_CREDENTIALS,
    // Without this a streamed body is stored with aws-chunked framing by s3rver.
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    client,
    async createBucket(bucket) {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    },
    async put(bucket, key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    async stop() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
