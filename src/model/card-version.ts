import { constants } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RevmodError } from '@revmod/client';
import { cardPathFor, parseModelCard, type ModelCard } from './model-card';

export interface CardVersionChange {
  /** The model whose card is the previous version (its card beside it). */
  readonly modelPath: string;
  readonly version: string;
  /** Threshold fields to replace. */
  readonly thresholds: Readonly<Record<string, unknown>>;
  /** Added under the card's metadata (e.g. `calibration`). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Folder for the new version's model.onnx and model.card.json; must not hold them yet. */
  readonly outDir: string;
}

/**
 * Writes a new version of a model's card beside a copy of the model, never over an existing one:
 * the previous card stays as it was, and the new one records which version it came from.
 * @throws RevmodError CONFIG_INVALID when the version is unchanged or the files exist; MODEL_INVALID
 * when the new card does not validate (e.g. a block threshold below the new review threshold).
 */
export async function writeCardVersion(c: CardVersionChange): Promise<{ modelPath: string; cardPath: string; card: ModelCard }> {
  const previousPath = cardPathFor(c.modelPath);
  const raw = JSON.parse(await readFile(previousPath, 'utf8')) as Record<string, any>;
  if (raw.version === c.version) throw new RevmodError('CONFIG_INVALID', `--version ${c.version} is the card's current version: a new card version needs a new version string`);
  const next = {
    ...raw,
    version: c.version,
    thresholds: { ...(raw.thresholds ?? {}), ...c.thresholds },
    metadata: { ...(raw.metadata ?? {}), ...c.metadata, previousVersion: { version: raw.version, card: previousPath } },
  };
  const card = parseModelCard(next, `new version ${c.version} of ${previousPath}`);
  await mkdir(c.outDir, { recursive: true });
  const modelPath = join(c.outDir, 'model.onnx');
  const cardPath = cardPathFor(modelPath);
  try {
    await writeFile(cardPath, `${JSON.stringify(next, null, 2)}\n`, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new RevmodError('CONFIG_INVALID', `${cardPath} exists: a card version is never overwritten; choose another --out`);
    throw err;
  }
  await copyFile(c.modelPath, modelPath, constants.COPYFILE_EXCL);
  return { modelPath, cardPath, card };
}
