/**
 * `npm run bench:webgpu`: what batches cost on onnxruntime's WebGPU provider (Dawn over Vulkan)
 * against the CPU provider, with the worker's session options.
 *   npm run bench:webgpu -- [--models probe,resnet18,nsfwjs] [--sizes 1,2,4] [--layouts NCHW,NHWC] [--reps 2] [--providers webgpu,cpu]
 * For each model, provider and layout, one fresh session runs the sizes in order: the first run at
 * each size (the very first one compiles the shaders; a later size shows whether a new batch shape
 * compiles again), then `reps` more at that size (steady). Prints ms per run and ms per image, and
 * the Vulkan driver the loader sees. Software Vulkan (Mesa's lavapipe) is slow: keep sizes small.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { EXECUTION_PROVIDERS, gpuDeviceNodes, providerErrorReason, sessionOptionsFor, type ExecutionProviderName, type WebGpuLayout } from '../../src/model/execution-providers';
import { ensureNsfwModel } from '../../src/model-import/ensure-nsfw-model';
import { SeededRandom } from '../../src/util/seeded-random';
import { ensureModel } from '../model-gen/ensure-model';
import { median } from './measure';

const USAGE = 'usage: npm run bench:webgpu -- [--models probe,resnet18,nsfwjs] [--sizes 1,2,4] [--layouts NCHW,NHWC] [--reps 2] [--providers webgpu,cpu]';
const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'probe,resnet18,nsfwjs' },
    sizes: { type: 'string', default: '1,2,4' },
    layouts: { type: 'string', default: 'NCHW,NHWC' },
    reps: { type: 'string', default: '2' },
    providers: { type: 'string', default: 'webgpu,cpu' },
    threads: { type: 'string', default: '0' },
  },
});
const list = (s: string | undefined): string[] => (s ?? '').split(',').map((x) => x.trim()).filter((x) => x.length > 0);
const sizes = list(values.sizes).map(Number);
const reps = Number(values.reps);
const threads = Number(values.threads);
const layouts = list(values.layouts) as WebGpuLayout[];
const providers = list(values.providers) as ExecutionProviderName[];
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(reps) || reps < 1 || !Number.isInteger(threads) || threads < 0
  || layouts.some((l) => l !== 'NCHW' && l !== 'NHWC') || providers.some((p) => !EXECUTION_PROVIDERS.includes(p))) {
  console.error(USAGE);
  process.exit(2);
}

async function modelPath(name: string): Promise<string> {
  if (name === 'probe' || name === 'resnet18') return (await ensureModel({ kind: name })).modelPath;
  if (name === 'nsfwjs') return (await ensureNsfwModel()).modelPath;
  throw new Error(`unknown model ${name}: one of probe, resnet18, nsfwjs`);
}

function vulkanDrivers(): string {
  const icds = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'].flatMap((d) => { try { return readdirSync(d); } catch { return []; } });
  let mesa = '';
  try {
    mesa = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'mesa-vulkan-drivers'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch { /* not a Debian system, or not installed */ }
  const nodes = gpuDeviceNodes();
  return `ICDs [${icds.join(', ')}]${mesa ? `, mesa-vulkan-drivers ${mesa}` : ''}, GPU device nodes [${nodes.join(', ') || 'none: software Vulkan only'}]`;
}

interface Row { readonly model: string; readonly provider: string; readonly layout: string; readonly sessionMs: number; readonly sizes: ReadonlyArray<{ size: number; firstMs: number; steadyMs: number }> }

async function benchOne(model: string, path: string, provider: ExecutionProviderName, layout: WebGpuLayout): Promise<Row | string> {
  const t0 = performance.now();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, sessionOptionsFor(provider, { intraOpThreads: threads, webgpuLayout: layout }));
  } catch (err) {
    return `${model} on ${provider}: ${providerErrorReason(err)}`;
  }
  const sessionMs = performance.now() - t0;
  const [inputName] = session.inputNames;
  const out: Array<{ size: number; firstMs: number; steadyMs: number }> = [];
  try {
    for (const size of sizes) {
      const rng = new SeededRandom(size);
      const feed = { [inputName!]: new ort.Tensor('float32', Float32Array.from({ length: size * 3 * 224 * 224 }, () => rng.next() * 2 - 1), [size, 3, 224, 224]) };
      const time = async (): Promise<number> => { const t = performance.now(); await session.run(feed); return performance.now() - t; };
      const firstMs = await time();
      const steady: number[] = [];
      for (let i = 0; i < reps; i++) steady.push(await time());
      out.push({ size, firstMs, steadyMs: median(steady) });
      process.stderr.write(`  ${model} ${provider} ${layout} batch ${size}: first ${firstMs.toFixed(0)} ms, steady ${median(steady).toFixed(0)} ms\n`);
    }
  } finally {
    await session.release();
  }
  return { model, provider, layout, sessionMs, sizes: out };
}

async function main(): Promise<void> {
  console.log(`# bench:webgpu: onnxruntime-node ${require('onnxruntime-node/package.json').version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`# Vulkan: ${vulkanDrivers()}`);
  console.log(`# sizes ${sizes.join(',')}, ${reps} steady reps (median), intra-op threads ${threads || 'all'}`);
  console.log('| model | provider | layout | session ms | batch | first run ms | steady ms | steady ms/image | first − steady ms |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const model of list(values.models)) {
    const path = await modelPath(model);
    for (const provider of providers) {
      for (const layout of provider === 'webgpu' ? layouts : ['NCHW' as const]) {
        const row = await benchOne(model, path, provider, layout);
        if (typeof row === 'string') {
          console.log(`| ${model} | ${provider} | ${layout} | unavailable: ${row} | | | | | |`);
          continue;
        }
        for (const s of row.sizes) {
          console.log(`| ${model} | ${provider} | ${provider === 'webgpu' ? layout : '—'} | ${row.sessionMs.toFixed(0)} | ${s.size} | ${s.firstMs.toFixed(0)} | ${s.steadyMs.toFixed(0)} | ${(s.steadyMs / s.size).toFixed(1)} | ${(s.firstMs - s.steadyMs).toFixed(0)} |`);
        }
      }
    }
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
