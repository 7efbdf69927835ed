// The wasm launchers for engine/ops/softmax.ts and engine/ops/dfl.ts (kernels/softmax.ts):
// softmax / log_softmax forward and fused backward over the (outer, r, inner) view of contiguous
// f32 tensors, and DFL's expectation over the bins with its backward. Tensors passed here are
// contiguous unless noted (dfl's x is read through its strides).
import type { Tensor } from '../../tensor.js';
import type { WasmRuntimeImpl } from './runtime.js';
import { ptrOf } from './abi.js';

/** below this many elements per thread a kernel stays on the calling thread */
const PER_THREAD = 16384;
const blocks = (n: number) => Math.ceil(n / 64);

/** y = softmax(x) (log: log_softmax) along r of the (outer, r, inner) view */
export function softmaxWasm(
  rt: WasmRuntimeImpl,
  x: Tensor,
  y: Tensor,
  outer: number,
  r: number,
  inner: number,
  log: boolean,
) {
  if (inner === 1) rt.parallel('softmax_rows', [ptrOf(x), ptrOf(y), r, +log], outer, Math.ceil(PER_THREAD / r));
  else
    rt.parallel(
      'softmax_cols',
      [ptrOf(x), ptrOf(y), r, inner, +log],
      outer * blocks(inner),
      Math.ceil(PER_THREAD / (64 * r)),
    );
}

/** dx from the forward's output y and the gradient g (all (outer, r, inner), contiguous) */
export function softmaxBackwardWasm(
  rt: WasmRuntimeImpl,
  y: Tensor,
  g: Tensor,
  dx: Tensor,
  outer: number,
  r: number,
  inner: number,
  log: boolean,
) {
  if (inner === 1)
    rt.parallel('softmax_bwd_rows', [ptrOf(y), ptrOf(g), ptrOf(dx), r, +log], outer, Math.ceil(PER_THREAD / r));
  else
    rt.parallel(
      'softmax_bwd_cols',
      [ptrOf(y), ptrOf(g), ptrOf(dx), r, inner, +log],
      outer * blocks(inner),
      Math.ceil(PER_THREAD / (64 * r)),
    );
}

/** out (B, 4, A) = DFL expectation of x (B, 4R, A), x any strided view; inference: in f32 (dfl_fwd32) */
export function dflWasm(rt: WasmRuntimeImpl, x: Tensor, out: Tensor, R: number, inference = false) {
  const [B, , A] = x.shape;
  const [stB, stC, stA] = x.strides;
  rt.parallel(
    inference ? 'dfl_fwd32' : 'dfl_fwd',
    [ptrOf(x), ptrOf(out), A, R, stB, stC, stA],
    B * 4 * blocks(A),
    Math.ceil(PER_THREAD / (64 * R)),
  );
}

/** gx (B, 4R, A) from x (strided view), the forward's out and g (B, 4, A), contiguous */
export function dflBackwardWasm(rt: WasmRuntimeImpl, x: Tensor, out: Tensor, g: Tensor, gx: Tensor, R: number) {
  const [B, , A] = x.shape;
  const [stB, stC, stA] = x.strides;
  rt.parallel(
    'dfl_bwd',
    [ptrOf(x), ptrOf(out), ptrOf(g), ptrOf(gx), A, R, stB, stC, stA],
    B * 4 * blocks(A),
    Math.ceil(PER_THREAD / (64 * R)),
  );
}
