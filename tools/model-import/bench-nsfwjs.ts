/**
 * Conversion time, ONNX size and onnxruntime CPU inference time of the converted nsfwjs models:
 *   npm run bench:nsfwjs -- [--variant mobilenet_v2_mid|mobilenet_v2] [--threads N]
 * Inference runs on random 224×224 inputs at batch 1, 8 and 32 (the worker's batch size).
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { convertNsfwjs, isNsfwjsVariant, NSFWJS_VARIANTS, type NsfwjsVariant, readNsfwjsModel } from '../../src/model-import/nsfwjs';
import { SeededRandom } from '../../src/util/seeded-random';

const USAGE = 'usage: npm run bench:nsfwjs -- [--variant mobilenet_v2_mid|mobilenet_v2] [--threads N]';
const FLOATS_PER_IMAGE = 3 * 224 * 224;
/** [batch size, timed runs]: 1 (latency) and 32 (the worker's batch), with 8 between. */
const BATCHES: ReadonlyArray<readonly [number, number]> = [[1, 30], [8, 8], [32, 5]];

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** ms per image over `runs` runs: [fastest, median] (on a shared machine the fastest is the least disturbed). */
async function msPerImage(session: ort.InferenceSession, batch: number, runs: number): Promise<[number, number]> {
  const rng = new SeededRandom(batch);
  const input = new ort.Tensor('float32', Float32Array.from({ length: batch * FLOATS_PER_IMAGE }, () => rng.next()), [batch, 3, 224, 224]);
  await session.run({ input }); // warm-up: first run allocates and plans
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run({ input });
    times.push((performance.now() - t) / batch);
  }
  return [Math.min(...times), median(times)];
}

async function benchVariant(variant: NsfwjsVariant, threads: number): Promise<void> {
  const conversions: number[] = [];
  let onnx: Buffer = Buffer.alloc(0);
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    onnx = convertNsfwjs(variant, readNsfwjsModel(variant)).onnx;
    conversions.push(performance.now() - t);
  }
  const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const fmt = ([min, med]: [number, number]): string => `${min.toFixed(1)} fastest / ${med.toFixed(1)} median`;
  const timings: string[] = [];
  for (const [batch, runs] of BATCHES) timings.push(`batch ${batch} ${fmt(await msPerImage(session, batch, runs))} (${runs} runs)`);
  await session.release();
  console.log(
    `${variant.padEnd(18)} convert ${Math.round(conversions[0] as number)} ms first, ${Math.round(median(conversions))} ms median of 3 (package read included) | ` +
      `onnx ${(onnx.length / 1e6).toFixed(2)} MB | ORT CPU ${threads} thread(s), ms/image: ${timings.join(', ')}`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { variant: { type: 'string' }, threads: { type: 'string', default: '1' }, help: { type: 'boolean', short: 'h', default: false } },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.variant !== undefined && !isNsfwjsVariant(values.variant)) throw new Error(`--variant must be one of ${NSFWJS_VARIANTS.join(', ')}\n${USAGE}`);
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer, got ${values.threads}`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const v of values.variant === undefined ? NSFWJS_VARIANTS : [values.variant]) await benchVariant(v, threads);
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
