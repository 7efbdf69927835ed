// Shape inference: every value's shape at given sizes, by running each node's own op on the meta
// device (the same shape code the op runs eagerly). Use it after editing a graph, or to get a
// symbolic graph's shapes at other sizes; a node whose recorded shape disagrees is an error.
import { Tensor } from '../../tensor.js';
import { meta } from '../../device.js';
import { runNode } from '../replay.js';
import type { Graph } from '../ir.js';

export function inferShapes(g: Graph, env: Record<string, number> = g.symbols, check = true): number[][] {
  const shapes: number[][] = g.values.map(() => []);
  const metas = new Map<number, Tensor>();
  const get = (id: number) => {
    let t = metas.get(id);
    if (!t) {
      const v = g.values[id];
      if (v.kind === 'node') throw new Error(`inferShapes: %${id} is read before ${g.nodes[v.producer!].op} writes it`);
      t = Tensor.empty(g.shapeOf(id, env), v.dtype, meta);
      metas.set(id, t);
      shapes[id] = [...t.shape];
    }
    return t;
  };
  for (const n of g.nodes) {
    const outs = runNode(
      n,
      n.inputs.map((i) => (i === null ? null : get(i))),
      env,
    );
    n.outputs.forEach((o, k) => {
      metas.set(o, outs[k]);
      shapes[o] = [...outs[k].shape];
      const want = g.shapeOf(o, env);
      if (check && want.join() !== shapes[o].join())
        throw new Error(
          `inferShapes: ${n.op} at '${n.module}' gives [${shapes[o]}] for %${o}, the graph says [${want}]`,
        );
    });
  }
  for (const v of g.values) if (!shapes[v.id].length && v.shape.length) get(v.id);
  return shapes;
}
