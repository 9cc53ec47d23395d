import { access } from 'node:fs/promises';
import { RevmodError } from '@revmod/client';
import { sha256File } from '../util/hash';
import { cardPathFor, loadModelCard, type ModelCard } from './model-card';

export interface LoadedModel {
  readonly path: string;
  readonly card: ModelCard;
  readonly sha256: string;
}

/** Reads a model's card and hashes the file (the hash is stamped on every verdict). */
export async function loadModel(path: string): Promise<LoadedModel> {
  try {
    await access(path);
  } catch {
    throw new RevmodError('MODEL_INVALID',
      `model file ${path} does not exist: set REVMOD_MODEL_PATH to your model, or run \`npx revmod model make\` to generate the untrained demo model`);
  }
  const card = await loadModelCard(cardPathFor(path));
  return { path, card, sha256: await sha256File(path) };
}
