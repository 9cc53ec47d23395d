import { onnx } from 'onnx-proto';
import * as protobuf from 'protobufjs';

/** ONNX IR version 8 (ONNX 1.10–1.12), the highest onnx-proto 8 describes; ORT 1.x reads it. */
export const ONNX_IR_VERSION = 8;
/** Default opset of the default domain (the highest torch 1.13's exporter writes). */
export const ONNX_OPSET = 17;
/** Name of the dynamic batch dimension on inputs and outputs. */
export const BATCH_DIM = 'N';

/** A tensor dimension: a fixed size, or a symbolic name such as {@link BATCH_DIM}. */
export type Dim = number | string;

/** A node attribute, tagged with its ONNX type (plain numbers cannot tell INT from FLOAT). */
export type AttributeValue =
  | { readonly int: number }
  | { readonly ints: readonly number[] }
  | { readonly float: number }
  | { readonly floats: readonly number[] }
  | { readonly string: string };

/** Shorthands for {@link AttributeValue}s. */
export const attr = {
  int: (value: number): AttributeValue => ({ int: value }),
  ints: (value: readonly number[]): AttributeValue => ({ ints: value }),
  float: (value: number): AttributeValue => ({ float: value }),
  floats: (value: readonly number[]): AttributeValue => ({ floats: value }),
  string: (value: string): AttributeValue => ({ string: value }),
} as const;

export interface ModelMetadata {
  /** ModelProto.producer_name. Default 'revmod'. */
  readonly producerName?: string;
  readonly producerVersion?: string;
  readonly docString?: string;
  /** Extra key/value pairs in ModelProto.metadata_props (visible through ORT's session metadata). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Default {@link ONNX_OPSET}. */
  readonly opset?: number;
  /** Default {@link ONNX_IR_VERSION}. */
  readonly irVersion?: number;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const AttrType = onnx.AttributeProto.AttributeType;

/** Float32 values as little-endian bytes (ONNX raw_data is little-endian whatever the host is). */
function float32LittleEndian(data: Float32Array): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) return view; // LE host: no copy
  const out = new Uint8Array(data.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i] as number, true);
  return out;
}

function toAttributeProto(name: string, value: AttributeValue): onnx.IAttributeProto {
  if ('int' in value) return { name, type: AttrType.INT, i: value.int };
  if ('ints' in value) return { name, type: AttrType.INTS, ints: [...value.ints] };
  if ('float' in value) return { name, type: AttrType.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: AttrType.FLOATS, floats: [...value.floats] };
  return { name, type: AttrType.STRING, s: new TextEncoder().encode(value.string) };
}

function floatValueInfo(name: string, shape: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * Collects a float32 ONNX graph (initializers, nodes, inputs, outputs) and serializes it once.
 * Initializer data is referenced, not copied, until {@link toBuffer} writes the single output buffer,
 * so a 45 MB model costs its weights once plus the file once.
 */
export class OnnxGraphBuilder {
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private nodeCount = 0;

  constructor(private readonly graphName: string) {}

  /** Adds a float32 constant; returns its name for use as a node input. */
  addInitializer(name: string, dims: readonly number[], data: Float32Array): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(',')}] (${expected})`);
    }
    this.claim(name);
    this.initializers.push({ name, dims: [...dims], dataType: FLOAT, rawData: float32LittleEndian(data) });
    return name;
  }

  /** Adds a node; returns its first output's name. Node names default to `<opType>_<index>`. */
  addNode(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    name = `${opType}_${this.nodeCount}`,
  ): string {
    this.nodeCount++;
    for (const out of outputs) this.claim(out);
    this.nodes.push({
      name,
      opType,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attributes).map(([k, v]) => toAttributeProto(k, v)),
    });
    const first = outputs[0];
    if (first === undefined) throw new Error(`node ${name} has no outputs`);
    return first;
  }

  /** Declares a float32 graph input. */
  addInput(name: string, shape: readonly Dim[]): string {
    this.claim(name);
    this.inputs.push(floatValueInfo(name, shape));
    return name;
  }

  /** Declares a float32 graph output (the name must be produced by a node). */
  addOutput(name: string, shape: readonly Dim[]): string {
    this.outputs.push(floatValueInfo(name, shape));
    return name;
  }

  /** Serializes the model to one Buffer (protobuf wire format, the content of a `.onnx` file). */
  toBuffer(meta: ModelMetadata = {}): Buffer {
    const model: onnx.IModelProto = {
      irVersion: meta.irVersion ?? ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: meta.opset ?? ONNX_OPSET }],
      producerName: meta.producerName ?? 'revmod',
      producerVersion: meta.producerVersion ?? '',
      docString: meta.docString ?? '',
      metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    const bytes = onnx.ModelProto.encode(model, protobuf.Writer.create()).finish();
    // In Node protobufjs' writer already yields a Buffer; wrap (no copy) if it ever does not.
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`duplicate tensor name in graph: ${name}`);
    this.names.add(name);
  }
}
