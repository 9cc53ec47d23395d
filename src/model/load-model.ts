import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { RevmodError } from '@revmod/client';
import { cardPathFor, loadModelCard, type ModelCard } from './model-card';

export interface LoadedModel {
  readonly path: string;
  readonly card: ModelCard;
  readonly sha256: string;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Reads a model's card and hashes the file (the hash is stamped on every verdict). */
export async function loadModel(path: string): Promise<LoadedModel> {
  try {
    await access(path);
  } catch {
    throw new RevmodError('MODEL_INVALID',
      `model file ${path} does not exist: set REVMOD_MODEL_PATH to your model, or run \`npm run model\` to generate the untrained demo model`);
  }
  const card = await loadModelCard(cardPathFor(path));
  return { path, card, sha256: await sha256File(path) };
}
