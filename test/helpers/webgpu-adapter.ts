import { spawnSync } from 'node:child_process';
import { providerErrorReason } from '../../src/model/execution-providers';
import { channelMeanModel } from './tiny-models';

let cached: { problem: string | undefined } | undefined;

/**
 * Why onnxruntime's WebGPU provider cannot run here (no Vulkan driver, or one Dawn refuses, such as
 * bookworm's Mesa 22.3), or undefined when it can. Tried once per test process, in a child process,
 * on a tiny model: Dawn's stderr stays out of the test output, and a driver crash cannot take the
 * test process with it.
 */
export function webgpuAdapterProblem(): string | undefined {
  if (cached) return cached.problem;
  const script = `
    const ort = require('onnxruntime-node');
    const model = Buffer.from(process.argv[1], 'base64');
    ort.InferenceSession.create(model, { executionProviders: ['webgpu'] })
      .then(async (s) => { await s.run({ pixels: new ort.Tensor('float32', new Float32Array(3 * 4 * 4), [1, 3, 4, 4]) }); await s.release(); })
      .then(() => process.exit(0), (e) => { process.stdout.write(String(e.message)); process.exit(1); });`;
  const out = spawnSync(process.execPath, ['-e', script, channelMeanModel(1, 4, 2).toString('base64')], { encoding: 'utf8', timeout: 60_000 });
  let problem: string | undefined;
  if (out.status !== 0) {
    const reason = (out.stdout.trim() || out.stderr.trim() || `exit ${out.status ?? out.signal}`).split('\n').pop()!;
    problem = `no WebGPU adapter (${providerErrorReason(reason)}); install Mesa ≥ 25 (bookworm-backports mesa-vulkan-drivers, as .ci/run does) or a GPU driver's Vulkan ICD`;
  }
  cached = { problem };
  return problem;
}
