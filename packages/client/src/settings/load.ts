import { readFileSync } from 'node:fs';
import { RevmodError } from '../errors';
import { listSettings, type ConfigInputOf, type ConfigOf, type Setting, type SettingsTree } from './define';

type Env = Readonly<Record<string, string | undefined>>;
type Loose = Record<string, Record<string, unknown>>;

const REDACTED = '<redacted>';

/**
 * URL credentials masked: everything between `://` and the last `@`, so that passwords holding `@`
 * or `/` are masked whole.
 */
export function maskUrlCredentials(url: string): string {
  const start = url.indexOf('://');
  const at = url.lastIndexOf('@');
  return start >= 0 && at > start ? `${url.slice(0, start + 3)}${REDACTED}${url.slice(at)}` : url;
}

function shown(setting: Setting, value: unknown): string {
  if (setting.secret) return JSON.stringify(REDACTED);
  if (setting.urlWithCredentials && typeof value === 'string') return JSON.stringify(maskUrlCredentials(value));
  return JSON.stringify(value);
}

/** Parses one environment value by the setting's kind; the error names the variable. */
function parseEnvValue(setting: Setting, name: string, raw: string): unknown {
  const bad = (what: string): never => {
    throw new RevmodError('CONFIG_INVALID', `${name} must be ${what}, received ${shown(setting, raw)}`);
  };
  const trimmed = raw.trim();
  switch (setting.kind) {
    case 'string':
    case 'enum':
      return raw;
    case 'int':
      return /^-?\d+$/.test(trimmed) ? Number(trimmed) : bad('an integer');
    case 'number':
      return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : bad('a number');
    case 'nullable-number':
      if (['off', 'none', 'null', ''].includes(trimmed.toLowerCase())) return null;
      return Number.isFinite(Number(trimmed)) ? Number(trimmed) : bad('a number or "off"');
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(trimmed)) return true;
      if (/^(0|false|no|off)$/i.test(trimmed)) return false;
      return bad('true or false');
    case 'list':
      return trimmed === '' ? [] : trimmed.split(',').map((s) => s.trim()).filter(Boolean);
  }
}

/** The one secret-file reader (Docker/Kubernetes secrets): content with one trailing newline dropped. */
export function readSecretFile(variable: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new RevmodError('CONFIG_INVALID', `${variable}: cannot read ${JSON.stringify(path)} (${reason})`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new RevmodError('CONFIG_INVALID', `${variable}: ${JSON.stringify(path)} is empty`);
  return value;
}

/** The settings of `tree` that are set in `env`, as a nested config input. */
export function configInputFromEnv<T extends SettingsTree>(tree: T, env: Env = process.env): ConfigInputOf<T> {
  const out: Loose = {};
  for (const { path: [section, field], setting } of listSettings(tree)) {
    const raw = env[setting.env];
    const file = setting.fileEnv !== undefined ? env[setting.fileEnv] : undefined;
    if (raw !== undefined && file !== undefined) {
      throw new RevmodError('CONFIG_INVALID', `${setting.env} and ${setting.fileEnv} both set ${section}.${field}: set only one`);
    }
    if (raw !== undefined) (out[section] ??= {})[field] = parseEnvValue(setting, setting.env, raw);
    else if (file !== undefined) (out[section] ??= {})[field] = parseEnvValue(setting, setting.fileEnv!, readSecretFile(setting.fileEnv!, file));
  }
  return out as ConfigInputOf<T>;
}

/** Why `value` does not fit `setting`, or undefined when it does. */
function problemWith(setting: Setting, value: unknown): string | undefined {
  switch (setting.kind) {
    case 'string': {
      if (typeof value !== 'string' || value === '') return 'must be a non-empty string';
      if (setting.pattern && !setting.pattern.test(value)) return `must ${setting.patternHint ?? `match ${String(setting.pattern)}`}`;
      if (setting.url) {
        try {
          const u = new URL(value);
          if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http(s) URL';
        } catch {
          return 'must be a URL';
        }
      }
      return undefined;
    }
    case 'enum':
      return typeof value === 'string' && (setting.values as readonly string[]).includes(value)
        ? undefined : `must be one of ${setting.values.map((v) => `"${v}"`).join(', ')}`;
    case 'int':
    case 'number':
    case 'nullable-number': {
      if (value === null && setting.kind === 'nullable-number') return undefined;
      if (typeof value !== 'number' || !Number.isFinite(value)) return setting.kind === 'nullable-number' ? 'must be a number or null (off)' : 'must be a number';
      if (setting.kind === 'int' && !Number.isInteger(value)) return 'must be an integer';
      if (setting.min !== undefined && value < setting.min) return `must be ≥ ${setting.min}`;
      if (setting.max !== undefined && value > setting.max) return `must be ≤ ${setting.max}`;
      return undefined;
    }
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'list':
      return Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== '') ? undefined : 'must be a list of non-empty strings';
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** `over` wins over `base`, field by field within each section. */
export function mergeConfigInputs<T extends SettingsTree>(base: ConfigInputOf<T>, over: ConfigInputOf<T>): ConfigInputOf<T> {
  const merged: Record<string, unknown> = { ...base };
  for (const [k, val] of Object.entries(over)) {
    const prev = merged[k];
    merged[k] = isObject(prev) && isObject(val) ? { ...prev, ...val } : val;
  }
  return merged as ConfigInputOf<T>;
}

export interface ValidateOptions {
  /**
   * Skip sections the tree does not declare (fields of declared sections are still checked), so a
   * superset such as a worker's whole config can be handed to the SDK. @defaultValue false
   */
  readonly ignoreUnknownSections?: boolean;
}

/**
 * Validates `input` against `tree` and fills defaults. Unknown sections and fields are refused, so a
 * misspelt override cannot silently fall back to a default. Throws CONFIG_INVALID listing every
 * problem, each naming the field, its environment variable and what was received.
 */
export function validateConfig<T extends SettingsTree>(tree: T, input: ConfigInputOf<T>, options: ValidateOptions = {}): ConfigOf<T> {
  const problems: string[] = [];
  const given = input as Record<string, unknown>;
  for (const [section, value] of Object.entries(given)) {
    if (!(section in tree)) {
      if (!options.ignoreUnknownSections) problems.push(`${section}: unknown section (known: ${Object.keys(tree).join(', ')})`);
    }
    else if (value !== undefined && !isObject(value)) problems.push(`${section}: must be an object, received ${JSON.stringify(value)}`);
    else {
      for (const field of Object.keys(value ?? {})) {
        if (!(field in tree[section]!)) problems.push(`${section}.${field}: unknown setting (known: ${Object.keys(tree[section]!).join(', ')})`);
      }
    }
  }
  const out: Loose = {};
  for (const { path: [section, field], setting } of listSettings(tree)) {
    const sectionValue = given[section];
    const raw = isObject(sectionValue) ? sectionValue[field] : undefined;
    const value = raw === undefined ? setting.default : raw;
    (out[section] ??= {})[field] = Array.isArray(value) ? [...(value as unknown[])] : value;
    if (value === undefined) continue;
    const problem = problemWith(setting, value);
    if (problem !== undefined) problems.push(`${section}.${field} (${setting.env}): ${problem}, received ${shown(setting, value)}`);
  }
  if (problems.length > 0) throw new RevmodError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`);
  return out as ConfigOf<T>;
}

/** `overrides` win over the environment; see validateConfig. */
export function loadSettings<T extends SettingsTree>(tree: T, overrides: ConfigInputOf<T> = {}, env: Env = process.env, options: ValidateOptions = {}): ConfigOf<T> {
  return validateConfig(tree, mergeConfigInputs(configInputFromEnv(tree, env), overrides), options);
}

/** How a value is written in the environment (lists comma-separated, null as `off`). */
export function envValueOf(value: unknown): string {
  if (value === null) return 'off';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

/** The environment variables that express `input` (for a child process), set fields only. */
export function configToEnv<T extends SettingsTree>(tree: T, input: ConfigInputOf<T>): Record<string, string> {
  const env: Record<string, string> = {};
  const given = input as Record<string, unknown>;
  for (const { path: [section, field], setting } of listSettings(tree)) {
    const sectionValue = given[section];
    const value = isObject(sectionValue) ? sectionValue[field] : undefined;
    if (value !== undefined) env[setting.env] = envValueOf(value);
  }
  return env;
}
