import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { evaluateDetectors, formatDetectorsReport } from '../../eval/detectors-eval';
import { EXIT, UsageError, type CliContext } from '../cli-context';
import { positiveInt, type Runner } from '../program';

/** `revmod eval …`: how well revmod's parts do on labelled images. */
export function registerEvalCommands(program: Command, ctx: CliContext, run: Runner): Command {
  const evalCmd = program.command('eval').description('measure revmod on labelled images');
  evalCmd.command('detectors')
    .description('precision and recall of blur, QR, the text gate and the OCR rules on a labelled set (labels.jsonl + images; `npm run detector-set` makes one)')
    .argument('<dir>', 'the labelled set')
    .option('--ocr-threads <n>', 'OCR threads', positiveInt, 1)
    .option('--json', 'the report as JSON')
    .action(run(async (dir: string, opts: { ocrThreads: number; json?: boolean }) => {
      const setDir = resolve(dir);
      if (!existsSync(join(setDir, 'labels.jsonl'))) throw new UsageError(`eval detectors: no labels.jsonl in ${JSON.stringify(setDir)} (make a set with \`npm run detector-set -- --out ${dir}\`)`);
      const started = Date.now();
      const report = await evaluateDetectors({
        setDir, ocrThreads: opts.ocrThreads,
        onImage: (done, total) => { if (done % 50 === 0 || done === total) ctx.err(`  ${done}/${total} images`); },
      });
      ctx.out(opts.json ? JSON.stringify(report) : formatDetectorsReport(report));
      ctx.err(`${setDir}: ${((Date.now() - started) / 1000).toFixed(1)} s, ${opts.ocrThreads} OCR thread(s)`);
      return EXIT.ok;
    }));
  return evalCmd;
}
