import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** s3rver's fixed development credentials. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface LocalS3 {
  readonly endpoint: string;
  readonly port: number;
  readonly client: S3Client;
  /** The `s3` config section a worker or client needs for this server. */
  readonly s3Config: { endpoint: string; forcePathStyle: true; accessKeyId: string; secretAccessKey: string; region: string };
  /** The same, as environment variables for a worker process. */
  readonly env: Record<string, string>;
  put(bucket: string, key: string, body: Buffer, contentType?: string): Promise<void>;
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
  const region = 'us-east-1';
  const client = new S3Client({
    endpoint, region, forcePathStyle: true, credentials: LOCAL_S3_CREDENTIALS,
    // Without this a streamed body is stored with aws-chunked framing by s3rver.
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    port: info.port,
    client,
    s3Config: { endpoint, forcePathStyle: true, region, ...LOCAL_S3_CREDENTIALS },
    env: {
      S3_ENDPOINT: endpoint, S3_FORCE_PATH_STYLE: 'true', S3_REGION: region,
      S3_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId, S3_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    },
    async createBucket(bucket) {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    },
    async put(bucket, key, body, contentType = 'application/octet-stream') {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
    },
    async stop() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
