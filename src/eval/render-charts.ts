import { Worker } from 'node:worker_threads';
import { threadEntry } from '../util/thread-entry';

/**
 * Vega-Lite specs → static SVG strings (vega's own SVG renderer, in a worker thread that ends
 * afterwards). Data must be inline: the thread's loader refuses every URL.
 */
export async function renderSvgCharts(specs: readonly object[]): Promise<string[]> {
  const entry = threadEntry(__dirname, 'chart-thread');
  const worker = new Worker(entry.file, { execArgv: entry.execArgv });
  try {
    return await new Promise<string[]>((resolve, reject) => {
      worker.once('message', (m: { ok: true; svgs: string[] } | { ok: false; message: string }) => (m.ok ? resolve(m.svgs) : reject(new Error(`charts: ${m.message}`))));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`charts: the rendering thread exited (${code})`)));
      worker.postMessage(specs);
    });
  } finally {
    await worker.terminate();
  }
}
