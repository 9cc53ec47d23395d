/**
 * Proves the nsfwjs → ONNX conversion on photos:
 *   npm run check:nsfwjs -- [--variant mobilenet_v2_mid|mobilenet_v2] [--no-shared] [--json PATH]
 * Each variant is converted in memory, then every photo (samples/, generated variants of them,
 * ../shared/images when present) goes through nsfwjs itself (tfjs CPU) and through the ONNX
 * (onnxruntime). Prints max |Δp| per variant (must be ≤ 1e-4) and the class and group each
 * original photo gets from each variant. Exits 1 if any variant disagrees.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { convertNsfwjs, isNsfwjsVariant, locateNsfwjs, NSFWJS_CLASSES, NSFWJS_GROUPS, NSFWJS_VARIANTS, type NsfwjsVariant } from '../../src/model-import/nsfwjs';
import { checkNsfwjsParity, type ParityReport } from '../../src/model-import/nsfwjs-check';
import { checkPhotos } from './check-photos';

const USAGE = 'usage: npm run check:nsfwjs -- [--variant mobilenet_v2_mid|mobilenet_v2] [--no-shared] [--json PATH]';

interface Verdict {
  readonly topClass: string;
  readonly topClassP: number;
  readonly topGroup: string;
  /** Summed probability of the violation groups. */
  readonly violate: number;
}

/** Top class, and top group by summed probability (how revmod's multi-class policy reads scores). */
function verdict(p: Float32Array): Verdict {
  let top = 0;
  p.forEach((v, i) => {
    if (v > (p[top] as number)) top = i;
  });
  const groups = new Map<string, number>();
  NSFWJS_CLASSES.forEach((c, i) => groups.set(NSFWJS_GROUPS[c], (groups.get(NSFWJS_GROUPS[c]) ?? 0) + (p[i] as number)));
  const [topGroup] = [...groups.entries()].reduce((a, b) => (b[1] > a[1] ? b : a));
  return { topClass: NSFWJS_CLASSES[top] as string, topClassP: p[top] as number, topGroup, violate: 1 - (groups.get('normal') ?? 0) };
}

function tally(items: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i, (counts.get(i) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string' },
      'no-shared': { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.variant !== undefined && !isNsfwjsVariant(values.variant)) throw new Error(`--variant must be one of ${NSFWJS_VARIANTS.join(', ')}, got ${values.variant}\n${USAGE}`);
  const variants: readonly NsfwjsVariant[] = values.variant === undefined ? NSFWJS_VARIANTS : [values.variant];
  const pkg = locateNsfwjs();

  const photos = await checkPhotos(!values['no-shared']);
  console.log(`${photos.length} photos (${photos.filter((p) => p.original).length} originals, ${photos.filter((p) => !p.original).length} generated variants)`);

  const reports: ParityReport[] = [];
  for (const variant of variants) {
    const started = performance.now();
    const { onnx } = convertNsfwjs(variant);
    console.log(`\n${variant}: converted in ${Math.round(performance.now() - started)} ms; running nsfwjs (tfjs CPU) on each photo…`);
    const checkStarted = performance.now();
    const report = await checkNsfwjsParity({
      variant,
      onnx,
      images: photos,
      inputs: `${photos.length} photos: samples/, generated variants of them${values['no-shared'] ? '' : ', ../shared/images'}`,
      nsfwjsVersion: pkg.version,
      onImage: (row, i) => {
        if ((i + 1) % 10 === 0 || i + 1 === photos.length) process.stdout.write(`  ${i + 1}/${photos.length}\n`);
        if (row.maxAbsDiff > 1e-4) process.stdout.write(`  ${row.name}: |Δp| ${row.maxAbsDiff.toExponential(2)} OVER TOLERANCE\n`);
      },
    });
    const perImageMs = (performance.now() - checkStarted) / photos.length;
    reports.push(report);
    console.log(
      `${variant}: max |Δp| = ${report.maxAbsDiffProbability.toExponential(2)} over ${report.images} photos (tolerance ${report.tolerance}) → ` +
        `${report.passed ? 'PASS' : 'FAIL'}; max |Δ ln p| = ${report.maxAbsDiffLogProbability.toExponential(2)}; ${Math.round(perImageMs)} ms per photo incl. nsfwjs`,
    );
  }

  // Class and group per original photo, from nsfwjs' own probabilities (the ONNX agrees within 1e-4).
  const originals = photos.filter((p) => p.original).map((p) => p.name);
  const rowsBy = new Map(reports.map((r) => [r.variant, new Map(r.rows.map((row) => [row.name, row]))]));
  console.log(`\nclass / group per original photo (nsfwjs probabilities; * = the ONNX's top class differs)`);
  console.log(['photo'.padEnd(46), ...variants.map((v) => v.padEnd(36))].join(''));
  const verdicts = new Map<NsfwjsVariant, Verdict[]>(variants.map((v) => [v, []]));
  for (const name of originals) {
    const cells = variants.map((v) => {
      const row = rowsBy.get(v)?.get(name);
      if (row === undefined) return '?'.padEnd(36);
      const ref = verdict(row.reference);
      const conv = verdict(row.converted);
      verdicts.get(v)?.push(ref);
      return `${ref.topClass} ${ref.topClassP.toFixed(2)} / ${ref.topGroup} v=${ref.violate.toFixed(2)}${conv.topClass === ref.topClass ? '' : ' *'}`.padEnd(36);
    });
    console.log([name.padEnd(46), ...cells].join(''));
  }
  for (const v of variants) {
    const list = verdicts.get(v) ?? [];
    console.log(`${v}: classes ${tally(list.map((x) => x.topClass))}; groups ${tally(list.map((x) => x.topGroup))}; violate ≥ 0.7: ${list.filter((x) => x.violate >= 0.7).length} of ${list.length}`);
  }

  if (values.json !== undefined) {
    const out = reports.map((r) => ({
      variant: r.variant,
      reference: r.reference,
      images: r.images,
      maxAbsDiffProbability: r.maxAbsDiffProbability,
      maxAbsDiffLogProbability: r.maxAbsDiffLogProbability,
      passed: r.passed,
      rows: r.rows.map((row) => ({ name: row.name, maxAbsDiff: row.maxAbsDiff, maxAbsDiffLog: row.maxAbsDiffLog, nsfwjs: Array.from(row.reference), onnx: Array.from(row.converted) })),
    }));
    writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\nwrote ${values.json}`);
  }
  if (reports.some((r) => !r.passed)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
