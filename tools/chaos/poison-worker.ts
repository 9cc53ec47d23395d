// A fault-injection worker process (faults-poison.test.ts and the soak): `revmod worker` with the poison pool thread (see poison-pool-thread.ts).
import { join } from 'node:path';
import { runWorker } from '../../src/cli/commands/worker-command';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
void runWorker(
  { env: process.env, out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`), exit: (c) => process.exit(c) },
  { poolEntryFile: join(__dirname, 'poison-pool-thread.ts') },
).then((code) => process.exit(code));
