import { RevmodError } from '@revmod/client';
import { MAX_CROP_SIZE } from './constants';
import type { DecodeOptions, InputGeometry, NormalizationSpec, PreprocessOptions } from './preprocess-options';

/**
 * The one set of rules for preprocessing options. `preprocessImage` and the normaliser throw
 * CONFIG_INVALID on them; the model card maps the same problems to its `preprocessing.*` fields.
 */
export interface OptionProblem {
  /** The option, e.g. ['resizeShortSide'] or ['std', 1]. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const show = (value: unknown): string => (typeof value === 'string' ? `'${value}'` : String(value));
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);

export function decodeOptionProblems(o: DecodeOptions): OptionProblem[] {
  const problems: OptionProblem[] = [];
  if (!isInt(o.maxPixels) || o.maxPixels < 1) {
    problems.push({ path: ['maxPixels'], message: `must be a positive integer, got ${show(o.maxPixels)}` });
  }
  if (typeof o.allowSvg !== 'boolean') problems.push({ path: ['allowSvg'], message: `must be true or false, got ${show(o.allowSvg)}` });
  if (o.mode !== 'torchvision' && o.mode !== 'fast') {
    problems.push({ path: ['mode'], message: `must be 'torchvision' or 'fast', got ${show(o.mode)}` });
  }
  return problems;
}

function cropSizeProblems(cropSize: number): OptionProblem[] {
  if (isInt(cropSize) && cropSize >= 1 && cropSize <= MAX_CROP_SIZE) return [];
  return [{ path: ['cropSize'], message: `must be an integer from 1 to ${MAX_CROP_SIZE}, got ${show(cropSize)}` }];
}

export function inputGeometryProblems(g: InputGeometry): OptionProblem[] {
  const problems: OptionProblem[] = [];
  if (g.resize !== 'crop' && g.resize !== 'squash') {
    problems.push({ path: ['resize'], message: `must be 'crop' or 'squash', got ${show(g.resize)}` });
  }
  const cropProblems = cropSizeProblems(g.cropSize);
  const cropOk = cropProblems.length === 0;
  problems.push(...cropProblems);
  if (g.resize === 'squash' && g.resizeShortSide !== undefined) {
    problems.push({ path: ['resizeShortSide'], message: `applies to resize 'crop' only; remove it with resize 'squash' (got ${show(g.resizeShortSide)})` });
  } else if (g.resizeShortSide !== undefined && (!isInt(g.resizeShortSide) || (cropOk && g.resizeShortSide < g.cropSize) || g.resizeShortSide < 1)) {
    problems.push({ path: ['resizeShortSide'], message: `must be an integer ≥ cropSize (${show(g.cropSize)}), got ${show(g.resizeShortSide)}` });
  }
  if (typeof g.autoOrient !== 'boolean') problems.push({ path: ['autoOrient'], message: `must be true or false, got ${show(g.autoOrient)}` });
  return problems;
}

export function normalizationProblems(n: NormalizationSpec): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const triple = (name: 'mean' | 'std', positive: boolean) => {
    const t = n[name] as readonly unknown[] | undefined;
    if (!Array.isArray(t) || t.length !== 3) {
      problems.push({ path: [name], message: `must be 3 numbers (R, G, B), got ${show(t)}` });
      return;
    }
    t.forEach((x, c) => {
      if (typeof x !== 'number' || !Number.isFinite(x) || (positive && !(x > 0))) {
        problems.push({ path: [name, c], message: `must be a finite number${positive ? ' > 0' : ''}, got ${show(x)}` });
      }
    });
  };
  triple('mean', false);
  triple('std', true);
  if (typeof n.scale !== 'number' || !Number.isFinite(n.scale) || !(n.scale > 0)) {
    problems.push({ path: ['scale'], message: `must be a finite number > 0, got ${show(n.scale)}` });
  }
  return problems;
}

function refuse(problems: readonly OptionProblem[]): void {
  if (problems.length === 0) return;
  const text = problems.map((p) => `${p.path.join('.')} ${p.message}`).join('; ');
  throw new RevmodError('CONFIG_INVALID', `preprocess options: ${text}`);
}

/** @throws RevmodError CONFIG_INVALID naming each offending option and the value received. */
export function validatePreprocessOptions(o: PreprocessOptions): void {
  refuse([...decodeOptionProblems(o), ...inputGeometryProblems(o)]);
}

/** @throws RevmodError CONFIG_INVALID naming each offending option and the value received. */
export function validateNormalization(n: NormalizationSpec, cropSize: number): void {
  refuse([...normalizationProblems(n), ...cropSizeProblems(cropSize)]);
}
