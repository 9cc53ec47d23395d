// Image pool thread entry: decode tasks (see decode-task.ts), results moved back, not copied.
import { move, transferableSymbol, valueSymbol } from 'piscina';
import sharp from 'sharp';
import { decode as decodeImageTask, hash as hashBytes, type DecodeOutcome, type DecodeTask } from './decode-task';

// Parallelism comes from the pool's threads; one libvips thread each keeps the cores' share fair.
sharp.concurrency(1);

export async function decode(task: DecodeTask): Promise<DecodeOutcome> {
  const out = await decodeImageTask(task);
  if (!out.ok) return out;
  const transfers = [...out.tensors.map((t) => t.buffer), ...(out.shadow?.tensors.map((t) => t.buffer) ?? []), ...(out.ocrView ? [out.ocrView.data.buffer] : [])];
  return move({
    get [transferableSymbol]() { return transfers; },
    get [valueSymbol]() { return out; },
  } as never) as unknown as DecodeOutcome;
}

export function hash(task: { readonly bytes: Uint8Array }): { sha256: string; bytes: Uint8Array } {
  const out = hashBytes(task);
  return move({
    get [transferableSymbol]() { return [out.bytes.buffer]; },
    get [valueSymbol]() { return out; },
  } as never) as unknown as { sha256: string; bytes: Uint8Array };
}
