import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

let cached: string | undefined;

/**
 * The browser script. In a build (dist/) tsc has compiled console-client.ts next to this file; in a
 * checkout run from sources, it is transpiled once with the TypeScript compiler (a dev dependency).
 */
export function consoleScript(): string {
  if (cached !== undefined) return cached;
  const compiled = join(__dirname, 'console-client.js');
  if (existsSync(compiled)) {
    cached = readFileSync(compiled, 'utf8');
    return cached;
  }
  const source = readFileSync(join(__dirname, 'console-client.ts'), 'utf8');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  cached = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.None, removeComments: false } }).outputText;
  return cached;
}
