// Operation counts from a graph, with thop's rules (what Ultralytics' get_flops reports, where
// GFLOPs = 2 * ops / 1e9): a conv counts output elements x (in / groups) x kh x kw multiply-adds
// (bias ignored); a BatchNorm 4 x input elements; a matmul output elements x K (thop's Linear);
// `dfl` what thop counts for Ultralytics' DFL, a fixed 1x1 conv from 16 bins to 1 on (B, 16, 4, A):
// input elements. Activations, pooling, nearest upsampling, concat, views and elementwise
// arithmetic count nothing.
import type { Graph, Node } from './ir.js';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** thop's count for one node (multiply-adds), at sizes env (default: the example trace's). */
export function nodeOps(g: Graph, n: Node, env: Record<string, number> = g.symbols): number {
  const shape = (id: number | null) => (id === null ? [] : g.shapeOf(id, env));
  switch (n.op) {
    case 'conv2d': {
      const [, cg, kh, kw] = shape(n.inputs[1]);
      return prod(shape(n.outputs[0])) * cg * kh * kw;
    }
    case 'batch_norm2d':
      return 4 * prod(shape(n.inputs[0]));
    case 'matmul': {
      const a = shape(n.inputs[0]);
      return prod(shape(n.outputs[0])) * a[a.length - 1];
    }
    case 'dfl':
      return prod(shape(n.inputs[0]));
    default:
      return 0;
  }
}

/** Total multiply-adds, and per module path prefix when `depth` is given (e.g. 2: `model.3`). */
export function graphOps(
  g: Graph,
  env: Record<string, number> = g.symbols,
): { total: number; byModule: Map<string, number> } {
  let total = 0;
  const byModule = new Map<string, number>();
  for (const n of g.nodes) {
    const ops = nodeOps(g, n, env);
    if (!ops) continue;
    total += ops;
    byModule.set(n.module, (byModule.get(n.module) ?? 0) + ops);
  }
  return { total, byModule };
}
