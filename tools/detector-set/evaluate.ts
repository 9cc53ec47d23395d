/**
 * Runs the detectors on a labelled set and prints precision and recall per detector.
 *
 *   npx tsx tools/detector-set/evaluate.ts [DIR] [--threads N] [--json FILE]
 *
 * DIR defaults to .tmp/detector-set (make it with generate.ts). The `revmod eval detectors`
 * command prints the same report.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { evaluateDetectors, formatDetectorsReport } from '../../src/eval/detectors-eval';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const dir = resolve(args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1]!.startsWith('--'))) ?? '.tmp/detector-set');
  const threads = Number(flag('--threads') ?? 1);
  const started = Date.now();
  const report = await evaluateDetectors({
    setDir: dir,
    ocrThreads: threads,
    onImage: (done, total) => {
      if (done % 50 === 0 || done === total) process.stderr.write(`  ${done}/${total}\n`);
    },
  });
  console.log(formatDetectorsReport(report));
  console.log(`\n${dir}: ${((Date.now() - started) / 1000).toFixed(1)} s, ${threads} OCR thread(s), ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const json = flag('--json');
  if (json !== undefined) writeFileSync(json, JSON.stringify(report, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
