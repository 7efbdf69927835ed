// NCHW -> NHWC layout, for the TF-family exporters (TFLite, TF.js, SavedModel keep images NHWC).
// Spatial ops (conv2d, max_pool2d, upsample_nearest2d, batch_norm2d) take and give NHWC and are
// marked `layout: 'NHWC'` (weights stay OIHW: an exporter transposes them to its own order); the
// 4-D values between them are NHWC; concat and narrow on them get their axis remapped;
// elementwise ops between NHWC values stay as they are. Everything else (reshape, the head's
// decoding) reads NCHW, so a `permute` goes in where a value changes layout, and the graph's
// inputs and outputs keep NCHW unless `nhwcInputs` (then the input is declared NHWC).
import { ELEMENTWISE_OPS } from '../../ops/elementwise.js';
import type { Graph, Node } from '../ir.js';
import type { Dim } from '../sym.js';

const SPATIAL = new Set(['conv2d', 'max_pool2d', 'upsample_nearest2d', 'batch_norm2d']);
const TO_NHWC = [0, 2, 3, 1],
  TO_NCHW = [0, 3, 1, 2];
/** where NCHW axis a lives in NHWC */
const AXIS = [0, 3, 1, 2];

export function toNHWC(g: Graph, opts: { nhwcInputs?: boolean } = {}): number {
  const nhwc = new Set<number>();
  const converted = new Map<string, number>(); // `${value}:${layout}` -> the permuted value
  const nodes: Node[] = [];
  let permutes = 0;
  const permuted = (s: Dim[], axes: number[]) => axes.map((a) => s[a]);
  const is4d = (id: number) => g.values[id].shape.length === 4;
  /** the value as `want` layout, adding a permute node when it is in the other */
  const as = (id: number, want: 'NHWC' | 'NCHW', module: string): number => {
    if (!is4d(id) || nhwc.has(id) === (want === 'NHWC')) return id;
    const key = `${id}:${want}`;
    const known = converted.get(key);
    if (known !== undefined) return known;
    const axes = want === 'NHWC' ? TO_NHWC : TO_NCHW;
    const out = g.addValue({
      kind: 'node',
      shape: permuted(g.values[id].shape, axes),
      dtype: g.values[id].dtype,
      producer: -1,
      index: 0,
    });
    nodes.push({ id: -1, op: 'permute', inputs: [id], outputs: [out], attrs: { axes }, module, moduleType: 'layout' });
    g.values[out].producer = nodes.length - 1;
    if (want === 'NHWC') nhwc.add(out);
    converted.set(key, out);
    permutes++;
    return out;
  };
  const markOut = (n: Node) => {
    for (const o of n.outputs)
      if (is4d(o)) {
        g.values[o].shape = permuted(g.values[o].shape, TO_NHWC);
        nhwc.add(o);
      }
  };
  if (opts.nhwcInputs)
    for (const i of g.inputs)
      if (is4d(i)) {
        g.values[i].shape = permuted(g.values[i].shape, TO_NHWC);
        nhwc.add(i);
      }
  for (const n of g.nodes) {
    const tensors = n.inputs.filter((i): i is number => i !== null);
    if (SPATIAL.has(n.op)) {
      n.inputs[0] = as(n.inputs[0]!, 'NHWC', n.module);
      n.attrs.layout = 'NHWC';
      markOut(n);
    } else if ((n.op === 'concat' || n.op === 'narrow') && tensors.every(is4d) && tensors.some((i) => nhwc.has(i))) {
      n.inputs = n.inputs.map((i) => as(i!, 'NHWC', n.module));
      n.attrs.axis = AXIS[n.attrs.axis as number];
      markOut(n);
    } else if (
      ELEMENTWISE_OPS.has(n.op) &&
      tensors.some((i) => nhwc.has(i)) &&
      tensors.every((i) => is4d(i) || g.values[i].shape.length === 0)
    ) {
      n.inputs = n.inputs.map((i) => (i === null ? null : as(i, 'NHWC', n.module)));
      markOut(n);
    } else n.inputs = n.inputs.map((i) => (i === null ? null : as(i, 'NCHW', n.module)));
    nodes.push(n);
    n.outputs.forEach((o) => (g.values[o].producer = nodes.length - 1));
  }
  // outputs keep NCHW
  const back = (t: typeof g.outputs): typeof g.outputs => (typeof t === 'number' ? as(t, 'NCHW', '') : t.map(back));
  g.outputs = back(g.outputs);
  nodes.forEach((n, i) => (n.id = i));
  g.nodes.splice(0, g.nodes.length, ...nodes);
  return permutes;
}
