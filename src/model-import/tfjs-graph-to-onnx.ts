import { z } from 'zod';
import { type FeatureMap, type FeatureVector, NchwOnnxWriter, type Padding, type Value } from './nchw-onnx-writer';
import { type WeightStore } from './tfjs-weights';

/** A TensorFlow AttrValue as the tfjs converter writes it (ints as strings, strings base64). */
const attrValueSchema = z.looseObject({
  s: z.string().optional(),
  i: z.union([z.string(), z.number()]).optional(),
  f: z.number().optional(),
  b: z.boolean().optional(),
  list: z.looseObject({ s: z.array(z.string()).optional(), i: z.array(z.union([z.string(), z.number()])).optional() }).optional(),
  shape: z.looseObject({ dim: z.array(z.looseObject({ size: z.union([z.string(), z.number()]) })).optional() }).optional(),
});

const graphNodeSchema = z.looseObject({
  name: z.string().min(1),
  op: z.string().min(1),
  input: z.array(z.string()).optional(),
  attr: z.record(z.string(), attrValueSchema).optional(),
});

/** The part of a tfjs graph-model `model.json` the converter reads. */
export const tfjsGraphModelSchema = z.looseObject({
  format: z.literal('graph-model'),
  modelTopology: z.looseObject({ node: z.array(graphNodeSchema).min(1) }),
});

type GraphNode = z.output<typeof graphNodeSchema>;
export type TfjsGraphModel = z.output<typeof tfjsGraphModelSchema>;

/** A weight used as an operand; it becomes an initializer only where an op needs it. */
interface Constant {
  readonly kind: 'const';
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

type Resolved = Value | Constant;

export interface GraphConversion {
  readonly writer: NchwOnnxWriter;
  /** TF ops converted, by type (for the card). */
  readonly ops: Readonly<Record<string, number>>;
}

const ACTIVATIONS = { Relu: 'relu', Relu6: 'relu6' } as const;

function decodeBase64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

function attrString(node: GraphNode, key: string): string | undefined {
  const s = node.attr?.[key]?.s;
  return s === undefined ? undefined : decodeBase64(s);
}

function attrInts(node: GraphNode, key: string): number[] | undefined {
  return node.attr?.[key]?.list?.i?.map(Number);
}

function attrStrings(node: GraphNode, key: string): string[] {
  return node.attr?.[key]?.list?.s?.map(decodeBase64) ?? [];
}

/** `name`, `name:0` → `name`; control inputs (`^name`) are dropped by the caller. */
function inputNodeName(ref: string, consumer: string): string {
  const m = /^([^:]+)(?::(\d+))?$/.exec(ref);
  if (m === null || (m[2] !== undefined && m[2] !== '0')) throw new Error(`${consumer}: input ${ref} is not a node's first output`);
  return m[1] as string;
}

function dataInputs(node: GraphNode): string[] {
  return (node.input ?? []).filter((r) => !r.startsWith('^')).map((r) => inputNodeName(r, node.name));
}

/** NHWC [1, h, w, 1] attribute → [h, w]. */
function spatialPair(node: GraphNode, key: string, fallback: number): [number, number] {
  const v = attrInts(node, key);
  if (v === undefined) return [fallback, fallback];
  if (v.length !== 4 || v[0] !== 1 || v[3] !== 1) throw new Error(`${node.name}: ${key} [${v.join(',')}] is not [1, h, w, 1]`);
  return [v[1] as number, v[2] as number];
}

function tfPadding(node: GraphNode): Padding {
  const padding = attrString(node, 'padding');
  if (padding === 'SAME') return 'same';
  if (padding === 'VALID') return 'valid';
  if (padding === 'EXPLICIT') {
    // NHWC pairs: [0, 0, top, bottom, left, right, 0, 0].
    const p = attrInts(node, 'explicit_paddings') ?? [];
    if (p.length !== 8 || p[0] !== 0 || p[1] !== 0 || p[6] !== 0 || p[7] !== 0) throw new Error(`${node.name}: explicit_paddings [${p.join(',')}] pads more than H and W`);
    return { explicit: [p[2] as number, p[4] as number, p[3] as number, p[5] as number] };
  }
  throw new Error(`${node.name}: padding ${String(padding)} is not supported`);
}

function checkNhwc(node: GraphNode): void {
  const format = attrString(node, 'data_format');
  if (format !== undefined && format !== 'NHWC') throw new Error(`${node.name}: data_format ${format} is not supported (NHWC only)`);
}

/** Splits `fused_ops` into the bias flag and an optional activation; anything else is refused. */
function fusedOps(node: GraphNode): { readonly bias: boolean; readonly activation: 'linear' | 'relu' | 'relu6' } {
  const ops = attrStrings(node, 'fused_ops');
  let rest = ops;
  const bias = rest[0] === 'BiasAdd';
  if (bias) rest = rest.slice(1);
  if (rest.length === 0) return { bias, activation: 'linear' };
  const act = rest.length === 1 ? ACTIVATIONS[rest[0] as keyof typeof ACTIVATIONS] : undefined;
  if (act === undefined) throw new Error(`${node.name}: fused ops [${ops.join(', ')}] are not supported`);
  return { bias, activation: act };
}

/**
 * Converts a tfjs graph model (the TF ops tfjs' converter emits for MobileNet-style networks) into
 * an NCHW ONNX graph with input `input` [N, C, H, W] and output `logits`. The model must end in
 * Softmax (optionally behind Identity); that Softmax is dropped, so the output is the logits.
 * Supported ops: Placeholder, Const, Identity, Conv2D, DepthwiseConv2dNative and their fused forms
 * (BiasAdd + Relu/Relu6), BiasAdd, Relu, Relu6, Add/AddV2, Mul/Sub/RealDiv with a constant,
 * AvgPool, Squeeze of 1×1 spatial dims, MatMul/_FusedMatMul, Softmax.
 * @throws Error naming the node that cannot be converted.
 */
export function convertTfjsGraphModel(model: TfjsGraphModel, weights: WeightStore, graphName: string): GraphConversion {
  const nodes = new Map<string, GraphNode>();
  for (const n of model.modelTopology.node) nodes.set(n.name, n);
  const consumed = new Set(model.modelTopology.node.flatMap(dataInputs));
  const sinks = model.modelTopology.node.filter((n) => !consumed.has(n.name) && n.op !== 'Const');
  if (sinks.length !== 1) throw new Error(`the graph must have one output, found ${sinks.length} (${sinks.map((n) => n.name).join(', ')})`);

  // Walk back from the output past Identity to the final Softmax; its input becomes `logits`.
  let tail = sinks[0] as GraphNode;
  const node = (name: string): GraphNode => {
    const n = nodes.get(name);
    if (n === undefined) throw new Error(`node ${name} is referenced but not defined`);
    return n;
  };
  const soleInput = (n: GraphNode): GraphNode => {
    const inputs = dataInputs(n);
    if (inputs.length !== 1) throw new Error(`${n.name}: expected one input, got ${inputs.length}`);
    return node(inputs[0] as string);
  };
  while (tail.op === 'Identity') tail = soleInput(tail);
  if (tail.op !== 'Softmax') throw new Error(`the graph must end in Softmax (found ${tail.op} ${tail.name}); its input is taken as the logits`);
  let logits = soleInput(tail);
  while (logits.op === 'Identity') logits = soleInput(logits);
  const logitsNode = logits.name;

  const writer = new NchwOnnxWriter(graphName);
  const ops: Record<string, number> = {};
  const values = new Map<string, Resolved>();
  const resolving = new Set<string>();

  const asMap = (v: Resolved, consumer: string): FeatureMap => {
    if (v.kind !== 'map') throw new Error(`${consumer}: expected a feature map, got ${v.kind}`);
    return v;
  };
  const asVector = (v: Resolved, consumer: string): FeatureVector => {
    if (v.kind !== 'vector') throw new Error(`${consumer}: expected a feature vector, got ${v.kind}`);
    return v;
  };
  const asConst = (v: Resolved, consumer: string): Constant => {
    if (v.kind !== 'const') throw new Error(`${consumer}: expected a constant operand, got a computed ${v.kind}`);
    return v;
  };

  const convert = (n: GraphNode, inputs: readonly Resolved[]): Resolved => {
    const output = n.name === logitsNode ? 'logits' : undefined;
    const arg = (i: number): Resolved => {
      const v = inputs[i];
      if (v === undefined) throw new Error(`${n.name} (${n.op}): missing input ${i}`);
      return v;
    };
    switch (n.op) {
      case 'Placeholder': {
        const dims = n.attr?.['shape']?.shape?.dim?.map((d) => Number(d.size)) ?? [];
        if (dims.length !== 4 || dims[0] !== -1) throw new Error(`${n.name}: input shape [${dims.join(',')}] is not [-1, H, W, C]`);
        return writer.input('input', dims[3] as number, dims[1] as number, dims[2] as number);
      }
      case 'Const': {
        const w = weights.take(n.name);
        return { kind: 'const', data: w.data, shape: w.shape };
      }
      case 'Identity':
        return arg(0);
      case 'Conv2D':
      case '_FusedConv2D':
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative': {
        checkNhwc(n);
        const depthwise = n.op.includes('Depthwise');
        const fused = n.op.startsWith('Fused') || n.op.startsWith('_Fused') ? fusedOps(n) : { bias: false, activation: 'linear' as const };
        const kernel = asConst(arg(1), n.name);
        if (kernel.shape.length !== 4) throw new Error(`${n.name}: kernel shape [${kernel.shape.join(',')}] is not 4-D`);
        return writer.conv(asMap(arg(0), n.name), {
          name: n.name,
          kernel: kernel.data,
          kernelShape: kernel.shape as [number, number, number, number],
          depthwise,
          ...(fused.bias ? { bias: asConst(arg(2), n.name).data } : {}),
          strides: spatialPair(n, 'strides', 1),
          dilations: spatialPair(n, 'dilations', 1),
          padding: tfPadding(n),
          activation: fused.activation,
          ...(output === undefined ? {} : { output }),
        });
      }
      case 'BiasAdd': {
        checkNhwc(n);
        const bias = asConst(arg(1), n.name);
        return writer.withConstant('Add', asValue(arg(0), n.name), bias.data, bias.shape, false, output ?? n.name);
      }
      case 'Relu':
      case 'Relu6':
        return writer.activation(asValue(arg(0), n.name), ACTIVATIONS[n.op], output ?? n.name);
      case 'Add':
      case 'AddV2':
      case 'Mul':
      case 'Sub':
      case 'RealDiv': {
        const op = ({ Add: 'Add', AddV2: 'Add', Mul: 'Mul', Sub: 'Sub', RealDiv: 'Div' } as const)[n.op];
        const [a, b] = [arg(0), arg(1)];
        if (a.kind === 'const' && b.kind === 'const') throw new Error(`${n.name}: both operands are constants (fold them before converting)`);
        if (a.kind === 'const') return writer.withConstant(op, b as Value, a.data, a.shape, true, output ?? n.name);
        if (b.kind === 'const') return writer.withConstant(op, a, b.data, b.shape, false, output ?? n.name);
        if (op !== 'Add') throw new Error(`${n.name}: ${n.op} of two computed tensors is not supported`);
        return writer.add(a, b, output ?? n.name);
      }
      case 'AvgPool':
        checkNhwc(n);
        return writer.averagePool(asMap(arg(0), n.name), {
          name: n.name,
          kernel: spatialPair(n, 'ksize', 1),
          strides: spatialPair(n, 'strides', 1),
          padding: tfPadding(n),
          ...(output === undefined ? {} : { output }),
        });
      case 'Squeeze': {
        const x = asMap(arg(0), n.name);
        const dims = (attrInts(n, 'squeeze_dims') ?? []).join(',');
        if (dims !== '1,2' || x.height !== 1 || x.width !== 1) throw new Error(`${n.name}: only squeezing 1×1 spatial dims [1,2] is supported (got [${dims}] of ${x.height}×${x.width})`);
        return writer.flatten(x, output ?? n.name);
      }
      case 'MatMul':
      case '_FusedMatMul': {
        if (n.attr?.['transpose_a']?.b === true) throw new Error(`${n.name}: transpose_a is not supported`);
        const fused = n.op === '_FusedMatMul' ? fusedOps(n) : { bias: false, activation: 'linear' as const };
        const kernel = asConst(arg(1), n.name);
        if (kernel.shape.length !== 2) throw new Error(`${n.name}: kernel shape [${kernel.shape.join(',')}] is not 2-D`);
        return writer.dense(asVector(arg(0), n.name), {
          name: n.name,
          kernel: kernel.data,
          kernelShape: kernel.shape as [number, number],
          transposed: n.attr?.['transpose_b']?.b === true,
          ...(fused.bias ? { bias: asConst(arg(2), n.name).data } : {}),
          activation: fused.activation,
          ...(output === undefined ? {} : { output }),
        });
      }
      case 'Softmax':
        return writer.softmax(asVector(arg(0), n.name), output ?? n.name);
      default:
        throw new Error(`${n.name}: op ${n.op} is not supported`);
    }
  };

  // Depth-first from the logits node, so only what feeds it is converted (in dependency order).
  const resolve = (name: string): Resolved => {
    const done = values.get(name);
    if (done !== undefined) return done;
    if (resolving.has(name)) throw new Error(`the graph has a cycle through ${name}`);
    resolving.add(name);
    const n = node(name);
    const value = convert(n, dataInputs(n).map(resolve));
    resolving.delete(name);
    values.set(name, value);
    ops[n.op] = (ops[n.op] ?? 0) + 1;
    return value;
  };

  const out = resolve(logitsNode);
  if (out.kind === 'const') throw new Error('the logits are a constant');
  writer.output(out, 'logits');
  return { writer, ops };
}

function asValue(v: Resolved, consumer: string): Value {
  if (v.kind === 'const') throw new Error(`${consumer}: expected a computed tensor, got a constant`);
  return v;
}
