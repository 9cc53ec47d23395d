import { ERROR_CODES } from '../errors';
import type { RevmodConfig } from './config-schema';
import { ENV_VARS } from './env-vars';
import { loadConfig } from './load-config';

function shown(value: unknown): string {
  if (value === undefined) return '—';
  if (Array.isArray(value)) return value.length > 0 ? value.join(',') : '(empty: all)';
  return String(value);
}

/** The README's configuration table, rendered from ENV_VARS and the defaults (so they cannot drift). */
export function renderEnvTable(): string {
  const defaults = loadConfig({}, {}) as unknown as Record<string, Record<string, unknown>> & RevmodConfig;
  const rows = ENV_VARS.map((s) => `| \`${s.name}\` | ${shown(defaults[s.path[0]]?.[s.path[1]]).replace(/\|/g, '\\|')} | ${s.help} |`);
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** The README's error-code table, rendered from the registry. */
export function renderErrorTable(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, v]) => `| \`${code}\` | ${v.retryable ? 'yes' : 'no'} | ${v.description} |`);
  return ['| code | retried | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->`. */
export function replaceBlock(doc: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`markers ${start} … ${end} not found`);
  return `${doc.slice(0, a + start.length)}\n${body}\n${doc.slice(b)}`;
}
