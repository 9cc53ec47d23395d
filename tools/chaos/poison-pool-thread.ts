// A fault-injection image pool thread (faults-poison.test.ts and the soak): the real one, which kills
// the whole process (as a native crash in libvips or the OOM killer would; process.abort() is not
// available in worker threads) when it is given bytes containing POISON_MARKER.
import { decode as realDecode, hash } from '../../src/pool/image-pool-thread';
import type { DecodeTask } from '../../src/pool/decode-task';

export const POISON_MARKER = 'REVMOD-TEST-POISON-IMAGE';

export { hash };

export async function decode(task: DecodeTask): ReturnType<typeof realDecode> {
  if (Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength).includes(POISON_MARKER)) process.kill(process.pid, 'SIGKILL');
  return realDecode(task);
}
