/**
 * Generates a model and its card: `npm run model -- [--kind resnet18|probe] [--out PATH] [--seed N] [--force]`.
 * Defaults: resnet18, seed 0, models/revmod-resnet18-seed0.onnx (models/revmod-probe.onnx for the probe).
 * Prints the path, size, sha256 and parameter count.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ensureModel, type ModelKind, modelParamCount } from '../tools/model-gen/ensure-model';

const USAGE = 'usage: npm run model -- [--kind resnet18|probe] [--out PATH] [--seed N] [--force]';

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kind: { type: 'string', default: 'resnet18' },
      out: { type: 'string' },
      seed: { type: 'string', default: '0' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.kind !== 'resnet18' && values.kind !== 'probe') throw new Error(`--kind must be resnet18 or probe\n${USAGE}`);
  const kind: ModelKind = values.kind;
  if (!/^\d+$/.test(values.seed)) throw new Error(`--seed must be a non-negative integer\n${USAGE}`);

  const started = performance.now();
  const result = await ensureModel({ kind, seed: Number(values.seed), force: values.force, ...(values.out === undefined ? {} : { path: values.out }) });
  const elapsedMs = Math.round(performance.now() - started);
  const { size } = await stat(result.modelPath);
  console.log(
    [
      `model:      ${result.modelPath}${result.created ? ` (written in ${elapsedMs} ms)` : ' (already there; --force to rewrite)'}`,
      `card:       ${result.cardPath}`,
      `bytes:      ${size}`,
      `sha256:     ${await sha256File(result.modelPath)}`,
      `parameters: ${modelParamCount(kind).toLocaleString('en-US')}`,
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
