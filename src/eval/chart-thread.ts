/**
 * Renders Vega-Lite specs to static SVG strings in a worker thread. vega and vega-lite are
 * ESM-only with top-level await, so they are loaded with a native import() here, outside any
 * CommonJS require (and outside jest's module registry).
 */
import { pathToFileURL } from 'node:url';
import { parentPort } from 'node:worker_threads';

// A Function keeps the compiler from turning import() into require().
const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<any>;

async function render(specs: readonly unknown[]): Promise<string[]> {
  const vega = await nativeImport(pathToFileURL(require.resolve('vega')).href);
  const vl = await nativeImport(pathToFileURL(require.resolve('vega-lite')).href);
  const out: string[] = [];
  for (const spec of specs) {
    const compiled = vl.compile(spec).spec;
    // renderer 'none': no canvas; loader that refuses every URL, so a spec can never fetch.
    const loader = vega.loader();
    loader.load = () => Promise.reject(new Error('charts render from inline data only'));
    const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader });
    out.push(await view.toSVG());
    view.finalize();
  }
  return out;
}

parentPort!.on('message', (specs: readonly unknown[]) => {
  render(specs).then(
    (svgs) => parentPort!.postMessage({ ok: true, svgs }),
    (err: Error) => parentPort!.postMessage({ ok: false, message: err.message }),
  );
});
