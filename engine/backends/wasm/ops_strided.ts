// The wasm launcher for elementwise rows over strided views (kernels/elementwise_strided.ts):
// what pointwiseWasm (ops_elementwise.ts) leaves, when every operand is f32 and the dims merge to
// rank ≤ 4. Returns false otherwise (rank > 4 after merging, i32, rows without a SIMD form), and
// the op runs its cpu loop over the memory.
import type { Tensor } from '../../tensor.js';
import { broadcastStrides } from '../../shape.js';
import type { WasmRuntimeImpl } from './runtime.js';
import { BINARY_WAT, UNARY_WAT } from './kernels/elementwise.js';
import { ptrOf } from './abi.js';

/** below this many elements per thread a kernel stays on the calling thread */
const PER_THREAD = 16384;

/**
 * Dims of `shape` with one stride list per operand, size-1 dims dropped and neighbours merged
 * where every operand steps through them as one; left-padded to 4. null when more than 4 remain.
 */
export function mergeDims(
  shape: readonly number[],
  strides: (readonly number[])[],
): { d: number[]; s: number[][] } | null {
  const dims: { d: number; s: number[] }[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const x = { d: shape[i], s: strides.map((st) => st[i]) };
    const p = dims[dims.length - 1];
    if (p && p.s.every((v, k) => v === x.s[k] * x.d)) dims[dims.length - 1] = { d: p.d * x.d, s: x.s };
    else dims.push(x);
  }
  if (dims.length > 4) return null;
  while (dims.length < 4) dims.unshift({ d: 1, s: strides.map(() => 0) });
  return { d: dims.map((x) => x.d), s: strides.map((_, k) => dims.map((x) => x.s[k])) };
}

export function pointwiseStridedWasm(
  rt: WasmRuntimeImpl,
  op: string,
  inputs: Tensor[],
  out: Tensor,
  shape: number[],
  alpha: number,
  beta: number,
): boolean {
  if (out.dtype !== 'f32' || inputs.some((t) => t.dtype !== 'f32')) return false;
  const kind = inputs.length === 1 && op in UNARY_WAT ? 'su' : inputs.length === 2 && op in BINARY_WAT ? 'sb' : null;
  if (!kind) return false;
  const m = mergeDims(shape, [...inputs.map((t) => broadcastStrides(t.shape, t.strides, shape)), out.strides]);
  if (!m) return false;
  const rows = m.d[0] * m.d[1] * m.d[2];
  rt.parallel(
    `${kind}_${op}`,
    [...inputs.map(ptrOf), ptrOf(out), ...m.d, ...m.s.flat(), alpha, beta],
    rows,
    Math.ceil(PER_THREAD / m.d[3]),
  );
  return true;
}
