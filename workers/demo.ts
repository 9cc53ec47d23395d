// Demo entry: runs the whole job locally on embedded defaults (see README "Quick start").
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { DEFAULT_DEMO_OPTIONS, runDemo } from '../tools/demo/run-demo';
import { createLogger } from '../src/util/logger';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: DEFAULT_DEMO_OPTIONS.imagesDir },
      copies: { type: 'string', default: String(DEFAULT_DEMO_OPTIONS.copies) },
      model: { type: 'string', default: DEFAULT_DEMO_OPTIONS.model },
    },
  });
  const copies = Number(values.copies);
  if (!Number.isInteger(copies) || copies < 1) throw new Error(`--copies must be a positive integer, received ${JSON.stringify(values.copies)}`);
  if (values.model !== 'resnet18' && values.model !== 'probe') throw new Error(`--model must be resnet18 or probe, received ${JSON.stringify(values.model)}`);
  await runDemo({
    imagesDir: resolve(values.images),
    copies,
    model: values.model,
    logger: createLogger(process.env.LOG_LEVEL ?? 'warn'),
    print: (line) => process.stdout.write(`${line}\n`),
  });
}

main().then(() => process.exit(0), (err: Error) => {
  process.stderr.write(`revmod demo: ${err.message}\n`);
  process.exit(1);
});
