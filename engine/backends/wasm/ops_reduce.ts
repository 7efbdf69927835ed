// The wasm launcher for sum/mean (engine/ops/reduce.ts) over the (outer, r, inner) view of a
// contiguous f32 tensor: rows (inner = 1) with f64 accumulators, or columns for short r.
// Returns false for the layouts it leaves to the op's cpu loop.
import type { Tensor } from '../../tensor.js';
import type { WasmRuntimeImpl } from './runtime.js';

export function sumWasm(
  rt: WasmRuntimeImpl,
  src: Tensor,
  out: Tensor,
  outer: number,
  r: number,
  inner: number,
  scale: number,
): boolean {
  if (src.dtype !== 'f32' || out.dtype !== 'f32') return false;
  const x = src.storage.ptr + 4 * src.offset,
    o = out.storage.ptr + 4 * out.offset;
  if (inner === 1) {
    rt.parallel('rsum_rows', [x, o, r, Math.fround(scale)], outer, Math.ceil(16384 / Math.max(1, r)));
    return true;
  }
  if (r > 64) return false; // long columns: the cpu loop's double sum keeps the reference's precision
  rt.parallel('rsum_cols', [x, o, r, inner, Math.fround(scale)], outer, Math.ceil(16384 / Math.max(1, r * inner)));
  return true;
}
