import { attr, BATCH_DIM, OnnxGraphBuilder } from '../../src/onnx/graph-builder';
import { SeededRandom } from '../dev/seeded-random';

export interface ResNet18Options {
  /** PRNG seed for the weights; the same seed always gives byte-identical files. */
  readonly seed: number;
  /** Output classes (fc width). Default 2: [normal, violate]. */
  readonly numClasses?: number;
}

const DEFAULT_NUM_CLASSES = 2;
const IN_CHANNELS = 3;
const IMAGE_SIZE = 224;
const FC_IN = 512;
/** torch.nn.BatchNorm2d's default epsilon. */
const BN_EPSILON = 1e-5;

/** One BasicBlock: two 3×3 convs (the first carries the stride) and an optional 1×1 downsample. */
interface BasicBlockSpec {
  readonly prefix: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly stride: number;
}

/** torchvision's resnet18: layers 1–4 of two BasicBlocks each, widths 64/128/256/512. */
function resnet18Blocks(): BasicBlockSpec[] {
  const widths = [64, 128, 256, 512] as const;
  const blocks: BasicBlockSpec[] = [];
  let inChannels = 64;
  widths.forEach((width, layer) => {
    for (let b = 0; b < 2; b++) {
      const stride = layer > 0 && b === 0 ? 2 : 1;
      blocks.push({ prefix: `layer${layer + 1}.${b}`, inChannels, outChannels: width, stride });
      inChannels = width;
    }
  });
  return blocks;
}

function hasDownsample(block: BasicBlockSpec): boolean {
  return block.stride !== 1 || block.inChannels !== block.outChannels;
}

/**
 * Trainable parameters of torchvision's resnet18 (conv weights, BatchNorm weight and bias, fc weight
 * and bias; BN running statistics are buffers, not parameters): 11,177,538 for 2 classes.
 * @param numClasses default 2.
 */
export function resnet18ParamCount(numClasses = DEFAULT_NUM_CLASSES): number {
  let count = IN_CHANNELS * 64 * 7 * 7 + 2 * 64; // conv1 + bn1
  for (const b of resnet18Blocks()) {
    count += b.inChannels * b.outChannels * 9 + 2 * b.outChannels;
    count += b.outChannels * b.outChannels * 9 + 2 * b.outChannels;
    if (hasDownsample(b)) count += b.inChannels * b.outChannels + 2 * b.outChannels;
  }
  return count + FC_IN * numClasses + numClasses;
}

/** Adds tensors and nodes in state_dict order, so names match a PyTorch checkpoint's keys. */
class ResNet18Writer {
  constructor(
    private readonly g: OnnxGraphBuilder,
    private readonly rng: SeededRandom,
  ) {}

  /** Conv without bias, Kaiming-normal (mode fan_out, relu) as torchvision initializes it. */
  conv(name: string, x: string, cin: number, cout: number, kernel: number, stride: number, pad: number): string {
    const std = Math.sqrt(2 / (cout * kernel * kernel));
    const w = this.g.addInitializer(`${name}.weight`, [cout, cin, kernel, kernel], this.rng.normalArray(cout * cin * kernel * kernel, std));
    return this.g.addNode('Conv', [x, w], [`${name}.out`], {
      kernel_shape: attr.ints([kernel, kernel]),
      strides: attr.ints([stride, stride]),
      pads: attr.ints([pad, pad, pad, pad]),
      dilations: attr.ints([1, 1]),
      group: attr.int(1),
    }, name);
  }

  /** Inference-mode BatchNorm: weight 1, bias 0, running mean 0, running var 1 (torchvision's init). */
  bn(name: string, x: string, channels: number): string {
    const ones = new Float32Array(channels).fill(1);
    const inputs = [
      this.g.addInitializer(`${name}.weight`, [channels], ones),
      this.g.addInitializer(`${name}.bias`, [channels], new Float32Array(channels)),
      this.g.addInitializer(`${name}.running_mean`, [channels], new Float32Array(channels)),
      this.g.addInitializer(`${name}.running_var`, [channels], ones),
    ];
    return this.g.addNode('BatchNormalization', [x, ...inputs], [`${name}.out`], { epsilon: attr.float(BN_EPSILON) }, name);
  }

  relu(name: string, x: string): string {
    return this.g.addNode('Relu', [x], [`${name}.relu`], {}, `${name}.relu`);
  }

  basicBlock(b: BasicBlockSpec, x: string): string {
    const { prefix: p, inChannels: cin, outChannels: cout, stride } = b;
    let y = this.relu(`${p}.bn1`, this.bn(`${p}.bn1`, this.conv(`${p}.conv1`, x, cin, cout, 3, stride, 1), cout));
    y = this.bn(`${p}.bn2`, this.conv(`${p}.conv2`, y, cout, cout, 3, 1, 1), cout);
    const identity = hasDownsample(b)
      ? this.bn(`${p}.downsample.1`, this.conv(`${p}.downsample.0`, x, cin, cout, 1, stride, 0), cout)
      : x;
    const sum = this.g.addNode('Add', [y, identity], [`${p}.add`], {}, `${p}.add`);
    return this.relu(p, sum);
  }
}

/**
 * Builds torchvision's resnet18 as ONNX (opset 17): conv1 7×7/2 → BN → ReLU → MaxPool 3×3/2 →
 * layer1..layer4 (BasicBlocks) → GlobalAveragePool → Flatten → Gemm. Input `input` float32
 * [N,3,224,224], output `logits` [N,numClasses]. Weights are seeded random (untrained): the scores
 * it gives are close to constant whatever the image.
 * @param options.numClasses default 2.
 * @returns the serialized model (about 45 MB).
 */
export function buildResNet18Onnx(options: ResNet18Options): Buffer {
  const numClasses = options.numClasses ?? DEFAULT_NUM_CLASSES;
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`numClasses must be a positive integer, got ${numClasses}`);
  const g = new OnnxGraphBuilder('resnet18');
  const rng = new SeededRandom(options.seed);
  const w = new ResNet18Writer(g, rng);

  let x = g.addInput('input', [BATCH_DIM, IN_CHANNELS, IMAGE_SIZE, IMAGE_SIZE]);
  x = w.relu('bn1', w.bn('bn1', w.conv('conv1', x, IN_CHANNELS, 64, 7, 2, 3), 64));
  x = g.addNode('MaxPool', [x], ['maxpool.out'], {
    kernel_shape: attr.ints([3, 3]),
    strides: attr.ints([2, 2]),
    pads: attr.ints([1, 1, 1, 1]),
  }, 'maxpool');
  for (const block of resnet18Blocks()) x = w.basicBlock(block, x);
  x = g.addNode('GlobalAveragePool', [x], ['avgpool.out'], {}, 'avgpool');
  x = g.addNode('Flatten', [x], ['flatten.out'], { axis: attr.int(1) }, 'flatten');

  // nn.Linear's default init: kaiming_uniform(a=√5) for the weight, i.e. U(±1/√fan_in), same for bias.
  const bound = 1 / Math.sqrt(FC_IN);
  const fcW = g.addInitializer('fc.weight', [numClasses, FC_IN], rng.uniformArray(numClasses * FC_IN, bound));
  const fcB = g.addInitializer('fc.bias', [numClasses], rng.uniformArray(numClasses, bound));
  g.addNode('Gemm', [x, fcW, fcB], ['logits'], { alpha: attr.float(1), beta: attr.float(1), transB: attr.int(1) }, 'fc');
  g.addOutput('logits', [BATCH_DIM, numClasses]);

  return g.toBuffer({
    docString: `torchvision resnet18 topology, ${numClasses} classes, untrained seeded random weights (seed ${options.seed})`,
    metadata: { architecture: 'resnet18', seed: String(options.seed), trained: 'false' },
  });
}
