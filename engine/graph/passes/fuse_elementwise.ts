// Elementwise-chain fusion, for an executor: finds chains of elementwise nodes (the table rows of
// engine/ops/elementwise.ts) where each link's output has exactly one reader, the next link, and
// the same shape as the chain's result. Such a chain can run as one kernel that keeps the
// intermediates in registers. The pass marks each node with `fusion` (its chain's index) and
// returns the chains; the graph's semantics do not change.
import { ELEMENTWISE_OPS } from '../../ops/elementwise.js';
import { dimString } from '../sym.js';
import type { Graph } from '../ir.js';

export interface Chain {
  /** node ids in execution order */
  nodes: number[];
  /** values read from outside the chain, in first-use order */
  inputs: number[];
  /** the chain's one result */
  output: number;
}

export function fuseElementwise(g: Graph): Chain[] {
  const users = g.users();
  const outputs = new Set(g.outputIds());
  const taken = new Set<number>();
  const sameValueShape = (a: number, b: number) =>
    g.values[a].shape.map(dimString).join() === g.values[b].shape.map(dimString).join();
  const chains: Chain[] = [];
  for (const n of g.nodes) {
    if (taken.has(n.id) || !ELEMENTWISE_OPS.has(n.op) || n.outputs.length !== 1) continue;
    const nodes = [n.id];
    let cur = n;
    for (;;) {
      const out = cur.outputs[0];
      if (outputs.has(out) || users[out].length !== 1) break;
      const next = g.nodes[users[out][0]];
      if (!ELEMENTWISE_OPS.has(next.op) || taken.has(next.id) || !sameValueShape(next.outputs[0], out)) break;
      nodes.push(next.id);
      cur = next;
    }
    if (nodes.length < 2) continue;
    const inside = new Set(nodes.flatMap((k) => g.nodes[k].outputs));
    const inputs: number[] = [];
    for (const k of nodes)
      for (const i of g.nodes[k].inputs) if (i !== null && !inside.has(i) && !inputs.includes(i)) inputs.push(i);
    nodes.forEach((k) => {
      taken.add(k);
      g.nodes[k].fusion = chains.length;
    });
    chains.push({ nodes, inputs, output: cur.outputs[0] });
  }
  return chains;
}
