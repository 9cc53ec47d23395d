
import { readFileSync } from 'node:fs';
import { RevmodError } from '../errors';
import { configSchema, type RevmodConfig, type RevmodConfigInput } from './config-schema';
import { ENV_VARS, type EnvVarSpec } from './env-vars';

type Env = Readonly<Record<string, string | undefined>>;

function parseEnvValue(spec: EnvVarSpec, raw: string): unknown {
  const bad = (what: string): never => {
    const shown = spec.kind === 'secret' ? '<redacted>' : JSON.stringify(raw);
    throw new RevmodError('CONFIG_INVALID', `${spec.name} must be ${what}, received ${shown}`);
  };
  const trimmed = raw.trim();
  switch (spec.kind) {
    case 'string':
    case 'secret':
      return raw;
    case 'secret-file':
      return readSecretFile(spec, raw);
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

/** A secret from a file (Docker/Kubernetes secrets): its content with one trailing newline dropped. */
function readSecretFile(spec: EnvVarSpec, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new RevmodError('CONFIG_INVALID', `${spec.name}: cannot read ${JSON.stringify(path)} (${reason})`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new RevmodError('CONFIG_INVALID', `${spec.name}: ${JSON.stringify(path)} is empty`);
  return value;
}

/** Reads the variables of ENV_VARS that are set into a nested config input. */
export function configInputFromEnv(env: Env = process.env): RevmodConfigInput {
  const out: Record<string, Record<string, unknown>> = {};
  const setBy = new Map<string, string>();
  for (const spec of ENV_VARS) {
    const raw = env[spec.name];
    if (raw === undefined) continue;
    const [section, field] = spec.path;
    const other = setBy.get(`${section}.${field}`);
    if (other !== undefined) {
      throw new RevmodError('CONFIG_INVALID', `${other} and ${spec.name} both set ${section}.${field}: set only one`);
    }
    setBy.set(`${section}.${field}`, spec.name);
    (out[section] ??= {})[field] = parseEnvValue(spec, raw);
  }
  return out as RevmodConfigInput;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function mergeSections(base: RevmodConfigInput, over: RevmodConfigInput): RevmodConfigInput {
  const merged: Record<string, unknown> = { ...base };
  for (const [k, val] of Object.entries(over)) {
    const prev = merged[k];
    merged[k] = isObject(prev) && isObject(val) ? { ...prev, ...val } : val;
  }
  return merged as RevmodConfigInput;
}

function envNameFor(path: readonly PropertyKey[]): string | undefined {
  return ENV_VARS.find((s) => s.path[0] === path[0] && s.path[1] === path[1])?.name;
}

/**
 * Validates a config, filling defaults. `overrides` win over the environment. Throws CONFIG_INVALID
 * naming the field (and its environment variable) and what was received.
 */
export function loadConfig(overrides: RevmodConfigInput = {}, env: Env = process.env): RevmodConfig {
  const input = mergeSections(configInputFromEnv(env), overrides);
  const parsed = configSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const field = issue.path.join('.');
    const envName = envNameFor(issue.path);
    let received: unknown = issue.path.reduce<unknown>((o, k) => (isObject(o) ? o[k as string] : undefined), input);
    if (/password|secret/i.test(field)) received = '<redacted>';
    return `${field}${envName ? ` (${envName})` : ''}: ${issue.message}, received ${JSON.stringify(received)}`;
  });
  throw new RevmodError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`);
}

