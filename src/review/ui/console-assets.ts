import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

let cached: string | undefined;

const CJS_MARKER = 'Object.defineProperty(exports, "__esModule", { value: true });\n';

/**
 * The browser script from tsc's output. tsc compiles every file of the project as a CommonJS
 * module and adds an `exports` marker, which a browser would fail on; the script exports nothing
 * else, which is checked here so that a change to it fails at start, not in reviewers' browsers.
 */
export function asBrowserScript(compiled: string): string {
  const script = compiled.replace(CJS_MARKER, '');
  if (/\bexports\b|\brequire\(/.test(script.replace(/\/\/.*$/gm, ''))) {
    throw new Error('console-client.js refers to exports or require: the browser script must stay a plain script without imports or exports');
  }
  return script;
}

/**
 * The browser script. In a build (dist/) tsc has compiled console-client.ts next to this file; in a
 * checkout run from sources, it is transpiled once with the TypeScript compiler (a dev dependency).
 */
export function consoleScript(): string {
  if (cached !== undefined) return cached;
  const compiled = join(__dirname, 'console-client.js');
  if (existsSync(compiled)) {
    cached = asBrowserScript(readFileSync(compiled, 'utf8'));
    return cached;
  }
  const source = readFileSync(join(__dirname, 'console-client.ts'), 'utf8');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  cached = asBrowserScript(ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.None, removeComments: false } }).outputText);
  return cached;
}
