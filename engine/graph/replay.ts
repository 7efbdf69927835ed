// Replaying a graph eagerly: each node calls the engine op it recorded, with its attributes.
// This is the contract of the IR (an executor may do the same, or something faster), and what the
// tests use to check a trace against the module's own forward.
import { Tensor } from '../tensor.js';
import type { Device } from '../device.js';
import {
  anchors,
  batchNorm2d,
  concat,
  conv2d,
  dfl,
  expand,
  gatherRaw,
  logSoftmax,
  matmul,
  maxPool2d,
  narrow,
  permute,
  pointwise,
  reduceKeepdim,
  reshape,
  slice,
  softmax,
  tensor,
  topk,
  upsampleNearest2d,
} from '../ops/index.js';
import { Sym, evalDim } from './sym.js';
import type { Graph, GraphAttr, Node, OutputTree } from './ir.js';

type Ins = (Tensor | null)[];
type OpFn = (x: Ins, a: Record<string, any>) => Tensor | Tensor[];

/** Every op a meta branch records, as a call of the same engine op; anything else is an elementwise row. */
export const REPLAY: Record<string, OpFn> = {
  conv2d: ([x, w, b], a) => conv2d(x!, w!, b, a),
  batch_norm2d: ([x, rm, rv, w, b], a) =>
    batchNorm2d(x!, rm, rv, w, b, a as { training: boolean; momentum: number; eps: number }),
  max_pool2d: ([x], a) => maxPool2d(x!, a as { kernelSize: [number, number] }),
  upsample_nearest2d: ([x], a) => upsampleNearest2d(x!, a.scale),
  concat: (xs, a) => concat(xs as Tensor[], a.axis),
  dfl: ([x], a) => dfl(x!, a.regMax),
  anchors: (feats, a) => anchors(feats as Tensor[], a.strides, a.offset),
  softmax: ([x], a) => softmax(x!, a.axis),
  log_softmax: ([x], a) => logSoftmax(x!, a.axis),
  reduce: ([x], a) => {
    const r = reduceKeepdim(x!, a.op, a.axes, a.scale);
    return r.indices ? [r.values, r.indices] : r.values;
  },
  matmul: ([a, b]) => matmul(a!, b!),
  gather: ([x, index], a) => gatherRaw('gather', x!, a.axis, index!),
  topk: ([x], a) => {
    const r = topk(x!, a.k, a.axis, a.largest);
    return [r.values, r.indices];
  },
  reshape: ([x], a) => reshape(x!, a.shape),
  permute: ([x], a) => permute(x!, a.axes),
  narrow: ([x], a) => narrow(x!, a.axis, a.start, a.length),
  slice: ([x], a) => slice(x!, a.axis, a.start, a.end, a.step),
  expand: ([x], a) => expand(x!, a.shape),
};

/** Attributes with every Sym evaluated at these sizes. */
export function concreteAttrs(attrs: Record<string, GraphAttr>, env: Record<string, number>): Record<string, any> {
  const ev = (v: GraphAttr): any => (v instanceof Sym ? v.eval(env) : Array.isArray(v) ? v.map(ev) : v);
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, ev(v)]));
}

/** Runs one node on real tensors. */
export function runNode(node: Node, inputs: Ins, env: Record<string, number>): Tensor[] {
  const { layout, ...a } = concreteAttrs(node.attrs, env);
  // a spatial op marked NHWC (engine/graph/passes/to_nhwc.ts): the engine's ops are NCHW, so run it between permutes
  if (layout === 'NHWC') inputs = [permute(inputs[0]!, [0, 3, 1, 2]), ...inputs.slice(1)];
  const fn = REPLAY[node.op];
  const out = fn ? fn(inputs, a) : pointwise(node.op, inputs as Tensor[], a);
  const outs = Array.isArray(out) ? out : [out];
  return layout === 'NHWC' ? outs.map((t) => (t.ndim === 4 ? permute(t, [0, 2, 3, 1]) : t)) : outs;
}

/**
 * Runs the graph on `inputs` (device tensors) at the example sizes: parameters and buffers are
 * the module's own tensors, constants are uploaded. Returns the output structure.
 */
export function replay(graph: Graph, inputs: Tensor[], device: Device): any {
  const env = { ...graph.symbols };
  const vals = new Map<number, Tensor>();
  graph.inputs.forEach((id, i) => vals.set(id, inputs[i]));
  for (const v of graph.values) {
    if (v.kind === 'parameter' || v.kind === 'buffer') vals.set(v.id, v.tensor!);
    else if (v.kind === 'constant') {
      if (!v.data) throw new Error(`replay: constant %${v.id} has no values`);
      vals.set(
        v.id,
        tensor(
          v.data,
          v.shape.map((d) => evalDim(d, env)),
          { dtype: v.dtype, device },
        ),
      );
    }
  }
  for (const n of graph.nodes) {
    const outs = runNode(
      n,
      n.inputs.map((i) => (i === null ? null : vals.get(i)!)),
      env,
    );
    n.outputs.forEach((o, k) => vals.set(o, outs[k]));
  }
  const build = (t: OutputTree): any => (typeof t === 'number' ? vals.get(t) : t.map(build));
  return build(graph.outputs);
}
