import { RevmodError } from '@revmod/client';

/** A check on one option value: undefined when it is fine, else what is wrong with it. */
export type OptionCheck<V> = (value: V) => string | undefined;

/**
 * Merges caller options over a detector's defaults and validates every value; a bad value is a
 * CONFIG_INVALID error that names the option and the value received.
 */
export function resolveOptions<O extends object>(
  detector: string,
  defaults: Readonly<O>,
  overrides: Partial<O> | undefined,
  checks: { readonly [K in keyof O]?: OptionCheck<O[K]> },
): Readonly<O> {
  if (overrides === undefined) return defaults;
  const merged = { ...defaults, ...dropUndefined(overrides) } as O;
  for (const key of Object.keys(checks) as (keyof O & string)[]) {
    const check = checks[key];
    const problem = check?.(merged[key]);
    if (problem !== undefined) {
      throw new RevmodError('CONFIG_INVALID', `detectors.${detector}.${key} ${problem} (got ${describe(merged[key])})`);
    }
  }
  return Object.freeze(merged);
}

function dropUndefined<O extends object>(o: Partial<O>): Partial<O> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<O>;
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function numberIn(min: number, max: number): OptionCheck<number> {
  return (v) => (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? undefined : `must be a number in [${min}, ${max}]`);
}

export function integerIn(min: number, max: number): OptionCheck<number> {
  return (v) => (Number.isInteger(v) && v >= min && v <= max ? undefined : `must be an integer in [${min}, ${max}]`);
}

export function stringList(): OptionCheck<readonly string[]> {
  return (v) => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? undefined : 'must be an array of strings');
}

export function isBoolean(): OptionCheck<boolean> {
  return (v) => (typeof v === 'boolean' ? undefined : 'must be true or false');
}
