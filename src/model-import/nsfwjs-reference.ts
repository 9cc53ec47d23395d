/**
 * nsfwjs itself, run on @tensorflow/tfjs' pure-JS CPU backend: the reference a conversion is checked
 * against. Both are development dependencies, loaded only when a check runs; about 1–2 s per image.
 */
import { RevmodError } from '@revmod/client';
import { NSFWJS_CLASSES, NSFWJS_VARIANT_INFO, type NsfwjsVariant } from './nsfwjs';

const IMAGE_SIZE = 224;
const RGB_BYTES = IMAGE_SIZE * IMAGE_SIZE * 3;

/** The slice of @tensorflow/tfjs used here (it is a devDependency, so its types are not imported). */
interface TfTensor {
  data(): Promise<Float32Array | Int32Array | Uint8Array>;
  dispose(): void;
}
interface Tfjs {
  readonly version: { readonly tfjs?: string };
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  enableProdMode(): void;
  tensor3d(values: Int32Array, shape: [number, number, number], dtype: 'int32'): TfTensor;
}
interface NsfwjsInstance {
  infer(img: TfTensor): TfTensor;
  dispose(): void;
}
interface NsfwjsModule {
  load(name: string, options?: { readonly size?: number }): Promise<NsfwjsInstance>;
}

function requireDevDependency<T>(name: string): T {
  try {
    return require(name) as T;
  } catch (err) {
    throw new RevmodError('MODEL_IMPORT_UNAVAILABLE', `${name} is a development dependency: install it to check an nsfwjs import (npm ci without --omit=dev)`, { cause: err });
  }
}

export interface NsfwjsReference {
  readonly variant: NsfwjsVariant;
  /** e.g. `nsfwjs@4.4.0 on @tensorflow/tfjs@4.22.0 (cpu backend)`. */
  readonly description: string;
  /**
   * nsfwjs' class probabilities for one 224×224 RGB image (HWC bytes), in NSFWJS_CLASSES order. At
   * 224×224 nsfwjs does not resize, so the model sees exactly these pixels divided by 255.
   */
  probabilities(rgb: Uint8Array): Promise<Float32Array>;
  dispose(): void;
}

/**
 * Loads a variant into nsfwjs (it reads the same package files the converter reads).
 * @throws RevmodError MODEL_IMPORT_UNAVAILABLE when nsfwjs or @tensorflow/tfjs is not installed.
 */
export async function loadNsfwjsReference(variant: NsfwjsVariant, nsfwjsVersion: string): Promise<NsfwjsReference> {
  const tf = requireDevDependency<Tfjs>('@tensorflow/tfjs');
  const nsfwjs = requireDevDependency<NsfwjsModule>('nsfwjs');
  // The pure-JS backend: deterministic float32, and the only one that runs under plain Node.
  await tf.setBackend('cpu');
  await tf.ready();
  if (tf.getBackend() !== 'cpu') throw new Error(`@tensorflow/tfjs runs on ${tf.getBackend()}, not cpu`);
  tf.enableProdMode();
  // nsfwjs.load announces the model it picked on console.info; that line is noise here.
  const info = console.info;
  console.info = () => undefined;
  let model: NsfwjsInstance;
  try {
    model = await nsfwjs.load(NSFWJS_VARIANT_INFO[variant].nsfwjsName, { size: IMAGE_SIZE });
  } finally {
    console.info = info;
  }
  return {
    variant,
    description: `nsfwjs@${nsfwjsVersion} on @tensorflow/tfjs@${tf.version.tfjs ?? '?'} (cpu backend)`,
    async probabilities(rgb: Uint8Array): Promise<Float32Array> {
      if (rgb.length !== RGB_BYTES) throw new RangeError(`probabilities: expected ${RGB_BYTES} bytes of 224×224 RGB, got ${rgb.length}`);
      const x = tf.tensor3d(Int32Array.from(rgb), [IMAGE_SIZE, IMAGE_SIZE, 3], 'int32');
      try {
        const y = model.infer(x);
        try {
          const p = Float32Array.from(await y.data());
          if (p.length !== NSFWJS_CLASSES.length) throw new Error(`nsfwjs returned ${p.length} values, expected ${NSFWJS_CLASSES.length}`);
          return p;
        } finally {
          y.dispose();
        }
      } finally {
        x.dispose();
      }
    },
    dispose(): void {
      model.dispose();
    },
  };
}
