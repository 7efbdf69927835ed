// An elementwise chain as one kernel: the rows of engine/ops/elementwise.ts composed into a single
// expression for the one slot of shaders/elementwise.wgsl (webgpu), or into one loop (cpu). The
// chain's outside values are the kernel's operands x, y, z (a, b, c); the rows' scalars take the
// kernel's two, p.alpha and p.beta, in order. Intermediates never leave registers.
import type { Tensor } from '../tensor.js';
import type { WebGPUDevice } from '../device.js';
import { elementwiseRow } from '../ops/elementwise.js';
import { broadcastStrides, contiguousStrides, isContiguous, numel, sameShape, stridedIndices } from '../shape.js';
import type { Graph } from './ir.js';

export interface ChainKernel {
  /** the WGSL expression of x, y, z, p.alpha, p.beta */
  expr: string;
  alpha: number;
  beta: number;
  /** the same on the host: operand values in, f32-rounded after every row as the eager ops store */
  cpu: (ops: number[]) => number;
}

const VARS = ['x', 'y', 'z'];

/** Composes the rows `nodes` (a chain: each row reads the previous row's result) over `inputs`. */
export function composeChain(g: Graph, nodes: number[], inputs: number[]): ChainKernel {
  const scalars: number[] = [];
  let expr = '';
  const steps: ((ops: number[], prev: number) => number)[] = [];
  let prevOut = -1;
  for (const id of nodes) {
    const n = g.nodes[id];
    const row = elementwiseRow(n.op);
    // operand j of this row: the previous row's result, or outside value k (x, y, z)
    const src = n.inputs.map((v) => (v === prevOut ? -1 : inputs.indexOf(v!)));
    if (src.some((k) => k < -1 || (k === -1 && prevOut < 0)))
      throw new Error(`compile: chain node %${n.outputs[0]} (${n.op}) reads a value outside its chain's operands`);
    const mine: Record<string, string> = {};
    const rowScalars: number[] = [];
    for (const name of ['alpha', 'beta'] as const) {
      if (!row.wgsl.includes(`p.${name}`)) continue;
      mine[name] = scalars.length === 0 ? 'p.alpha' : 'p.beta';
      if (scalars.length >= 2) throw new Error('compile: a chain kernel has two scalars (p.alpha, p.beta)');
      const v = Math.fround(Number(n.attrs[name] ?? 0));
      scalars.push(v);
      rowScalars.push(v);
    }
    const prevExpr = expr;
    expr = row.wgsl.replace(/\bp\.(alpha|beta)\b|\b[xyz]\b/g, (m, s) => {
      if (s) return mine[s];
      const k = src[VARS.indexOf(m)];
      return k === -1 ? `(${prevExpr})` : VARS[k];
    });
    const alpha = row.wgsl.includes('p.alpha') ? rowScalars[0] : 0;
    const beta = row.wgsl.includes('p.beta') ? rowScalars[rowScalars.length - 1] : 0;
    const f = row.cpu;
    const pick = (ops: number[], prev: number, j: number) => (j >= src.length ? 0 : src[j] === -1 ? prev : ops[src[j]]);
    steps.push((ops, prev) => Math.fround(f(pick(ops, prev, 0), pick(ops, prev, 1), pick(ops, prev, 2), alpha, beta)));
    prevOut = n.outputs[0];
  }
  return {
    expr,
    alpha: scalars[0] ?? 0,
    beta: scalars[1] ?? 0,
    cpu: (ops) => {
      let v = 0;
      for (const s of steps) v = s(ops, v);
      return v;
    },
  };
}

/**
 * A chain kernel over fixed tensors, ready to run: `ins` broadcast to `out`'s shape; `out` may be
 * any strided view (a concat slice). On cpu the index maps are made here, once. `f16` names the
 * bindings (a, b, c, out) stored as f16 (executor_f16.ts's conversions).
 */
export function prepareChain(k: ChainKernel, ins: Tensor[], out: Tensor, f16?: readonly string[]): () => void {
  const shape = out.shape;
  const strides = ins.map((t) => broadcastStrides(t.shape, t.strides, shape));
  const n = numel(shape);
  if (out.device.type !== 'webgpu') {
    // cpu, and wasm chains without a SIMD kernel: a host loop over the memory's views
    const idx = ins.map((t, j) => stridedIndices(shape, strides[j], t.offset));
    const oIdx = stridedIndices(shape, out.strides, out.offset);
    const vals = new Array<number>(ins.length).fill(0);
    const src = ins.map((t) => t.storage.array!),
      dst = out.storage.array!; // slots live as long as the plan
    return () => {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < ins.length; j++) vals[j] = src[j][idx[j] ? idx[j]![i] : ins[j].offset + i];
        dst[oIdx ? oIdx[i] : out.offset + i] = k.cpu(vals);
      }
    };
  }
  const gpu = (out.device as WebGPUDevice).gpu;
  const outContig = isContiguous(shape, out.strides);
  const fast = outContig && ins.every((t, j) => sameShape(t.shape, shape) && isContiguous(shape, strides[j])) ? 1 : 0;
  // an operand in the output's own buffer (a slice of the same concat) is read through `out`
  const inOut = ins.map((t) => t.storage.buffer === out.storage.buffer);
  const params = {
    n,
    rank: shape.length,
    fast,
    alpha: k.alpha,
    beta: k.beta,
    from_out: inOut.reduce((m, f, j) => m | (f ? 1 << j : 0), 0),
    off_out: out.offset,
    off_a: ins[0].offset,
    off_b: ins[1]?.offset ?? 0,
    off_c: ins[2]?.offset ?? 0,
    shape,
    st_out: outContig ? contiguousStrides(shape) : out.strides,
    st_a: strides[0],
    st_b: strides[1] ?? [],
    st_c: strides[2] ?? [],
  };
  const buffers: Record<string, GPUBuffer> = { out: out.storage.buffer! };
  ins.forEach((t, j) => !inOut[j] && (buffers['abc'[j]] = t.storage.buffer!));
  return () =>
    gpu.dispatch(
      {
        file: 'elementwise.wgsl',
        slots: { TA: 'f32', TB: 'f32', TC: 'f32', TOUT: 'f32', EXPR: k.expr },
        ...(f16 && { f16 }),
      },
      buffers,
      params,
      gpu.grid1d(n, 256),
    );
}
