/**
 * Writes the labelled detector set.
 *
 *   npx tsx tools/detector-set/generate.ts [--small] [--out DIR] [--seed N] [--masks]
 *
 * Default: ≥ 300 images into .tmp/detector-set (or .tmp/detector-set-small with --small).
 */
import { resolve } from 'node:path';
import { buildDetectorSet, FULL_COUNTS, SMALL_COUNTS } from './build-set';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const small = args.includes('--small');
  const valueOf = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const outDir = resolve(valueOf('--out') ?? (small ? '.tmp/detector-set-small' : '.tmp/detector-set'));
  const seed = Number(valueOf('--seed') ?? 12);
  const started = Date.now();
  const labels = await buildDetectorSet({ outDir, counts: small ? SMALL_COUNTS : FULL_COUNTS, seed, writeMasks: args.includes('--masks') });
  const byKind = new Map<string, number>();
  for (const l of labels) byKind.set(l.kind, (byKind.get(l.kind) ?? 0) + 1);
  console.log(`${labels.length} images in ${outDir} (${((Date.now() - started) / 1000).toFixed(1)} s): ${[...byKind].map(([k, v]) => `${k} ${v}`).join(', ')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
