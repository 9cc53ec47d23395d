import { attr, OnnxGraphBuilder, type Dim } from '../../src/onnx/graph-builder';

/**
 * A tiny model built with the project's graph builder: per-image channel means (ReduceMean over H
 * and W) times a 3 × classes matrix, so that image i filled with the value v scores [v, 2v, 3v, ...]
 * (class k: (k + 1) · the mean of channel k mod 3). Input `pixels` [batch, 3, cropSize, cropSize],
 * output `scores` [batch, classes]; `batch` is a number for a fixed batch axis.
 */
export function channelMeanModel(batch: Dim, cropSize: number, classes: number): Buffer {
  const g = new OnnxGraphBuilder('channel-means');
  const input = g.addInput('pixels', [batch, 3, cropSize, cropSize]);
  const means = g.addNode('ReduceMean', [input], ['means'], { axes: attr.ints([2, 3]), keepdims: attr.int(0) });
  const weight = new Float32Array(3 * classes);
  for (let k = 0; k < classes; k++) weight[(k % 3) * classes + k] = k + 1;
  const w = g.addInitializer('weight', [3, classes], weight);
  const b = g.addInitializer('bias', [classes], new Float32Array(classes));
  g.addNode('Gemm', [means, w, b], ['scores']);
  g.addOutput('scores', [batch, classes]);
  return g.toBuffer();
}
