import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where a worker_threads entry lives: the compiled .js beside this module in production, or the
 * .ts source (loaded through tsx) when running from source under tsx or jest.
 */
export function threadEntry(dir: string, baseName: string): { file: string; execArgv: string[] } {
  const js = join(dir, `${baseName}.js`);
  if (existsSync(js)) return { file: js, execArgv: [] };
  return { file: join(dir, `${baseName}.ts`), execArgv: ['--require', 'tsx/cjs'] };
}
