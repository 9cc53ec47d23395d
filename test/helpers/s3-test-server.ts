import { startLocalS3, type LocalS3 } from '../../src/dev/local-s3';

/** A real S3-compatible server (s3rver) on a loopback port, storing under a temp directory. */
export interface S3TestServer extends Omit<LocalS3, 'stop'> {
  close(): Promise<void>;
}

export async function startS3TestServer(port = 0): Promise<S3TestServer> {
  const s3 = await startLocalS3(port);
  return { ...s3, close: () => s3.stop() };
}
