// The wasm launcher for engine/ops/elementwise.ts: picks a SIMD kernel (kernels/elementwise.ts,
// kernels/copy.ts) for the layouts that dominate a network, and returns false for the rest
// (strided or multi-axis broadcast operands: ops_strided.ts; i32 arithmetic, rows without a SIMD
// form: the op's cpu loop over the same memory).
import type { Tensor } from '../../tensor.js';
import { broadcastStrides, isContiguous, numel, sameShape } from '../../shape.js';
import type { WasmRuntimeImpl } from './runtime.js';
import { BINARY_WAT, UNARY_WAT } from './kernels/elementwise.js';
import { ptrOf } from './abi.js';

/** below this many elements per thread a kernel stays on the calling thread */
const PER_THREAD = 16384;

export function pointwiseWasm(
  rt: WasmRuntimeImpl,
  op: string,
  inputs: Tensor[],
  out: Tensor,
  shape: number[],
  alpha: number,
  beta: number,
): boolean {
  const n = numel(shape);
  if (op === 'identity' && inputs[0].dtype === out.dtype) return copyWasm(rt, inputs[0], out, shape);
  if (out.dtype !== 'f32' || inputs.some((t) => t.dtype !== 'f32') || !isContiguous(shape, out.strides)) return false;
  const full = (t: Tensor) => sameShape(t.shape, shape) && isContiguous(shape, t.strides);
  const chunks = Math.ceil(n / 1024),
    minChunks = PER_THREAD / 1024;
  if (inputs.length === 1) {
    if (!(op in UNARY_WAT)) return false;
    if (!full(inputs[0])) return false; // strided views: ops_strided.ts
    rt.parallel(`u_${op}`, [ptrOf(inputs[0]), ptrOf(out), n, alpha, beta], chunks, minChunks);
    return true;
  }
  if (inputs.length !== 2 || !(op in BINARY_WAT)) return false;
  const [a, b] = inputs;
  if (full(a) && full(b)) {
    rt.parallel(`b_${op}`, [ptrOf(a), ptrOf(b), ptrOf(out), n, alpha, beta], chunks, minChunks);
    return true;
  }
  // one operand full, the other a per-channel vector: rows of `inner` elements, value b[row % C]
  const side = full(a) ? 'bc' : full(b) ? 'cb' : null;
  if (!side) return false; // strided views: ops_strided.ts
  const pc = perChannel(side === 'bc' ? b : a, shape);
  if (!pc) return false; // strided views: ops_strided.ts
  const rows = n / pc.inner;
  rt.parallel(
    `${side}_${op}`,
    [ptrOf(a), ptrOf(b), ptrOf(out), pc.inner, pc.C, alpha, beta],
    rows,
    Math.ceil(PER_THREAD / pc.inner),
  );
  return true;
}

/**
 * When t, broadcast to `shape`, reads element (r % C) of its block for every row r of `inner`
 * trailing elements: leading broadcast dims, then C contiguous values, then broadcast dims.
 */
function perChannel(t: Tensor, shape: number[]): { inner: number; C: number } | null {
  const st = broadcastStrides(t.shape, t.strides, shape);
  const dims = shape.map((d, i) => ({ d, s: st[i] })).filter((x) => x.d !== 1);
  let last = dims.length - 1;
  while (last >= 0 && dims[last].s === 0) last--;
  if (last < 0) return { inner: dims.length ? dims[dims.length - 1].d : 1, C: 1 }; // a scalar
  let first = last;
  let want = 1;
  for (; first >= 0 && dims[first].s !== 0; first--) {
    if (dims[first].s !== want) return null;
    want *= dims[first].d;
  }
  for (let i = first; i >= 0; i--) if (dims[i].s !== 0) return null;
  const inner = numel(dims.slice(last + 1).map((x) => x.d));
  return inner >= 1 ? { inner, C: want } : null;
}

/** dst (any view) = src (any view, broadcast): collapsed to rank 4, one row per task. */
export function copyWasm(rt: WasmRuntimeImpl, src: Tensor, dst: Tensor, shape: number[]): boolean {
  let dims = shape
    .map((d, i) => ({ d, s: broadcastStrides(src.shape, src.strides, shape)[i], o: dst.strides[i] }))
    .filter((x) => x.d !== 1);
  const merged: typeof dims = [];
  for (const x of dims) {
    const p = merged[merged.length - 1];
    if (p && p.s === x.s * x.d && p.o === x.o * x.d) merged[merged.length - 1] = { d: p.d * x.d, s: x.s, o: x.o };
    else merged.push({ ...x });
  }
  dims = merged;
  if (dims.length > 4) return false;
  while (dims.length < 4) dims.unshift({ d: 1, s: 0, o: 0 });
  const rows = dims[0].d * dims[1].d * dims[2].d;
  rt.parallel(
    'copy4',
    [ptrOf(src), ptrOf(dst), ...dims.map((x) => x.d), ...dims.map((x) => x.s), ...dims.map((x) => x.o)],
    rows,
    Math.ceil(PER_THREAD / dims[3].d),
  );
  return true;
}
