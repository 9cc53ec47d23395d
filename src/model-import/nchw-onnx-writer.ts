import { attr, BATCH_DIM, OnnxGraphBuilder } from '../onnx/graph-builder';

/**
 * Emits TensorFlow-style (NHWC) layers as an NCHW ONNX graph: weights are transposed from tfjs'
 * layouts, TF padding rules are turned into explicit ONNX pads, batch norms are folded into the
 * convolution before them, and every value's shape is tracked so padding can be computed statically.
 */

/** A batch of feature maps, NCHW in the ONNX graph. */
export interface FeatureMap {
  readonly kind: 'map';
  readonly name: string;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** A batch of feature vectors, [N, features]. */
export interface FeatureVector {
  readonly kind: 'vector';
  readonly name: string;
  readonly features: number;
}

export type Value = FeatureMap | FeatureVector;

/** ReLU6 is what MobileNetV2 uses; it becomes ONNX Clip(0, 6). */
export type Activation = 'linear' | 'relu' | 'relu6';

/** Explicit zero padding, in pixels: [top, left, bottom, right] (ONNX's begin-then-end order). */
export type Pads2d = readonly [top: number, left: number, bottom: number, right: number];

/** TF 'same' (output = ceil(input / stride), any odd pixel at the bottom/right), 'valid' (none), or explicit. */
export type Padding = 'same' | 'valid' | { readonly explicit: Pads2d };

/** Inference batch norm: y = gamma · (x − mean) / √(variance + epsilon) + beta, per channel. */
export interface BatchNormParams {
  readonly gamma: Float32Array | null;
  readonly beta: Float32Array | null;
  readonly mean: Float32Array;
  readonly variance: Float32Array;
  readonly epsilon: number;
}

export interface ConvSpec {
  /** Node name; initializers are named after it. */
  readonly name: string;
  /** tfjs layout: [kh, kw, inChannels, outChannels], or [kh, kw, inChannels, multiplier] when depthwise. */
  readonly kernel: Float32Array;
  readonly kernelShape: readonly [number, number, number, number];
  readonly depthwise: boolean;
  readonly bias?: Float32Array;
  /** A batch norm applied to the conv output, folded into the conv's weights and bias. */
  readonly batchNorm?: BatchNormParams;
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  readonly padding: Padding;
  readonly activation: Activation;
  /** Name of the output tensor. Default the node name. */
  readonly output?: string;
}

export interface DenseSpec {
  readonly name: string;
  /** tfjs layout [in, out] (a MatMul's right operand), or [out, in] with `transposed`. */
  readonly kernel: Float32Array;
  readonly kernelShape: readonly [number, number];
  readonly transposed?: boolean;
  readonly bias?: Float32Array;
  readonly activation: Activation;
  readonly output?: string;
}

export interface PoolSpec {
  readonly name: string;
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly padding: Padding;
  readonly output?: string;
}

/** TF 'SAME' padding along one axis: the total is split with the odd pixel after (bottom/right). */
export function tfSamePads(inSize: number, kernel: number, stride: number, dilation = 1): [before: number, after: number] {
  const effective = (kernel - 1) * dilation + 1;
  const outSize = Math.ceil(inSize / stride);
  const total = Math.max((outSize - 1) * stride + effective - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Output size of a window op along one axis with explicit pads (ONNX/TF floor rule). */
function windowOutput(inSize: number, padBefore: number, padAfter: number, kernel: number, stride: number, dilation: number): number {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.floor((inSize + padBefore + padAfter - effective) / stride) + 1;
  if (out < 1) throw new Error(`window ${kernel}×dilation ${dilation} does not fit input ${inSize} with pads ${padBefore}+${padAfter}`);
  return out;
}

function resolvePads(padding: Padding, x: FeatureMap, kernel: readonly [number, number], strides: readonly [number, number], dilations: readonly [number, number]): Pads2d {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') {
    const [top, bottom] = tfSamePads(x.height, kernel[0], strides[0], dilations[0]);
    const [left, right] = tfSamePads(x.width, kernel[1], strides[1], dilations[1]);
    return [top, left, bottom, right];
  }
  return padding.explicit;
}

/**
 * HWIO [kh, kw, in, out] → OIHW [out, in, kh, kw]. A depthwise kernel [kh, kw, C, m] is the same
 * transform viewed as [kh, kw, 1, C·m]: TF numbers its output channels c·m + j, which is exactly
 * ONNX's group-conv order (group c owns outputs c·m … c·m + m − 1).
 */
function hwioToOihw(kernel: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        const src = ((y * kw + x) * cin + i) * cout;
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = kernel[src + o] as number;
      }
    }
  }
  return out;
}

/**
 * Folds y = BN(W·x + b) into W'·x + b': s = gamma / √(variance + eps), W' = s·W per output channel,
 * b' = s·(b − mean) + beta, in double precision before rounding to float32.
 */
function foldBatchNorm(weightOihw: Float32Array, bias: Float32Array | undefined, bn: BatchNormParams, outChannels: number): { weight: Float32Array; bias: Float32Array } {
  const perChannel = weightOihw.length / outChannels;
  const weight = new Float32Array(weightOihw.length);
  const folded = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    const s = (bn.gamma?.[o] ?? 1) / Math.sqrt((bn.variance[o] as number) + bn.epsilon);
    for (let k = o * perChannel; k < (o + 1) * perChannel; k++) weight[k] = (weightOihw[k] as number) * s;
    folded[o] = ((bias?.[o] ?? 0) - (bn.mean[o] as number)) * s + (bn.beta?.[o] ?? 0);
  }
  return { weight, bias: folded };
}

function checkLength(what: string, data: Float32Array, expected: number): void {
  if (data.length !== expected) throw new Error(`${what}: ${data.length} values, expected ${expected}`);
}

export class NchwOnnxWriter {
  readonly builder: OnnxGraphBuilder;
  private clipBounds: readonly [string, string] | undefined;

  constructor(graphName: string) {
    this.builder = new OnnxGraphBuilder(graphName);
  }

  /** Declares the float32 NCHW graph input [N, channels, height, width]. */
  input(name: string, channels: number, height: number, width: number): FeatureMap {
    this.builder.addInput(name, [BATCH_DIM, channels, height, width]);
    return { kind: 'map', name, channels, height, width };
  }

  /** Declares a [N, features] graph output; the value must already carry that name. */
  output(value: Value, name: string): void {
    if (value.kind !== 'vector') throw new Error(`graph output ${name} must be a feature vector, got a ${value.channels}×${value.height}×${value.width} map`);
    if (value.name !== name) throw new Error(`graph output ${name} is produced as ${value.name}`);
    this.builder.addOutput(name, [BATCH_DIM, value.features]);
  }

  conv(x: FeatureMap, spec: ConvSpec): FeatureMap {
    const [kh, kw, cin, last] = spec.kernelShape;
    checkLength(`${spec.name} kernel`, spec.kernel, kh * kw * cin * last);
    if (cin !== x.channels) throw new Error(`${spec.name}: kernel expects ${cin} input channels, input has ${x.channels}`);
    const outChannels = spec.depthwise ? cin * last : last;
    let weight = spec.depthwise ? hwioToOihw(spec.kernel, kh, kw, 1, outChannels) : hwioToOihw(spec.kernel, kh, kw, cin, outChannels);
    let bias = spec.bias;
    if (bias !== undefined) checkLength(`${spec.name} bias`, bias, outChannels);
    if (spec.batchNorm !== undefined) {
      checkLength(`${spec.name} batch-norm mean`, spec.batchNorm.mean, outChannels);
      ({ weight, bias } = foldBatchNorm(weight, bias, spec.batchNorm, outChannels));
    }
    const pads = resolvePads(spec.padding, x, [kh, kw], spec.strides, spec.dilations);
    const inputs = [x.name, this.builder.addInitializer(`${spec.name}/weight`, [outChannels, spec.depthwise ? 1 : cin, kh, kw], weight)];
    if (bias !== undefined) inputs.push(this.builder.addInitializer(`${spec.name}/bias`, [outChannels], bias));
    const out = this.withActivation(spec.name, spec.activation, spec.output, (name) =>
      this.builder.addNode('Conv', inputs, [name], {
        kernel_shape: attr.ints([kh, kw]),
        strides: attr.ints(spec.strides),
        dilations: attr.ints(spec.dilations),
        pads: attr.ints(pads),
        group: attr.int(spec.depthwise ? cin : 1),
      }, spec.name),
    );
    return {
      kind: 'map',
      name: out,
      channels: outChannels,
      height: windowOutput(x.height, pads[0], pads[2], kh, spec.strides[0], spec.dilations[0]),
      width: windowOutput(x.width, pads[1], pads[3], kw, spec.strides[1], spec.dilations[1]),
    };
  }

  /** Fully connected layer (ONNX Gemm). */
  dense(x: FeatureVector, spec: DenseSpec): FeatureVector {
    const [rows, cols] = spec.kernelShape;
    checkLength(`${spec.name} kernel`, spec.kernel, rows * cols);
    const [inFeatures, outFeatures] = spec.transposed === true ? [cols, rows] : [rows, cols];
    if (inFeatures !== x.features) throw new Error(`${spec.name}: kernel expects ${inFeatures} features, input has ${x.features}`);
    const inputs = [x.name, this.builder.addInitializer(`${spec.name}/weight`, [rows, cols], spec.kernel)];
    if (spec.bias !== undefined) {
      checkLength(`${spec.name} bias`, spec.bias, outFeatures);
      inputs.push(this.builder.addInitializer(`${spec.name}/bias`, [outFeatures], spec.bias));
    }
    const out = this.withActivation(spec.name, spec.activation, spec.output, (name) =>
      this.builder.addNode('Gemm', inputs, [name], { alpha: attr.float(1), beta: attr.float(1), transB: attr.int(spec.transposed === true ? 1 : 0) }, spec.name),
    );
    return { kind: 'vector', name: out, features: outFeatures };
  }

  /** Average pooling; padded cells are left out of the mean, as TF does. */
  averagePool(x: FeatureMap, spec: PoolSpec): FeatureMap {
    const pads = resolvePads(spec.padding, x, spec.kernel, spec.strides, [1, 1]);
    const out = this.builder.addNode('AveragePool', [x.name], [spec.output ?? spec.name], {
      kernel_shape: attr.ints(spec.kernel),
      strides: attr.ints(spec.strides),
      pads: attr.ints(pads),
      count_include_pad: attr.int(0),
    }, spec.name);
    return {
      kind: 'map',
      name: out,
      channels: x.channels,
      height: windowOutput(x.height, pads[0], pads[2], spec.kernel[0], spec.strides[0], 1),
      width: windowOutput(x.width, pads[1], pads[3], spec.kernel[1], spec.strides[1], 1),
    };
  }

  /** Flattens maps in TF's (H, W, C) element order, so a following dense kernel reads them unchanged. */
  flatten(x: FeatureMap, name: string): FeatureVector {
    let source = x.name;
    // NCHW and NHWC flatten to the same order only when the map is 1×1.
    if (x.height * x.width > 1) source = this.builder.addNode('Transpose', [x.name], [`${name}/nhwc`], { perm: attr.ints([0, 2, 3, 1]) }, `${name}/nhwc`);
    const out = this.builder.addNode('Flatten', [source], [name], { axis: attr.int(1) }, name);
    return { kind: 'vector', name: out, features: x.channels * x.height * x.width };
  }

  /** Element-wise sum of values of one shape. */
  add(a: Value, b: Value, name: string): Value {
    const same = a.kind === 'map' && b.kind === 'map'
      ? a.channels === b.channels && a.height === b.height && a.width === b.width
      : a.kind === 'vector' && b.kind === 'vector' && a.features === b.features;
    if (!same) throw new Error(`${name}: cannot add ${describe(a)} and ${describe(b)}`);
    return { ...a, name: this.builder.addNode('Add', [a.name, b.name], [name], {}, name) };
  }

  /**
   * A binary op between a value and a constant of TF shape `constantShape`: a scalar (all dims 1),
   * or one value per channel (last dim C, all others 1), broadcast as ONNX does. `constantFirst`
   * keeps the operand order (for Sub, Div).
   */
  withConstant(op: 'Add' | 'Sub' | 'Mul' | 'Div', x: Value, constant: Float32Array, constantShape: readonly number[], constantFirst: boolean, name: string): Value {
    const channels = x.kind === 'map' ? x.channels : x.features;
    const leading = constantShape.slice(0, -1);
    const last = constantShape.at(-1) ?? 1;
    checkLength(`${name} constant`, constant, constantShape.reduce((a, b) => a * b, 1));
    let dims: number[];
    if (leading.every((d) => d === 1) && last === 1) dims = [];
    else if (leading.every((d) => d === 1) && last === channels) dims = x.kind === 'map' ? [channels, 1, 1] : [channels];
    else throw new Error(`${name}: a constant of shape [${constantShape.join(',')}] does not broadcast per channel against ${describe(x)}`);
    const c = this.builder.addInitializer(`${name}/constant`, dims, constant);
    return { ...x, name: this.builder.addNode(op, constantFirst ? [c, x.name] : [x.name, c], [name], {}, name) };
  }

  activation(x: Value, activation: Exclude<Activation, 'linear'>, name: string): Value {
    return { ...x, name: this.emitActivation(activation, x.name, name, name) };
  }

  /** Softmax over the features of a vector. */
  softmax(x: FeatureVector, name: string): FeatureVector {
    return { ...x, name: this.builder.addNode('Softmax', [x.name], [name], { axis: attr.int(1) }, name) };
  }

  private withActivation(name: string, activation: Activation, output: string | undefined, emit: (tensor: string) => string): string {
    const final = output ?? name;
    if (activation === 'linear') return emit(final);
    return this.emitActivation(activation, emit(`${name}/linear`), final, `${name}/${activation}`);
  }

  private emitActivation(activation: Exclude<Activation, 'linear'>, input: string, output: string, nodeName: string): string {
    if (activation === 'relu') return this.builder.addNode('Relu', [input], [output], {}, nodeName);
    this.clipBounds ??= [this.builder.addInitializer('relu6/min', [], new Float32Array([0])), this.builder.addInitializer('relu6/max', [], new Float32Array([6]))];
    return this.builder.addNode('Clip', [input, ...this.clipBounds], [output], {}, nodeName);
  }
}

function describe(v: Value): string {
  return v.kind === 'map' ? `a ${v.channels}×${v.height}×${v.width} map` : `a ${v.features}-vector`;
}
