import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RevmodError } from '@revmod/client';
import { openImage } from '../preprocess/open-image';
import { mapS3Error } from '../storage/map-s3-error';
import type { ReviewItem } from './review-store';
import { verdictVersion } from './verdict-view';

/** Options of {@link ImageProxy}. */
export interface ImageProxyOptions {
  readonly s3: S3Client;
  /** Buckets images may come from; anything else is refused. */
  readonly allowedBuckets: readonly string[];
  readonly maxBytes: number;
  readonly maxPixels: number;
  /** @defaultValue 15000 */
  readonly timeoutMs?: number;
}

/** Longest side of the two renditions. */
export const IMAGE_SIZES = { thumb: 480, full: 1600 } as const;
export type ImageSize = keyof typeof IMAGE_SIZES;

const unquote = (etag: string): string => etag.replace(/^W\//, '').replace(/^"|"$/g, '');

/**
 * Serves a review item's image to the page: fetched by the server (no S3 URL, presigned or not,
 * ever reaches the browser), only from allowed buckets, only at the content version the verdict
 * judged (VersionId when it has one, else the ETag; then the sha256 of the bytes), and re-encoded
 * as a JPEG without metadata (a buyer's photo carries GPS and camera data in EXIF).
 */
export class ImageProxy {
  private readonly allowed: ReadonlySet<string>;

  constructor(private readonly o: ImageProxyOptions) {
    this.allowed = new Set(o.allowedBuckets);
  }

  async render(item: Pick<ReviewItem, 'bucket' | 'key' | 'verdict'>, size: ImageSize): Promise<Buffer> {
    const { bucket, key } = item;
    const where = `s3://${bucket}/${key}`;
    if (!this.allowed.has(bucket)) throw new RevmodError('BUCKET_NOT_ALLOWED', `bucket ${JSON.stringify(bucket)} is not in the console's image allow-list`);
    const version = verdictVersion(item.verdict);
    let bytes: Buffer;
    let etag: string | undefined;
    try {
      const res = await this.o.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(version?.versionId ? { VersionId: version.versionId } : {}) }),
        { abortSignal: AbortSignal.timeout(this.o.timeoutMs ?? 15_000) });
      if ((res.ContentLength ?? 0) > this.o.maxBytes) {
        (res.Body as Readable | undefined)?.destroy();
        throw new RevmodError('OBJECT_TOO_LARGE', `${where} is ${res.ContentLength} bytes, over ${this.o.maxBytes}`);
      }
      bytes = Buffer.from(await res.Body!.transformToByteArray());
      etag = res.ETag;
    } catch (err) {
      throw err instanceof RevmodError ? err : mapS3Error(err, bucket, key);
    }
    if (bytes.length > this.o.maxBytes) throw new RevmodError('OBJECT_TOO_LARGE', `${where} is over ${this.o.maxBytes} bytes`);
    if (version?.etag && !version.versionId && etag !== undefined && unquote(etag) !== unquote(version.etag)) {
      throw new RevmodError('CONTENT_MISMATCH', `${where} changed since its verdict (ETag ${etag}, the verdict judged ${version.etag})`);
    }
    if (version?.sha256) {
      const sha = createHash('sha256').update(bytes).digest('hex');
      if (sha !== version.sha256.toLowerCase()) throw new RevmodError('CONTENT_MISMATCH', `${where} changed since its verdict (sha256 ${sha.slice(0, 12)}…, the verdict judged ${version.sha256.slice(0, 12)}…)`);
    }
    const side = IMAGE_SIZES[size];
    try {
      return await (await openImage(bytes, { maxPixels: this.o.maxPixels }))
        .rotate()
        .resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true })
        .flatten({ background: '#808080' })
        .jpeg({ quality: 85, mozjpeg: false })
        .toBuffer();
    } catch (err) {
      if (err instanceof RevmodError) throw new RevmodError(err.code, `${where} cannot be shown: ${err.message}`, { cause: err });
      throw new RevmodError('IMAGE_CORRUPT', `${where} cannot be shown: ${(err as Error).message}`);
    }
  }
}
