// Constant folding: a node whose inputs are all constants with values, or that depends on shapes
// only (`anchors`) when those shapes are fixed, is run once on the cpu and replaced by constants.
// In a fixed-size graph this turns the head's anchor points and strides into constants named
// `<head>.anchors` and `<head>.strides` (Ultralytics' attribute names).
import { Tensor } from '../../tensor.js';
import { cpu } from '../../device.js';
import { tensor } from '../../ops/create.js';
import { runNode } from '../replay.js';
import type { Graph } from '../ir.js';

/** Ops whose outputs depend on their inputs' shapes only. */
const SHAPE_ONLY = new Set(['anchors']);
const OUTPUT_NAMES: Record<string, string[]> = { anchors: ['anchors', 'strides'] };

export function foldConstants(g: Graph): number {
  const fixed = (id: number) => g.values[id].shape.every((d) => typeof d === 'number');
  const remove = new Set<number>();
  for (const n of g.nodes) {
    const ins = n.inputs.filter((i): i is number => i !== null);
    const shapeOnly = SHAPE_ONLY.has(n.op) && ins.every(fixed);
    if (
      !shapeOnly &&
      !(ins.length > 0 && ins.every((i) => g.values[i].kind === 'constant' && g.values[i].data && fixed(i)))
    )
      continue;
    const args = n.inputs.map((i) => {
      if (i === null) return null;
      const v = g.values[i];
      return shapeOnly
        ? Tensor.empty(g.shapeOf(i), v.dtype, cpu)
        : tensor(v.data!, g.shapeOf(i), { dtype: v.dtype, device: cpu });
    });
    const outs = runNode(n, args, g.symbols);
    n.outputs.forEach((o, k) => {
      const name = OUTPUT_NAMES[n.op]?.[k];
      const id = g.addValue({
        kind: 'constant',
        shape: [...outs[k].shape],
        dtype: outs[k].dtype,
        data: outs[k].dataSync(),
        ...(name && { name: `${n.module}.${name}` }),
      });
      g.replaceUses(o, id);
    });
    remove.add(n.id);
  }
  g.compact(remove);
  return remove.size;
}
