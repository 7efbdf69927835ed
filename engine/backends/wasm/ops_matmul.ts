// matmul on the wasm device, ONE function: (batch, M, K) @ (batch, K, N) through the `mm` kernel
// (kernels/matmul.ts); the packed-panel GEMM launcher (gemm.ts) takes it over when wired in.
// A is read through its strides (a transposed view costs nothing); B needs unit column stride.
import type { WasmRuntimeImpl } from './runtime.js';
import { gemmWasm } from './ops_conv.js';

export interface MatOperand {
  /** byte offset of element (0, 0, 0) */
  ptr: number;
  /** element strides (batch, row, col); batch stride 0 = broadcast */
  strides: readonly number[];
}

export function matmulWasm(
  rt: WasmRuntimeImpl,
  a: MatOperand,
  b: MatOperand,
  out: number,
  batch: number,
  M: number,
  N: number,
  K: number,
) {
  if (b.strides[2] !== 1 && N > 1) throw new Error('matmulWasm: B needs unit column stride (make it contiguous first)');
  for (let i = 0; i < batch; i++)
    gemmWasm(
      rt,
      a.ptr + 4 * i * a.strides[0],
      b.ptr + 4 * i * b.strides[0],
      out + 4 * i * M * N,
      M,
      N,
      K,
      a.strides[1],
      a.strides[2],
      b.strides[1],
      N,
      false,
    );
}
