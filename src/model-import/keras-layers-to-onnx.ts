import { z } from 'zod';
import { type Activation, type BatchNormParams, type FeatureMap, type FeatureVector, NchwOnnxWriter, type Pads2d, type Padding, type Value } from './nchw-onnx-writer';
import { type WeightStore } from './tfjs-weights';

/** `[[layerName, nodeIndex, tensorIndex, kwargs], ...]`: Keras 2's record of one call of a layer. */
const inboundSchema = z.array(z.tuple([z.string(), z.number(), z.number()]).rest(z.unknown()));

const layerSchema = z.looseObject({
  class_name: z.string().min(1),
  name: z.string().min(1),
  config: z.record(z.string(), z.unknown()),
  inbound_nodes: z.array(inboundSchema),
});

const kerasModelSchema = z.looseObject({
  class_name: z.enum(['Model', 'Functional']),
  config: z.looseObject({
    layers: z.array(layerSchema).min(1),
    output_layers: z.array(z.tuple([z.string(), z.number(), z.number()])).length(1),
  }),
});

/**
 * The part of a tfjs layers-model `model.json` (a Keras 2 functional model) the converter reads.
 * Keras' converter nests the model under `model_config`; tfjs' own `model.save` does not.
 */
export const tfjsLayersModelSchema = z.looseObject({
  modelTopology: z.union([z.looseObject({ model_config: kerasModelSchema }).transform((t) => t.model_config), kerasModelSchema]),
});

type Layer = z.output<typeof layerSchema>;
export type TfjsLayersModel = z.output<typeof tfjsLayersModelSchema>;

export interface LayersConversion {
  readonly writer: NchwOnnxWriter;
  /** Keras layers converted, by class. */
  readonly ops: Readonly<Record<string, number>>;
  /** How many BatchNormalization layers were folded into the convolution before them. */
  readonly foldedBatchNorms: number;
}

/** A ZeroPadding2D output: its pads are folded into the convolution that reads it. */
interface PendingPad {
  readonly kind: 'pad';
  readonly source: FeatureMap;
  readonly pads: Pads2d;
}

type Resolved = Value | PendingPad;

const CONV_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D']);

const pair = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]);
const intOrPair = z.union([z.number().int().nonnegative(), pair]);

/** Reads `config[key]` with a schema; errors name the layer and the key. */
function cfg<T extends z.ZodType>(layer: Layer, key: string, schema: T): z.output<T> {
  const r = schema.safeParse(layer.config[key]);
  if (!r.success) throw new Error(`${layer.name} (${layer.class_name}): config.${key} = ${JSON.stringify(layer.config[key])} is not supported`);
  return r.data;
}

function asPair(v: number | readonly [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function channelsLast(layer: Layer): void {
  const format = layer.config['data_format'];
  if (format !== undefined && format !== 'channels_last') throw new Error(`${layer.name}: data_format ${String(format)} is not supported`);
}

function kerasActivation(layer: Layer): Activation | 'softmax' {
  const a = cfg(layer, 'activation', z.enum(['linear', 'relu', 'relu6', 'softmax']).optional());
  return a ?? 'linear';
}

/** ZeroPadding2D's `padding`: n, [h, w] or [[top, bottom], [left, right]] → [top, left, bottom, right]. */
function zeroPads(layer: Layer): Pads2d {
  const p = cfg(layer, 'padding', z.union([intOrPair, z.tuple([pair, pair])]));
  if (typeof p === 'number') return [p, p, p, p];
  const [h, w] = p;
  if (typeof h === 'number' && typeof w === 'number') return [h, w, h, w];
  const [[top, bottom], [left, right]] = p as [[number, number], [number, number]];
  return [top, left, bottom, right];
}

/**
 * Converts a tfjs layers model (a Keras 2 functional model of MobileNet-style layers) into an NCHW
 * ONNX graph with input `input` and output `logits`. The output layer must be a softmax Dense; its
 * softmax is dropped so the graph returns logits. BatchNormalization right after a linear
 * convolution is folded into it, and ZeroPadding2D into the convolution that reads it.
 * Supported layers: InputLayer, ZeroPadding2D, Conv2D, DepthwiseConv2D, BatchNormalization, ReLU,
 * Activation, Add, AveragePooling2D, GlobalAveragePooling2D, Flatten, Dense, Dropout.
 * @throws Error naming the layer that cannot be converted.
 */
export function convertTfjsLayersModel(model: TfjsLayersModel, weights: WeightStore, graphName: string): LayersConversion {
  const { layers, output_layers: outputLayers } = model.modelTopology.config;
  const outputLayer = outputLayers[0]?.[0];
  const inboundNames = (layer: Layer): string[] => {
    if (layer.inbound_nodes.length > 1) throw new Error(`${layer.name}: shared layers (called ${layer.inbound_nodes.length} times) are not supported`);
    return (layer.inbound_nodes[0] ?? []).map((ref) => {
      if (ref[1] !== 0 || ref[2] !== 0) throw new Error(`${layer.name}: input ${ref[0]}[${ref[1]}][${ref[2]}] is not a single-call layer's output`);
      return ref[0];
    });
  };

  const byName = new Map(layers.map((l) => [l.name, l]));
  const consumers = new Map<string, number>();
  for (const l of layers) for (const i of inboundNames(l)) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  // A batch norm is folded when it alone reads a linear convolution's output.
  const foldInto = new Map<string, Layer>();
  for (const l of layers) {
    if (l.class_name !== 'BatchNormalization') continue;
    const [src] = inboundNames(l);
    const conv = src === undefined ? undefined : byName.get(src);
    if (conv !== undefined && CONV_CLASSES.has(conv.class_name) && kerasActivation(conv) === 'linear' && consumers.get(conv.name) === 1) foldInto.set(conv.name, l);
  }

  const writer = new NchwOnnxWriter(graphName);
  const ops: Record<string, number> = {};
  const values = new Map<string, Resolved>();
  const folded = new Set<string>();

  const batchNormParams = (bn: Layer, channels: number): BatchNormParams => {
    const axis = cfg(bn, 'axis', z.union([z.number(), z.array(z.number()).length(1)]).optional());
    const a = Array.isArray(axis) ? axis[0] : axis;
    if (a !== undefined && a !== -1 && a !== 3) throw new Error(`${bn.name}: batch norm over axis ${String(a)} (channels_last models normalise axis -1)`);
    const take = (w: string): Float32Array => weights.take(`${bn.name}/${w}`, [channels]).data;
    return {
      gamma: cfg(bn, 'scale', z.boolean().optional()) === false ? null : take('gamma'),
      beta: cfg(bn, 'center', z.boolean().optional()) === false ? null : take('beta'),
      mean: take('moving_mean'),
      variance: take('moving_variance'),
      epsilon: cfg(bn, 'epsilon', z.number().nonnegative()),
    };
  };

  const asMap = (v: Resolved, layer: Layer): FeatureMap => {
    if (v.kind !== 'map') throw new Error(`${layer.name} (${layer.class_name}): expected a feature map input, got ${v.kind === 'pad' ? 'an unfolded ZeroPadding2D' : 'a vector'}`);
    return v;
  };
  const asVector = (v: Resolved, layer: Layer): FeatureVector => {
    if (v.kind !== 'vector') throw new Error(`${layer.name} (${layer.class_name}): expected a feature vector input (add a Flatten)`);
    return v;
  };
  const asValue = (v: Resolved, layer: Layer): Value => (v.kind === 'vector' ? v : asMap(v, layer));

  const convert = (layer: Layer, inputs: readonly Resolved[]): Resolved => {
    const isOutput = layer.name === outputLayer;
    const arg = inputs[0];
    if (arg === undefined && layer.class_name !== 'InputLayer') throw new Error(`${layer.name}: no input`);
    const x = arg as Resolved;
    switch (layer.class_name) {
      case 'InputLayer': {
        const shape = cfg(layer, 'batch_input_shape', z.tuple([z.null(), z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]));
        return writer.input('input', shape[3], shape[1], shape[2]);
      }
      case 'ZeroPadding2D':
        channelsLast(layer);
        return { kind: 'pad', source: asMap(x, layer), pads: zeroPads(layer) };
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        channelsLast(layer);
        const depthwise = layer.class_name === 'DepthwiseConv2D';
        if (!depthwise && (cfg(layer, 'groups', z.number().int().optional()) ?? 1) !== 1) throw new Error(`${layer.name}: grouped Conv2D is not supported`);
        let padding: Padding = cfg(layer, 'padding', z.enum(['same', 'valid']));
        let source: FeatureMap;
        if (x.kind === 'pad') {
          if (padding !== 'valid') throw new Error(`${layer.name}: ZeroPadding2D before a 'same' convolution is not supported`);
          padding = { explicit: x.pads };
          source = x.source;
        } else source = asMap(x, layer);
        const [kh, kw] = asPair(cfg(layer, 'kernel_size', intOrPair));
        const last = depthwise ? cfg(layer, 'depth_multiplier', z.number().int().positive()) : cfg(layer, 'filters', z.number().int().positive());
        const kernelShape = [kh, kw, source.channels, last] as const;
        const kernel = weights.take(`${layer.name}/${depthwise ? 'depthwise_kernel' : 'kernel'}`, kernelShape).data;
        const outChannels = depthwise ? source.channels * last : last;
        const activation = kerasActivation(layer);
        if (activation === 'softmax') throw new Error(`${layer.name}: softmax on a convolution is not supported`);
        const bn = foldInto.get(layer.name);
        if (bn !== undefined) folded.add(bn.name);
        return writer.conv(source, {
          name: layer.name,
          kernel,
          kernelShape,
          depthwise,
          ...(cfg(layer, 'use_bias', z.boolean()) ? { bias: weights.take(`${layer.name}/bias`, [outChannels]).data } : {}),
          ...(bn === undefined ? {} : { batchNorm: batchNormParams(bn, outChannels) }),
          strides: asPair(cfg(layer, 'strides', intOrPair)),
          dilations: asPair(cfg(layer, 'dilation_rate', intOrPair)),
          padding,
          activation,
          // A folded batch norm's name becomes the conv's output tensor.
          ...(bn === undefined ? {} : { output: bn.name }),
        });
      }
      case 'BatchNormalization': {
        const src = asValue(x, layer);
        if (folded.has(layer.name)) return src;
        // Not after a convolution: y = x·s + t per channel.
        const channels = src.kind === 'map' ? src.channels : src.features;
        const p = batchNormParams(layer, channels);
        const scale = new Float32Array(channels);
        const shift = new Float32Array(channels);
        for (let c = 0; c < channels; c++) {
          const s = (p.gamma?.[c] ?? 1) / Math.sqrt((p.variance[c] as number) + p.epsilon);
          scale[c] = s;
          shift[c] = (p.beta?.[c] ?? 0) - (p.mean[c] as number) * s;
        }
        const scaled = writer.withConstant('Mul', src, scale, [channels], false, `${layer.name}/scale`);
        return writer.withConstant('Add', scaled, shift, [channels], false, layer.name);
      }
      case 'ReLU': {
        const max = cfg(layer, 'max_value', z.number().nullable().optional()) ?? null;
        const slope = cfg(layer, 'negative_slope', z.number().optional()) ?? 0;
        const threshold = cfg(layer, 'threshold', z.number().optional()) ?? 0;
        if (slope !== 0 || threshold !== 0 || (max !== null && max !== 6)) {
          throw new Error(`${layer.name}: ReLU(max ${max}, slope ${slope}, threshold ${threshold}) is not supported (plain ReLU or ReLU6 only)`);
        }
        return writer.activation(asValue(x, layer), max === 6 ? 'relu6' : 'relu', layer.name);
      }
      case 'Activation': {
        const a = kerasActivation(layer);
        if (a === 'linear') return asValue(x, layer);
        if (a === 'softmax') return writer.softmax(asVector(x, layer), layer.name);
        return writer.activation(asValue(x, layer), a, layer.name);
      }
      case 'Add': {
        if (inputs.length < 2) throw new Error(`${layer.name}: Add needs at least two inputs`);
        let sum = asValue(x, layer);
        for (let i = 1; i < inputs.length; i++) {
          const name = i === inputs.length - 1 ? layer.name : `${layer.name}/${i}`;
          sum = writer.add(sum, asValue(inputs[i] as Resolved, layer), name);
        }
        return sum;
      }
      case 'AveragePooling2D':
        channelsLast(layer);
        return writer.averagePool(asMap(x, layer), {
          name: layer.name,
          kernel: asPair(cfg(layer, 'pool_size', intOrPair)),
          strides: asPair(cfg(layer, 'strides', intOrPair.nullish()) ?? cfg(layer, 'pool_size', intOrPair)),
          padding: cfg(layer, 'padding', z.enum(['same', 'valid'])),
        });
      case 'GlobalAveragePooling2D': {
        channelsLast(layer);
        const m = asMap(x, layer);
        const pooled = writer.averagePool(m, { name: `${layer.name}/pool`, kernel: [m.height, m.width], strides: [1, 1], padding: 'valid' });
        return writer.flatten(pooled, layer.name);
      }
      case 'Flatten':
        channelsLast(layer);
        return writer.flatten(asMap(x, layer), layer.name);
      case 'Dense': {
        const units = cfg(layer, 'units', z.number().int().positive());
        const v = asVector(x, layer);
        const activation = kerasActivation(layer);
        if (isOutput && activation !== 'softmax') throw new Error(`${layer.name}: the output layer must be a softmax Dense (its input is taken as the logits)`);
        const dense = writer.dense(v, {
          name: layer.name,
          kernel: weights.take(`${layer.name}/kernel`, [v.features, units]).data,
          kernelShape: [v.features, units],
          ...(cfg(layer, 'use_bias', z.boolean()) ? { bias: weights.take(`${layer.name}/bias`, [units]).data } : {}),
          // The output layer's softmax is dropped: the graph returns logits.
          activation: activation === 'softmax' ? 'linear' : activation,
          ...(isOutput ? { output: 'logits' } : {}),
        });
        return activation === 'softmax' && !isOutput ? writer.softmax(dense, `${layer.name}/softmax`) : dense;
      }
      case 'Dropout':
        return asValue(x, layer);
      default:
        throw new Error(`${layer.name}: layer ${layer.class_name} is not supported`);
    }
  };

  for (const layer of layers) {
    const inputs = inboundNames(layer).map((name) => {
      const v = values.get(name);
      if (v === undefined) throw new Error(`${layer.name}: input ${name} is not defined before it (layers out of order)`);
      return v;
    });
    values.set(layer.name, convert(layer, inputs));
    ops[layer.class_name] = (ops[layer.class_name] ?? 0) + 1;
  }
  const out = outputLayer === undefined ? undefined : values.get(outputLayer);
  if (out === undefined || out.kind === 'pad') throw new Error(`output layer ${String(outputLayer)} is missing`);
  if (byName.get(outputLayer as string)?.class_name !== 'Dense') throw new Error(`the output layer ${String(outputLayer)} must be a softmax Dense`);
  writer.output(out, 'logits');
  return { writer, ops, foldedBatchNorms: folded.size };
}
