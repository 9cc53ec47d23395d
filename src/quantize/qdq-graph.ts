/**
 * Static QDQ quantisation of a float32 ONNX graph, in the layout onnxruntime fuses into integer
 * kernels (QLinearConv, QLinearAdd, QLinearAveragePool, QGemm):
 * - weights of Conv, Gemm and MatMul: int8, symmetric, one scale per output channel, behind a
 *   DequantizeLinear with `axis`;
 * - biases: int32 at scale input scale × weight scale (per channel), zero point 0;
 * - activations: uint8, asymmetric, one scale per tensor from calibrated ranges, as one
 *   QuantizeLinear per tensor and one DequantizeLinear per consumer;
 * - a Clip(0, max) right after a Conv or Add is dropped: the uint8 range [0, min(max, calibrated)]
 *   saturates exactly as the clip did, and the Conv then feeds its QuantizeLinear directly (which
 *   the fusion needs).
 * Graph outputs stay float32, so the model contract (input and output names, types, shapes) is
 * unchanged.
 */
import { onnx } from 'onnx-proto';
import * as protobuf from 'protobufjs';
import { RevmodError } from '@revmod/client';

const DT = onnx.TensorProto.DataType;
const AttrType = onnx.AttributeProto.AttributeType;

/** Lowest opset with per-axis DequantizeLinear. */
export const MIN_QDQ_OPSET = 13;
/** Ops whose weights are quantised per channel. */
const WEIGHTED_OPS = new Set(['Conv', 'Gemm', 'MatMul']);
/** Ops run on quantised activations (inputs and output). */
const ACTIVATION_OPS = new Set(['Conv', 'Gemm', 'MatMul', 'Add', 'AveragePool', 'GlobalAveragePool']);
/** Ops that mean a graph is quantised already. */
const QUANTISED_OPS = new Set(['QuantizeLinear', 'DequantizeLinear', 'QLinearConv', 'QLinearMatMul', 'ConvInteger', 'MatMulInteger', 'DynamicQuantizeLinear']);
/** Symmetric int8 weight range: ±127 keeps −128 unused, so a weight and its negation quantise alike. */
const WEIGHT_QMAX = 127;
const INT32_MAX = 2 ** 31 - 1;
// Module-local bindings for the per-weight loops (a global lookup costs ~100 ns inside jest's vm context).
const { abs, floor, max, min, round } = Math;

/** A calibrated activation range (min ≤ max). */
export interface ActivationRange {
  readonly min: number;
  readonly max: number;
}

/** What {@link planQdq} decides before calibration. */
export interface QdqPlan {
  /** Activation tensors to calibrate, named as in the float graph. */
  readonly activations: readonly string[];
  /** Clip outputs whose Clip is dropped → the clip's upper bound (the range is capped to it). */
  readonly droppedClips: ReadonlyMap<string, number>;
  /** Nodes whose weights become int8 (by node name). */
  readonly weightedNodes: readonly string[];
}

export interface QdqSummary {
  /** Node counts by op type in the quantised graph. */
  readonly ops: Readonly<Record<string, number>>;
  readonly quantisedActivations: number;
  readonly quantisedWeights: number;
  readonly droppedClips: number;
  /** Bias values that did not fit int32 at input scale × weight scale and were clamped. */
  readonly clampedBiases: number;
}

function modelInvalid(source: string, message: string): RevmodError {
  return new RevmodError('MODEL_INVALID', `model ${source}: ${message}`);
}

/** Parses an .onnx file's bytes; MODEL_INVALID when they are not an ONNX model. */
export function decodeOnnx(bytes: Uint8Array, source: string): onnx.ModelProto {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new RevmodError('MODEL_INVALID', `model ${source}: not an ONNX file (${(err as Error).message})`, { cause: err });
  }
  if (!model.graph || (model.graph.node ?? []).length === 0) throw modelInvalid(source, 'not an ONNX file (no graph or no nodes)');
  return model;
}

export function encodeOnnx(model: onnx.IModelProto): Buffer {
  const bytes = onnx.ModelProto.encode(model, protobuf.Writer.create()).finish();
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A float32 initializer's values (raw little-endian bytes or float_data). */
export function floatValues(t: onnx.ITensorProto): Float32Array {
  if (t.dataType !== DT.FLOAT) throw new Error(`initializer ${t.name} is not float32`);
  const raw = t.rawData;
  if (raw && raw.byteLength > 0) {
    const copy = new Uint8Array(raw); // aligned copy
    const out = new Float32Array(copy.byteLength / 4);
    const dv = new DataView(copy.buffer);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
    return out;
  }
  return Float32Array.from(t.floatData ?? []);
}

const dimsOf = (t: onnx.ITensorProto): number[] => (t.dims ?? []).map((d) => Number(d));

function attrInt(node: onnx.INodeProto, name: string, fallback: number): number {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  return a?.i === undefined || a.i === null ? fallback : Number(a.i);
}

function attrFloat(node: onnx.INodeProto, name: string, fallback: number): number {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  return a?.f === undefined || a.f === null ? fallback : a.f;
}

function opsetOf(model: onnx.IModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain);
  return entry ? Number(entry.version) : 0;
}

interface GraphIndex {
  readonly inits: Map<string, onnx.ITensorProto>;
  readonly producer: Map<string, onnx.INodeProto>;
  readonly consumers: Map<string, onnx.INodeProto[]>;
  readonly graphOutputs: Set<string>;
}

function indexGraph(graph: onnx.IGraphProto): GraphIndex {
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const producer = new Map<string, onnx.INodeProto>();
  const consumers = new Map<string, onnx.INodeProto[]>();
  for (const n of graph.node ?? []) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = consumers.get(i) ?? [];
      list.push(n);
      consumers.set(i, list);
    }
  }
  return { inits, producer, consumers, graphOutputs: new Set((graph.output ?? []).map((o) => o.name ?? '')) };
}

/** The constant value of a Clip bound (input or, before opset 11, attribute); undefined if not constant. */
function clipBound(node: onnx.INodeProto, index: 1 | 2, g: GraphIndex, opset: number): number | undefined {
  if (opset < 11) return attrFloat(node, index === 1 ? 'min' : 'max', index === 1 ? -Infinity : Infinity);
  const name = node.input?.[index];
  if (!name) return index === 1 ? -Infinity : Infinity;
  const t = g.inits.get(name);
  if (!t || t.dataType !== DT.FLOAT) return undefined;
  const v = floatValues(t);
  return v.length === 1 ? v[0] : undefined;
}

/** Whether a node's weights can be quantised per channel; the axis of their output channels if so. */
function weightAxis(node: onnx.INodeProto, g: GraphIndex): number | undefined {
  if (!WEIGHTED_OPS.has(node.opType ?? '')) return undefined;
  const w = g.inits.get(node.input?.[1] ?? '');
  if (!w || w.dataType !== DT.FLOAT) return undefined;
  const dims = dimsOf(w);
  if (node.opType === 'Conv') return dims.length >= 3 ? 0 : undefined;
  if (dims.length !== 2) return undefined;
  if (node.opType === 'MatMul') return 1;
  // Gemm: Y = A·B + C with B [K, N] (transB 0) or [N, K] (transB 1); alpha and beta would scale the
  // integer product and bias, so only the plain form is quantised.
  if (attrInt(node, 'transA', 0) !== 0 || attrFloat(node, 'alpha', 1) !== 1 || attrFloat(node, 'beta', 1) !== 1) return undefined;
  return attrInt(node, 'transB', 0) === 1 ? 0 : 1;
}

function runsQuantised(node: onnx.INodeProto, g: GraphIndex, keepFloat: ReadonlySet<string>): boolean {
  const op = node.opType ?? '';
  if (keepFloat.has(op) || keepFloat.has(node.name ?? '')) return false;
  if (!ACTIVATION_OPS.has(op)) return false;
  if (WEIGHTED_OPS.has(op)) return weightAxis(node, g) !== undefined;
  // Add of a constant (a bias the exporter did not fold) stays float: its constant would need its own scale.
  if (op === 'Add') return (node.input ?? []).every((i) => !g.inits.has(i));
  return true;
}

/**
 * Checks that the graph can be quantised and decides what is: which Clips are dropped, which
 * activations need ranges, which nodes get int8 weights.
 * @throws RevmodError MODEL_INVALID for an opset below 13, a graph already quantised, or nothing to quantise.
 */
export function planQdq(model: onnx.IModelProto, source: string, keepFloat: ReadonlySet<string> = new Set()): QdqPlan {
  const graph = model.graph!;
  const opset = opsetOf(model);
  if (opset < MIN_QDQ_OPSET) throw modelInvalid(source, `opset ${opset} is below ${MIN_QDQ_OPSET}, the first with per-channel DequantizeLinear; export it again at opset ≥ ${MIN_QDQ_OPSET}`);
  const already = (graph.node ?? []).find((n) => QUANTISED_OPS.has(n.opType ?? '') || (n.domain ?? '') !== '');
  if (already) {
    throw modelInvalid(source, already.domain
      ? `node ${already.name} is in domain '${already.domain}': only standard ONNX float graphs can be quantised`
      : `already quantised (it has a ${already.opType} node): quantise the float32 model instead`);
  }
  const inputs = graph.input ?? [];
  for (const i of inputs) {
    const t = i.type?.tensorType?.elemType;
    if (t !== undefined && t !== null && t !== DT.FLOAT && !(graph.initializer ?? []).some((x) => x.name === i.name)) {
      throw modelInvalid(source, `input ${i.name} is not float32 (elem type ${t}): only float32 models can be quantised`);
    }
  }
  const g = indexGraph(graph);
  const droppedClips = new Map<string, number>();
  /** A dropped Clip's input → its output (the name the producer writes once the Clip is gone). */
  const clipAfter = new Map<string, string>();
  for (const n of graph.node ?? []) {
    if (n.opType !== 'Clip') continue;
    const x = n.input?.[0] ?? '';
    const prev = g.producer.get(x);
    const lo = clipBound(n, 1, g, opset);
    const hi = clipBound(n, 2, g, opset);
    if (!prev || (prev.opType !== 'Conv' && prev.opType !== 'Add') || !runsQuantised(prev, g, keepFloat)) continue;
    if (lo !== 0 || hi === undefined || !(hi > 0) || g.graphOutputs.has(x) || (g.consumers.get(x) ?? []).length !== 1) continue;
    droppedClips.set(n.output![0]!, hi);
    clipAfter.set(x, n.output![0]!);
  }
  const activations = new Set<string>();
  const weightedNodes: string[] = [];
  const add = (name: string): void => {
    if (!name || g.inits.has(name) || g.graphOutputs.has(name)) return;
    activations.add(clipAfter.get(name) ?? name);
  };
  for (const n of graph.node ?? []) {
    if (!runsQuantised(n, g, keepFloat)) continue;
    const op = n.opType ?? '';
    if (WEIGHTED_OPS.has(op)) {
      weightedNodes.push(n.name ?? '');
      add(n.input?.[0] ?? '');
    } else {
      for (const i of n.input ?? []) add(i);
    }
    add(n.output?.[0] ?? '');
  }
  if (weightedNodes.length === 0) throw modelInvalid(source, 'has no Conv, Gemm or MatMul with float32 constant weights: nothing to quantise');
  if (weightedNodes.some((name) => !name)) throw modelInvalid(source, 'a Conv, Gemm or MatMul node has no name');
  return { activations: [...activations], droppedClips, weightedNodes };
}

/** The float graph with every planned activation added as a graph output, for calibration runs. */
export function withActivationOutputs(model: onnx.IModelProto, plan: QdqPlan): Buffer {
  const copy = onnx.ModelProto.decode(encodeOnnx(model));
  const graph = copy.graph as onnx.GraphProto;
  const present = new Set((graph.output ?? []).map((o) => o.name));
  for (const name of plan.activations) {
    if (!present.has(name)) graph.output.push({ name, type: { tensorType: { elemType: DT.FLOAT } } });
  }
  return encodeOnnx(copy);
}

/** uint8 asymmetric parameters covering [min(0, lo), max(0, hi)] (zero stays exactly representable). */
export function activationParams(range: ActivationRange): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, range.min);
  const hi = Math.max(0, range.max);
  if (!(hi > lo) || !Number.isFinite(hi - lo)) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / 255);
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/** Per-channel symmetric int8 weights along `axis`. */
export function quantiseWeights(values: Float32Array, dims: readonly number[], axis: number): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const absMax = new Float32Array(channels);
  const channelOf = (i: number) => floor(i / inner) % channels;
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    const a = abs(values[i]!);
    if (a > absMax[c]!) absMax[c] = a;
  }
  const scales = absMax.map((m) => (m > 0 ? Math.fround(m / WEIGHT_QMAX) : 1));
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = round(values[i]! / scales[channelOf(i)]!);
    q[i] = max(-WEIGHT_QMAX, min(WEIGHT_QMAX, v));
  }
  return { q, scales };
}

function tensor(name: string, dataType: number, dims: readonly number[], bytes: Uint8Array): onnx.ITensorProto {
  return { name, dataType, dims: [...dims], rawData: bytes };
}

function le32(values: Float32Array | Int32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  const isFloat = values instanceof Float32Array;
  for (let i = 0; i < values.length; i++) {
    if (isFloat) dv.setFloat32(i * 4, values[i]!, true);
    else dv.setInt32(i * 4, values[i]!, true);
  }
  return out;
}

function node(opType: string, inputs: string[], outputs: string[], name: string, axis?: number): onnx.NodeProto {
  const attribute: onnx.IAttributeProto[] = axis === undefined ? [] : [{ name: 'axis', type: AttrType.INT, i: axis }];
  return onnx.NodeProto.create({ name, opType, input: inputs, output: outputs, attribute });
}

/**
 * Builds the QDQ model from the float model, its plan and the calibrated ranges (one per planned
 * activation). The float model is not modified.
 */
export function buildQdqModel(
  floatModel: onnx.IModelProto,
  plan: QdqPlan,
  ranges: ReadonlyMap<string, ActivationRange>,
  metadata: Readonly<Record<string, string>> = {},
): { model: onnx.ModelProto; summary: QdqSummary } {
  const model = onnx.ModelProto.decode(encodeOnnx(floatModel));
  // Decoded messages have every repeated field set.
  const graph = model.graph as onnx.GraphProto;
  let nodes = graph.node as onnx.NodeProto[];
  // Drop the planned Clips: their producer writes the clip's output name directly.
  const clipOf = new Map<string, string>();
  for (const n of nodes) if (n.opType === 'Clip' && plan.droppedClips.has(n.output[0]!)) clipOf.set(n.input[0]!, n.output[0]!);
  nodes = nodes.filter((n) => !(n.opType === 'Clip' && plan.droppedClips.has(n.output[0]!)));
  for (const n of nodes) n.output = n.output.map((o) => clipOf.get(o) ?? o);
  graph.node = nodes;

  const g = indexGraph(graph);
  const params = new Map<string, { scale: string; zeroPoint: string; value: { scale: number; zeroPoint: number } }>();
  const newInits: onnx.ITensorProto[] = [];
  for (const name of plan.activations) {
    const r = ranges.get(name);
    if (!r) throw new Error(`no calibrated range for activation ${name}`);
    const cap = plan.droppedClips.get(name);
    const value = activationParams(cap === undefined ? r : { min: 0, max: Math.min(cap, r.max) });
    const scale = `${name}_scale`;
    const zeroPoint = `${name}_zero_point`;
    newInits.push(tensor(scale, DT.FLOAT, [], le32(new Float32Array([value.scale]))));
    newInits.push(tensor(zeroPoint, DT.UINT8, [], new Uint8Array([value.zeroPoint])));
    params.set(name, { scale, zeroPoint, value });
  }
  const quantised = new Set(plan.activations);
  const out: onnx.NodeProto[] = [];
  const emitQ = (t: string): void => {
    const p = params.get(t)!;
    out.push(node('QuantizeLinear', [t, p.scale, p.zeroPoint], [`${t}_quantized`], `${t}_QuantizeLinear`));
  };
  for (const i of graph.input) if (quantised.has(i.name ?? '')) emitQ(i.name ?? '');
  let clampedBiases = 0;
  let quantisedWeights = 0;
  const dqCount = new Map<string, number>();
  const weighted = new Set(plan.weightedNodes);
  for (const n of nodes) {
    const inputScale = params.get(n.input[0] ?? '')?.value.scale;
    n.input = n.input.map((t) => {
      if (!quantised.has(t)) return t;
      const p = params.get(t)!;
      const k = (dqCount.get(t) ?? 0) + 1;
      dqCount.set(t, k);
      const dq = `${t}_dequantized_${k}`;
      out.push(node('DequantizeLinear', [`${t}_quantized`, p.scale, p.zeroPoint], [dq], `${t}_DequantizeLinear_${k}`));
      return dq;
    });
    if (weighted.has(n.name)) {
      const w = g.inits.get(n.input[1]!)!;
      const dims = dimsOf(w);
      const axis = weightAxis(n, g)!;
      const { q, scales } = quantiseWeights(floatValues(w), dims, axis);
      const base = `${n.name}/weight`;
      newInits.push(tensor(`${base}_quantized`, DT.INT8, dims, new Uint8Array(q.buffer)));
      newInits.push(tensor(`${base}_scale`, DT.FLOAT, [scales.length], le32(scales)));
      newInits.push(tensor(`${base}_zero_point`, DT.INT8, [scales.length], new Uint8Array(scales.length)));
      out.push(node('DequantizeLinear', [`${base}_quantized`, `${base}_scale`, `${base}_zero_point`], [`${base}_dequantized`], `${base}_DequantizeLinear`, axis));
      quantisedWeights += 1;
      const biasName = n.input[2];
      const bias = biasName ? g.inits.get(biasName) : undefined;
      const newInputs = [n.input[0]!, `${base}_dequantized`];
      if (biasName && bias && bias.dataType === DT.FLOAT && inputScale !== undefined && dimsOf(bias).length === 1 && dimsOf(bias)[0] === scales.length) {
        const b = floatValues(bias);
        const bScale = scales.map((s) => Math.fround(s * inputScale));
        const bq = new Int32Array(b.length);
        for (let i = 0; i < b.length; i++) {
          const v = Math.round(b[i]! / bScale[i]!);
          if (Math.abs(v) > INT32_MAX) clampedBiases += 1;
          bq[i] = Math.max(-INT32_MAX, Math.min(INT32_MAX, v));
        }
        const bb = `${n.name}/bias`;
        newInits.push(tensor(`${bb}_quantized`, DT.INT32, [b.length], le32(bq)));
        newInits.push(tensor(`${bb}_scale`, DT.FLOAT, [b.length], le32(bScale)));
        newInits.push(tensor(`${bb}_zero_point`, DT.INT32, [b.length], new Uint8Array(4 * b.length)));
        out.push(node('DequantizeLinear', [`${bb}_quantized`, `${bb}_scale`, `${bb}_zero_point`], [`${bb}_dequantized`], `${bb}_DequantizeLinear`, 0));
        newInputs.push(`${bb}_dequantized`);
      } else if (biasName) {
        newInputs.push(biasName);
      }
      n.input = newInputs;
    }
    out.push(n);
    for (const o of n.output) if (quantised.has(o)) emitQ(o);
  }
  graph.node = out;
  // Float weights no longer read by any node go; everything else stays.
  const used = new Set(out.flatMap((n) => n.input));
  graph.initializer = [...graph.initializer.filter((t) => used.has(t.name ?? '')), ...newInits];
  const known = new Set([...out.flatMap((n) => n.output), ...graph.input.map((i) => i.name ?? '')]);
  graph.valueInfo = graph.valueInfo.filter((v) => known.has(v.name ?? ''));
  const props = new Map(model.metadataProps.map((p) => [p.key, p.value]));
  for (const [key, value] of Object.entries(metadata)) props.set(key, value);
  model.metadataProps = [...props].map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  const ops: Record<string, number> = {};
  for (const n of out) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  return {
    model,
    summary: { ops, quantisedActivations: plan.activations.length, quantisedWeights, droppedClips: plan.droppedClips.size, clampedBiases },
  };
}
