/**
 * The decode floor: what sharp alone costs per image, on one thread, for each size class and each
 * decode path the preprocessing modes use:
 * - shrink-on-load plus a linear resize to 256 (`resize(256, 256, { fit: 'outside', kernel: 'linear' })`),
 *   the path for large photos;
 * - a full decode (`raw()` of the whole image), the path parity needs for mid-size photos.
 * Method: `sharp.concurrency(1)`, one image at a time, process CPU per image over at least
 * `minSeconds` per class and path (sharp's own default concurrency is restored after).
 */
import sharp from 'sharp';
import { cycled, type BenchImage, type SizeClass } from './images';
import { processCpuMs } from './measure';

export type DecodePath = 'shrink-on-load + linear 256' | 'full decode';

export interface FloorResult {
  readonly sizeClass: SizeClass;
  readonly path: DecodePath;
  readonly images: number;
  readonly cpuMsPerImage: number;
  readonly wallMsPerImage: number;
}

const PATHS: ReadonlyArray<readonly [DecodePath, (bytes: Buffer) => Promise<Buffer>]> = [
  ['shrink-on-load + linear 256', (b) => sharp(b).resize(256, 256, { fit: 'outside', kernel: 'linear' }).raw().toBuffer()],
  ['full decode', (b) => sharp(b).raw().toBuffer()],
];

export async function benchDecodeFloor(images: readonly BenchImage[], classes: readonly SizeClass[], minSeconds = 2): Promise<FloorResult[]> {
  const before = sharp.concurrency();
  sharp.concurrency(1);
  try {
    const out: FloorResult[] = [];
    for (const sizeClass of classes) {
      const set = images.filter((i) => i.sizeClass === sizeClass);
      if (set.length === 0) continue;
      for (const [path, run] of PATHS) {
        for (const img of set) await run(img.bytes); // warm-up
        let n = 0;
        const cpu0 = processCpuMs();
        const t0 = performance.now();
        while (n < set.length || performance.now() - t0 < minSeconds * 1000) await run(cycled(set, n++).bytes);
        out.push({ sizeClass, path, images: n, cpuMsPerImage: (processCpuMs() - cpu0) / n, wallMsPerImage: (performance.now() - t0) / n });
      }
    }
    return out;
  } finally {
    sharp.concurrency(before);
  }
}
