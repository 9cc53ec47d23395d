/**
 * The share of real, normal photos the default policy passes with a model: its false-positive rate
 * on normal photos. `npx tsx tools/eval/normal-photo-pass-rate.ts [MODEL.onnx] [DIR…]` (default: the
 * bundled nsfwjs model; samples/, test/fixtures/parity and ../shared/images when present). Each
 * photo goes through the worker's own path: the pool's decode task, the inference engine, the policy.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadModel } from '../../src/model/load-model';
import { ioContractOf } from '../../src/model/model-io';
import { InferenceEngine } from '../../src/model/inference-engine';
import { NORMAL_GROUP, cardInputGeometry } from '../../src/model/model-card';
import { compilePolicy, DEFAULT_RULES, scoreRow } from '../../src/policy';
import { decode } from '../../src/pool/decode-task';
import { DEFAULT_DECODE_OPTIONS } from '../../src/preprocess';
import { ensureNsfwModel } from '../../src/model-import/ensure-nsfw-model';

const ROOT = resolve(__dirname, '../..');

async function main(): Promise<void> {
  const [modelArg, ...dirArgs] = process.argv.slice(2);
  const modelPath = modelArg ?? (await ensureNsfwModel()).modelPath;
  const dirs = dirArgs.length > 0 ? dirArgs : [join(ROOT, 'samples'), join(ROOT, 'test/fixtures/parity'), resolve(ROOT, '../shared/images')].filter(existsSync);
  const model = await loadModel(modelPath);
  const { card } = model;
  const groups = [...new Set(Object.values(card.groups))].filter((g) => g !== NORMAL_GROUP);
  const policy = compilePolicy('default', DEFAULT_RULES, card.thresholds, groups);
  const engine = new InferenceEngine({ modelPath, executionProvider: 'cpu', maxBatchSize: 1, contract: ioContractOf(card) });
  await engine.start();
  const counts: Record<string, number> = {};
  const flagged: string[] = [];
  let total = 0;
  try {
    for (const dir of dirs) {
      for (const name of readdirSync(dir).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort()) {
        const out = await decode({
          bytes: readFileSync(join(dir, name)), preprocess: { ...DEFAULT_DECODE_OPTIONS, ...cardInputGeometry(card) }, normalization: card.preprocessing,
          maxFrames: 1, detectors: {}, pdq: false,
        });
        if (!out.ok) throw new Error(`${name}: ${out.code}: ${out.message}`);
        const { logits } = await engine.run(out.tensors);
        const scores = scoreRow(logits, { classes: card.classes, groups: card.groups, scores: card.output.scores })!;
        const { decision, reasons } = policy.evaluate({ scores, signals: [], meta: {} });
        counts[decision] = (counts[decision] ?? 0) + 1;
        total += 1;
        if (decision !== 'pass') flagged.push(`${name}: ${decision} (${reasons.join(',')}; top ${scores.topClass}, violate ${scores.violate.toFixed(3)})`);
      }
    }
  } finally {
    await engine.close();
  }
  process.stdout.write(`model ${card.name}@${card.version}; photos from ${dirs.map((d) => d.replace(`${ROOT}/`, '')).join(', ')}\n`);
  process.stdout.write(`${total} photos: ${JSON.stringify(counts)}; passed ${((100 * (counts.pass ?? 0)) / total).toFixed(1)} %\n`);
  for (const line of flagged) process.stdout.write(`  ${line}\n`);
}

void main().catch((err: Error) => { process.stderr.write(`${err.message}\n`); process.exit(1); });
