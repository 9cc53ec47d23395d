/**
 * Converts an nsfwjs model to ONNX with its card (what `revmod model import-nsfwjs` will run):
 *   npm run model:nsfwjs -- [--variant mobilenet_v2_mid|mobilenet_v2] [--out PATH] [--check N] [--force]
 * Defaults: mobilenet_v2_mid, models/nsfwjs-mobilenet-v2-mid.onnx, a 3-image check against nsfwjs.
 * Does nothing when the model is already there from this converter revision (--force converts again).
 */
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { defaultNsfwModelPath, ensureNsfwModel } from '../../src/model-import/ensure-nsfw-model';
import { DEFAULT_NSFWJS_VARIANT, isNsfwjsVariant, NSFWJS_VARIANTS } from '../../src/model-import/nsfwjs';

const USAGE = 'usage: npm run model:nsfwjs -- [--variant mobilenet_v2_mid|mobilenet_v2] [--out PATH] [--check N] [--force]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string', default: DEFAULT_NSFWJS_VARIANT },
      out: { type: 'string' },
      check: { type: 'string', default: '3' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!isNsfwjsVariant(values.variant)) throw new Error(`--variant must be one of ${NSFWJS_VARIANTS.join(', ')}, got ${values.variant}\n${USAGE}`);
  if (!/^\d+$/.test(values.check)) throw new Error(`--check must be a non-negative integer (synthetic images to check on), got ${values.check}\n${USAGE}`);
  const result = await ensureNsfwModel(values.variant, values.out ?? defaultNsfwModelPath(values.variant), {
    force: values.force,
    checkImageCount: Number(values.check),
    log: (line) => console.log(line),
  });
  const { size } = await stat(result.modelPath);
  console.log(
    [
      `model:   ${result.modelPath}${result.created ? '' : ' (already there; --force to convert again)'}`,
      `card:    ${result.cardPath} (${result.card.name} ${result.card.version})`,
      `bytes:   ${size}`,
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
