import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TENSOR_FLOATS_PER_IMAGE } from '../../src/preprocess/constants';

/** One entry of a torchvision reference set (../shared/parity/MANIFEST.json). */
export interface ParityEntry {
  readonly image: string;
  readonly tensor_file: string;
  readonly exif_orientation: number | null;
  readonly source_mode: string;
  readonly stored_size_wh: [number, number];
}

/** EXIF orientations 2–8 move pixels; the reference ignores them, revmod stands the photo upright. */
export function isExifRotation(orientation: number | null): boolean {
  return orientation !== null && orientation >= 2 && orientation <= 8;
}

export function readParityManifest(parityDir: string): ParityEntry[] {
  return (JSON.parse(readFileSync(join(parityDir, 'MANIFEST.json'), 'utf8')) as { entries: ParityEntry[] }).entries;
}

/** The entry's reference tensor: float32 little-endian CHW, 3×224×224. */
export function readReferenceTensor(parityDir: string, entry: ParityEntry): Float32Array {
  const bytes = readFileSync(join(parityDir, entry.tensor_file));
  if (bytes.length !== TENSOR_FLOATS_PER_IMAGE * 4) {
    throw new Error(`${entry.tensor_file}: ${bytes.length} bytes, expected ${TENSOR_FLOATS_PER_IMAGE * 4}`);
  }
  const out = new Float32Array(TENSOR_FLOATS_PER_IMAGE);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/** Mean and max absolute difference of two tensors (normalized units: one 8-bit level ≈ 0.0174). */
export function tensorDiff(a: Float32Array, b: Float32Array): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}
