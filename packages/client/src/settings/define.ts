/**
 * One declaration per setting: its environment variable, type, default, bounds and doc, in one
 * place. The config types, the loader, the README table and `.env.example` all derive from these
 * trees, so a setting cannot be documented, defaulted or parsed in two diverging ways, and a
 * misspelt field path is a type error (paths are the trees' keys).
 */

interface Common {
  /** The environment variable. */
  readonly env: string;
  /** One line for the README and `.env.example`. */
  readonly doc: string;
  /** Never printed: logs and error messages show `<redacted>`. */
  readonly secret?: boolean;
  /** A URL that may carry a password: printed with its credentials masked. */
  readonly urlWithCredentials?: boolean;
  /** A second variable naming a file whose content (one trailing newline dropped) is the value. */
  readonly fileEnv?: string;
}

export interface StringSetting extends Common {
  readonly kind: 'string';
  readonly default?: string;
  readonly pattern?: RegExp;
  /** What `pattern` means, for the error message. */
  readonly patternHint?: string;
  /** Must parse as an http(s) URL. */
  readonly url?: boolean;
}

export interface EnumSetting<V extends string = string> extends Common {
  readonly kind: 'enum';
  readonly values: readonly V[];
  readonly default: V;
}

export interface NumberSetting extends Common {
  readonly kind: 'int' | 'number';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
}

/** A number, or null when set to `off` (the default may be null). */
export interface NullableNumberSetting extends Common {
  readonly kind: 'nullable-number';
  readonly default?: number | null;
  readonly min?: number;
  readonly max?: number;
}

export interface BooleanSetting extends Common {
  readonly kind: 'boolean';
  readonly default: boolean;
}

/** Comma-separated in the environment. */
export interface ListSetting extends Common {
  readonly kind: 'list';
  readonly default: readonly string[];
}

export type Setting = StringSetting | EnumSetting | NumberSetting | NullableNumberSetting | BooleanSetting | ListSetting;

/** Sections of settings: `{ redis: { url: …, password: … }, … }`. */
export type SettingsTree = Readonly<Record<string, Readonly<Record<string, Setting>>>>;

/** The value type of one setting. */
export type ValueOf<S> =
  S extends EnumSetting<infer V> ? V
  : S extends StringSetting ? string
  : S extends NumberSetting ? number
  : S extends NullableNumberSetting ? number | null
  : S extends BooleanSetting ? boolean
  : S extends ListSetting ? readonly string[]
  : never;

type HasDefault<S> = S extends { readonly default: unknown } ? true : false;

/** A loaded config: every setting with a default is present, the others may be undefined. */
export type ConfigOf<T extends SettingsTree> = {
  readonly [Sec in keyof T]: {
    readonly [F in keyof T[Sec]]: HasDefault<T[Sec][F]> extends true ? ValueOf<T[Sec][F]> : ValueOf<T[Sec][F]> | undefined;
  };
};

/** What callers may pass: any section and field may be left out. */
export type ConfigInputOf<T extends SettingsTree> = {
  readonly [Sec in keyof T]?: { readonly [F in keyof T[Sec]]?: ValueOf<T[Sec][F]> | undefined };
};

/** Identity, typed: keeps the literal types of a settings tree. */
export function defineSettings<const T extends SettingsTree>(tree: T): T {
  return tree;
}

/** Every setting of a tree with its path, in declaration order. */
export function listSettings(tree: SettingsTree): Array<{ readonly path: readonly [string, string]; readonly setting: Setting }> {
  const out: Array<{ path: readonly [string, string]; setting: Setting }> = [];
  for (const [section, fields] of Object.entries(tree)) {
    for (const [field, setting] of Object.entries(fields)) out.push({ path: [section, field], setting });
  }
  return out;
}
