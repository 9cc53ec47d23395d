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
import { parseArgs } from 'node:util';
import { evaluateDetectors, formatDetectorsReport } from '../../src/eval/detectors-eval';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { threads: { type: 'string', default: '1' }, json: { type: 'string' } }, allowPositionals: true });
  const dir = resolve(positionals[0] ?? '.tmp/detector-set');
  const threads = Number(values.threads);
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
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(report, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
