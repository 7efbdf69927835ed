// The traced graph the fixed-size formats (ncnn, OpenVINO static) lower: the model's eval forward
// traced at one input size, predictions only, BatchNorm folded into the convs, and constants folded
// (the head's anchor points and strides, and what is computed from them alone, become constants),
// as pnnx / ov.convert_model fold them for a static input shape.
//
// Imports: engine/graph, models (type), ./exporter (hostWeights).
import { traceModule, type Graph } from '../../engine/graph/index.js';
import { eliminateDeadCode } from '../../engine/graph/passes/dead_code.js';
import { foldBatchNorm } from '../../engine/graph/passes/fold_batch_norm.js';
import { foldConstants } from '../../engine/graph/passes/fold_constants.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { hostWeights, type HostWeights } from './exporter.js';

export interface StaticGraph {
  g: Graph;
  weights: HostWeights;
  /** host values of a parameter, buffer or constant */
  read: (id: number) => Float32Array;
}

export async function staticGraph(model: PoseModel, batch: number, [h, w]: [number, number]): Promise<StaticGraph> {
  const modes = model.modules().map((m) => [m, m.training] as const);
  model.eval();
  let g: Graph;
  try {
    g = traceModule(model, [[batch, 3, h, w]]);
  } finally {
    for (const [m, t] of modes) m.training = t;
  }
  g.outputs = g.outputIds()[0]; // (B, 4 + nc + nk, A)
  eliminateDeadCode(g);
  const weights = await hostWeights(model);
  const read = (id: number): Float32Array => {
    const v = g.values[id];
    const data = (v.data as Float32Array | undefined) ?? (v.name ? weights.get(v.name)?.data : undefined);
    if (!data) throw new Error(`export: no host values for ${v.kind} %${id} ${v.name ?? ''}`);
    return data;
  };
  foldBatchNorm(g, read);
  foldConstants(g);
  eliminateDeadCode(g);
  g.compact();
  return { g, weights, read };
}

/** Which values carry the batch axis (computed from the input), as opposed to constants. */
export function batchedValues(g: Graph): boolean[] {
  const out = g.values.map((v) => v.kind === 'input');
  for (const n of g.nodes) {
    const b = n.inputs.some((i) => i !== null && out[i]);
    for (const o of n.outputs) out[o] = b;
  }
  return out;
}
