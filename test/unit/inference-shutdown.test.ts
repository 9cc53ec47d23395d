import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { defaultModelPath } from '../../tools/model-gen/ensure-model';

const ROOT = resolve(__dirname, '../..');

/**
 * Closing the engine (drain deadline, second signal) while a batch is inside onnxruntime's run()
 * must not abort the process: tearing the thread down mid-run makes the binding throw a C++
 * exception (SIGABRT, exit 134). close() waits for the batch first. Runs in a child process, so that
 * an abort cannot take the test runner down with it.
 */
describe('InferenceEngine.close() with a batch in flight', () => {
  function closeDuringRun(settleTimeoutMs: number): { status: number | null; signal: string | null; out: string } {
    const script = `
      const { InferenceEngine } = require('./src/model/inference-engine.ts');
      (async () => {
        const engine = new InferenceEngine({ modelPath: ${JSON.stringify(defaultModelPath('resnet18'))}, executionProvider: 'cpu', intraOpThreads: 1, maxBatchSize: 16,
          contract: { inputName: 'input', outputName: 'logits', cropSize: 224, classCount: 2 } });
        await engine.start();
        const images = Array.from({ length: 16 }, () => new Float32Array(3 * 224 * 224));
        const run = engine.run(images).then((r) => 'resolved ' + r.logits.length, (e) => 'rejected ' + e.code);
        await new Promise((r) => setTimeout(r, 50)); // the thread is inside run() now (~0.4 s on one thread)
        await engine.close(${settleTimeoutMs});
        console.log('run ' + (await run) + '; closed');
        process.exit(0);
      })();`;
    const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
  }

  it('waits for the batch, then stops the thread; the process exits normally', () => {
    const r = closeDuringRun(10_000);
    expect(r).toEqual({ status: 0, signal: null, out: 'run resolved 32; closed\n' });
  });
});
