// BN folding: conv2d -> batch_norm2d (eval) becomes one conv2d whose weight and bias absorb the
// normalization, as Ultralytics' fuse_conv_and_bn: s = gamma / sqrt(var + eps), w' = w * s (per
// output channel), b' = beta + (b - mean) * s, in float32 arithmetic (each step rounded). The new
// weight and bias are constants named after the conv (`model.0.conv.weight`, `.bias`).
import type { Graph } from '../ir.js';

/** Reads a parameter/buffer/constant's values on the host (the caller decides how: dataSync, a prefetched state dict). */
export type ReadValue = (id: number) => Float32Array;

export function foldBatchNorm(g: Graph, read: ReadValue): number {
  const users = g.users();
  const remove = new Set<number>();
  const outputs = new Set(g.outputIds());
  for (const bn of g.nodes) {
    if (bn.op !== 'batch_norm2d' || bn.attrs.training) continue;
    const x = bn.inputs[0]!;
    const conv = g.values[x].producer === undefined ? undefined : g.nodes[g.values[x].producer!];
    if (!conv || conv.op !== 'conv2d' || conv.attrs.act || users[x].length !== 1 || outputs.has(x)) continue;
    const [, rmId, rvId, gId, bId] = bn.inputs;
    if (rmId === null || rvId === null) continue;
    const f = Math.fround;
    const w = read(conv.inputs[1]!),
      b0 = conv.inputs[2] === null ? null : read(conv.inputs[2]!);
    const mean = read(rmId),
      variance = read(rvId);
    const cout = mean.length,
      per = w.length / cout,
      eps = f(bn.attrs.eps as number);
    const gamma = gId === null ? new Float32Array(cout).fill(1) : read(gId),
      beta = bId === null ? new Float32Array(cout) : read(bId);
    const weight = new Float32Array(w.length),
      bias = new Float32Array(cout);
    for (let o = 0; o < cout; o++) {
      const s = f(gamma[o] / f(Math.sqrt(f(variance[o] + eps))));
      for (let j = 0; j < per; j++) weight[o * per + j] = f(w[o * per + j] * s);
      bias[o] = f(beta[o] + f(f((b0 ? b0[o] : 0) - mean[o]) * s));
    }
    const wv = g.values[conv.inputs[1]!];
    conv.inputs[1] = g.addValue({
      kind: 'constant',
      shape: [...wv.shape],
      dtype: 'f32',
      name: `${conv.module}.weight`,
      data: weight,
    });
    conv.inputs[2] = g.addValue({
      kind: 'constant',
      shape: [cout],
      dtype: 'f32',
      name: `${conv.module}.bias`,
      data: bias,
    });
    g.replaceUses(bn.outputs[0], x);
    remove.add(bn.id);
  }
  g.compact(remove);
  return remove.size;
}
