/**
 * Writes the labelled detector set.
 *
 *   npx tsx tools/detector-set/generate.ts [--small] [--out DIR] [--seed N] [--masks]
 *
 * Default: ≥ 300 images into .tmp/detector-set (or .tmp/detector-set-small with --small).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDetectorSet, FULL_COUNTS, SMALL_COUNTS } from './build-set';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { small: { type: 'boolean', default: false }, masks: { type: 'boolean', default: false }, out: { type: 'string' }, seed: { type: 'string', default: '12' } } });
  const small = values.small;
  const outDir = resolve(values.out ?? (small ? '.tmp/detector-set-small' : '.tmp/detector-set'));
  const seed = Number(values.seed);
  const started = Date.now();
  const labels = await buildDetectorSet({ outDir, counts: small ? SMALL_COUNTS : FULL_COUNTS, seed, writeMasks: values.masks });
  const byKind = new Map<string, number>();
  for (const l of labels) byKind.set(l.kind, (byKind.get(l.kind) ?? 0) + 1);
  console.log(`${labels.length} images in ${outDir} (${((Date.now() - started) / 1000).toFixed(1)} s): ${[...byKind].map(([k, v]) => `${k} ${v}`).join(', ')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
