// A test-only inference thread: the real one, which in addition, once per flag file of this
// process (see inference-crash.ts): exits the way a native crash would (code 70) when the crash
// flag appears, or blocks for the milliseconds written in the stall flag before the next run, as a
// hung onnxruntime run would. Checked on every message (before the real handler, which registers
// after the model loads) and, for crashes while idle, every 10 ms. Polling is fine here: this never ships.
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import '../../src/model/inference-thread';
import { crashFlagFile, stallFlagFile } from './inference-crash';

const crashFlag = crashFlagFile();
const stallFlag = stallFlagFile();
const crashIfAsked = () => {
  if (!existsSync(crashFlag)) return;
  unlinkSync(crashFlag);
  process.exit(70);
};
const stallIfAsked = () => {
  if (!existsSync(stallFlag)) return;
  const ms = Number(readFileSync(stallFlag, 'utf8'));
  unlinkSync(stallFlag);
  // Blocks this thread as a synchronous native call does.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};
parentPort!.on('message', () => {
  crashIfAsked();
  stallIfAsked();
});
setInterval(crashIfAsked, 10).unref();
