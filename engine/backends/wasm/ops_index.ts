// The wasm launchers for gather (and index_select, which gathers through an expanded index) and
// scatter_add (also the backward of gather, index_select and topk): kernels/gather.ts, one task
// per fibre of the index along the axis. The ops check the index values first (as on cpu).
// Return false when the index's other dims do not merge to 3 (the op's cpu loop runs instead).
import type { Tensor } from '../../tensor.js';
import { contiguousStrides } from '../../shape.js';
import type { WasmRuntimeImpl } from './runtime.js';
import { mergeDims } from './ops_strided.js';
import { ptrOf } from './abi.js';

/** fibres per thread at least this many elements */
const PER_THREAD = 8192;

/** the index's dims other than `ax`, merged across the operands' strides to (d0, d1, d2) */
function fibres(shape: readonly number[], ax: number, strides: (readonly number[])[]) {
  const others = shape.map((_, d) => d).filter((d) => d !== ax);
  const m = mergeDims(
    others.map((d) => shape[d]),
    strides.map((st) => others.map((d) => st[d])),
  );
  if (!m || m.d[0] !== 1) return null;
  return { d: m.d.slice(1), s: m.s.map((s) => s.slice(1)), tasks: m.d[1] * m.d[2] * m.d[3] };
}

/** out (index's shape, contiguous) = x gathered along ax */
export function gatherWasm(rt: WasmRuntimeImpl, x: Tensor, ax: number, index: Tensor, out: Tensor): boolean {
  const os = contiguousStrides(index.shape);
  const f = fibres(index.shape, ax, [x.strides, index.strides, os]);
  if (!f) return false;
  const n = index.shape[ax];
  rt.parallel(
    'gather_ax',
    [
      ptrOf(x),
      ptrOf(index),
      ptrOf(out),
      ...f.d,
      n,
      ...f.s[0],
      ...f.s[1],
      index.strides[ax],
      ...f.s[2],
      os[ax],
      x.strides[ax],
    ],
    f.tasks,
    Math.ceil(PER_THREAD / Math.max(1, n)),
  );
  return true;
}

/** out (contiguous, offset 0) += src scattered along ax at the index */
export function scatterAddWasm(rt: WasmRuntimeImpl, out: Tensor, ax: number, index: Tensor, src: Tensor): boolean {
  const os = contiguousStrides(out.shape);
  const f = fibres(index.shape, ax, [os, index.strides, src.strides]);
  if (!f) return false;
  const n = index.shape[ax];
  rt.parallel(
    'scatter_add_ax',
    [
      ptrOf(out),
      ptrOf(index),
      ptrOf(src),
      ...f.d,
      n,
      ...f.s[0],
      ...f.s[1],
      index.strides[ax],
      ...f.s[2],
      src.strides[ax],
      os[ax],
      out.dtype === 'i32' ? 1 : 0,
    ],
    f.tasks,
    Math.ceil(PER_THREAD / Math.max(1, n)),
  );
  return true;
}

/** values and i32 positions (outer, inner) of the max (min) over r of a contiguous f32 (outer, r, inner) block */
export function extremumWasm(
  rt: WasmRuntimeImpl,
  src: Tensor,
  values: Tensor,
  indices: Tensor,
  outer: number,
  r: number,
  inner: number,
  isMin: boolean,
): boolean {
  if (src.dtype !== 'f32' || r < 1) return false;
  rt.parallel(
    'rext',
    [ptrOf(src), ptrOf(values), ptrOf(indices), r, inner, isMin ? 1 : 0],
    outer,
    Math.ceil(16384 / Math.max(1, r * inner)),
  );
  return true;
}

/** the most entries a topk row keeps in the kernel's insertion list (beyond: the op's sort) */
const TOPK_MAX_K = 256;

/** values and i32 positions (outer, k, inner) of the k largest (smallest) of a contiguous f32 (outer, r, inner) block */
export function topkWasm(
  rt: WasmRuntimeImpl,
  src: Tensor,
  values: Tensor,
  indices: Tensor,
  outer: number,
  r: number,
  inner: number,
  k: number,
  largest: boolean,
): boolean {
  if (src.dtype !== 'f32' || k < 1 || k > TOPK_MAX_K) return false;
  rt.parallel(
    'topk_rows',
    [ptrOf(src), ptrOf(values), ptrOf(indices), r, inner, k, largest ? 1 : 0],
    outer * inner,
    Math.ceil(16384 / Math.max(1, r)),
  );
  return true;
}
