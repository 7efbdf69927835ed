// Elementwise ops whose operands are blocks of contiguous rows at arbitrary row strides: channel
// slices of a concat buffer (C2f's split halves and their gradients, a compiled graph's planes)
// read as (rows, inner). ops_elementwise.ts's contiguous kernels (u_OP, b_OP) run once per row,
// each split across the threads; the arithmetic is theirs, so results equal the contiguous case.
import type { Tensor } from '../../tensor.js';
import { broadcastStrides } from '../../shape.js';
import type { WasmRuntimeImpl } from './runtime.js';

/** rows shorter than this stay on the cpu loop (one kernel call per row would cost more) */
const MIN_INNER = 256;
const MAX_ROWS = 4096;
const PER_THREAD = 16384;

/**
 * Runs u_OP / b_OP per row when every operand and the output, broadcast to `shape`, are rows of
 * `inner` contiguous elements (inner = the longest suffix of dims contiguous in all of them, none
 * broadcast along it). Returns false for other layouts.
 */
export function rowsWasm(
  rt: WasmRuntimeImpl,
  op: string,
  inputs: Tensor[],
  out: Tensor,
  shape: number[],
  alpha: number,
  beta: number,
): boolean {
  const all = [...inputs, out];
  const strides = all.map((t, k) => (k < inputs.length ? broadcastStrides(t.shape, t.strides, shape) : t.strides));
  let split = shape.length,
    inner = 1;
  while (split > 0 && strides.every((s) => s[split - 1] === inner || shape[split - 1] === 1)) {
    inner *= shape[split - 1];
    split--;
  }
  const outerDims = shape.slice(0, split);
  const rows = outerDims.reduce((a, b) => a * b, 1);
  if (inner < MIN_INNER || rows > MAX_ROWS) return false;
  const kernel = inputs.length === 1 ? `u_${op}` : `b_${op}`;
  const chunks = Math.ceil(inner / 1024);
  const idx = outerDims.map(() => 0);
  for (let r = 0; r < rows; r++) {
    const ptrs = all.map((t, k) => t.storage.ptr + 4 * (t.offset + idx.reduce((s, i, d) => s + i * strides[k][d], 0)));
    rt.parallel(kernel, [...ptrs, inner, alpha, beta], chunks, PER_THREAD / 1024);
    for (let d = idx.length - 1; d >= 0 && ++idx[d] === outerDims[d]; d--) idx[d] = 0;
  }
  return true;
}
