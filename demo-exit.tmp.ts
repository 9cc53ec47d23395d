import pino from 'pino';
import { resolve } from 'node:path';
import { runDemo } from './tools/demo/run-demo';
(async () => {
  const t0 = Date.now();
  await runDemo({ imagesDir: resolve('samples'), copies: 1, model: 'probe', logger: pino({ level: 'silent' }), print: () => undefined });
  console.log('demo done', Date.now() - t0);
  const why = (process as any)._getActiveHandles().map((h: any) => h.constructor?.name);
  console.log('handles', why);
  setTimeout(() => { console.log('still alive after 3 s', (process as any)._getActiveHandles().map((h: any) => h.constructor?.name)); }, 3000).unref();
})();
