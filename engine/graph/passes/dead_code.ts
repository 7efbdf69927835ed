// Dead-code elimination: keeps the nodes whose outputs reach the graph's outputs, and the values
// they read. Set `graph.outputs` to what a consumer wants first (an exporter keeps predictions only).
import type { Graph } from '../ir.js';

export function eliminateDeadCode(g: Graph): number {
  const live = new Set<number>(g.outputIds());
  const keep = new Set<number>();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => live.has(o))) continue;
    keep.add(n.id);
    for (const x of n.inputs) if (x !== null) live.add(x);
  }
  const remove = new Set(g.nodes.filter((n) => !keep.has(n.id)).map((n) => n.id));
  g.compact(remove);
  return remove.size;
}
