// A test-only inference thread: the real one, which in addition exits the way a native crash
// would (code 70) once the flag file of this process appears (see inference-crash.ts), once per
// file: checked on every message (before the real handler, which registers after the model loads)
// and, while idle, every 10 ms. Polling is fine here: this never ships.
import { existsSync, unlinkSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import '../../src/model/inference-thread';
import { crashFlagFile } from './inference-crash';

const flag = crashFlagFile();
const crashIfAsked = () => {
  if (!existsSync(flag)) return;
  unlinkSync(flag);
  process.exit(70);
};
parentPort!.on('message', crashIfAsked);
setInterval(crashIfAsked, 10).unref();
