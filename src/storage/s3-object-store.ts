import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { RevmodConfig } from '../config';
import { RevmodError } from '@revmod/client';
import { mapS3Error } from './map-s3-error';
import type { FetchOptions, ObjectStore } from './object-store';

export type S3StoreConfig = RevmodConfig['s3'];

/** Builds the S3 client from config: explicit timeouts, keep-alive sockets, checksums only when required. */
export function createS3Client(s3: S3StoreConfig, maxSockets = 64): S3Client {
  const credentials = s3.accessKeyId !== undefined && s3.secretAccessKey !== undefined
    ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
    : undefined;
  return new S3Client({
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    ...(s3.endpoint !== undefined ? { endpoint: s3.endpoint } : {}),
    ...(credentials !== undefined ? { credentials } : {}),
    // BullMQ retries with backoff above us; one quick SDK retry covers a dropped keep-alive socket.
    maxAttempts: 2,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: s3.connectTimeoutMs,
      requestTimeout: s3.requestTimeoutMs,
      throwOnRequestTimeout: true,
      httpAgent: new Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    }),
  });
}

async function readAll(body: Readable, maxBytes: number, where: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > maxBytes) {
      body.destroy();
      throw new RevmodError('OBJECT_TOO_LARGE', `${where} is larger than maxBytes ${maxBytes} (read ${total} bytes so far)`);
    }
    chunks.push(buf);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/** Fetches objects with GetObject; refuses oversized ones from Content-Length before reading the body. */
export class S3ObjectStore implements ObjectStore {
  readonly client: S3Client;
  private readonly requestTimeoutMs: number;

  constructor(s3: S3StoreConfig, client?: S3Client) {
    this.client = client ?? createS3Client(s3);
    this.requestTimeoutMs = s3.requestTimeoutMs;
  }

  async fetch(bucket: string, key: string, options: FetchOptions): Promise<Buffer> {
    const where = `s3://${bucket}/${key}`;
    const deadline = AbortSignal.timeout(this.requestTimeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
      const body = res.Body as Readable | undefined;
      const length = res.ContentLength;
      if (length !== undefined && length > options.maxBytes) {
        body?.destroy();
        throw new RevmodError('OBJECT_TOO_LARGE',
          `${where} is ${length} bytes, over maxBytes ${options.maxBytes}; refused before download`);
      }
      if (body === undefined || length === 0) {
        body?.destroy();
        throw new RevmodError('OBJECT_EMPTY', `${where} has zero bytes`);
      }
      const bytes = await readAll(body, options.maxBytes, where);
      if (bytes.length === 0) throw new RevmodError('OBJECT_EMPTY', `${where} has zero bytes`);
      return bytes;
    } catch (err) {
      if (deadline.aborted && !(err instanceof RevmodError)) {
        throw new RevmodError('STORAGE_TIMEOUT', `object store did not deliver ${where} within ${this.requestTimeoutMs} ms`, { cause: err });
      }
      throw mapS3Error(err, bucket, key);
    }
  }

  close(): void {
    this.client.destroy();
  }
}
