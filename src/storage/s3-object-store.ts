import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { RevmodConfig } from '../config';
import { RevmodError } from '@revmod/client';
import { mapS3Error } from './map-s3-error';
import { bareEtag, type FetchedObject, type FetchOptions, type ObjectStore } from './object-store';

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

  async fetch(bucket: string, key: string, options: FetchOptions): Promise<FetchedObject> {
    const where = `s3://${bucket}/${key}${options.versionId ? `?versionId=${options.versionId}` : ''}`;
    const deadline = AbortSignal.timeout(this.requestTimeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    try {
      const res = await this.client.send(new GetObjectCommand({
        Bucket: bucket, Key: key,
        ...(options.versionId !== undefined ? { VersionId: options.versionId } : {}),
        // Real S3 answers 412 when the object changed; some servers (s3rver) ignore it, hence the check below.
        ...(options.etag !== undefined ? { IfMatch: `"${options.etag}"` } : {}),
      }), { abortSignal: signal });
      const body = res.Body as Readable | undefined;
      const length = res.ContentLength;
      const etag = bareEtag(res.ETag);
      if (options.etag !== undefined && etag !== undefined && etag !== options.etag) {
        body?.destroy();
        throw new RevmodError('OBJECT_CHANGED', `${where} is now ETag ${etag}, not the ${options.etag} submitted: it was overwritten, so nothing was judged`);
      }
      if (length !== undefined && length > options.maxBytes) {
        body?.destroy();
        throw new RevmodError('OBJECT_TOO_LARGE',
          `${where} is ${length} bytes, over maxBytes ${options.maxBytes}; refused before download`);
      }
      if (body === undefined || length === 0) {
        body?.destroy();
        throw new RevmodError('OBJECT_EMPTY', `${where} has zero bytes`);
      }
      await options.reserveBytes?.(length ?? options.maxBytes);
      const bytes = await readAll(body, options.maxBytes, where);
      if (bytes.length === 0) throw new RevmodError('OBJECT_EMPTY', `${where} has zero bytes`);
      return { bytes, etag, versionId: res.VersionId ?? options.versionId };
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
