// The wasm launchers for engine/ops/batch_norm2d.ts: forward (train-mode batch statistics with
// the running-stat update, or eval mode) and backward, one task per channel
// (kernels/batch_norm.ts). Tensors are contiguous f32 (x, y, gy, gx, chan, weight, bias; the
// running buffers may be offset views). Pointers are byte offsets; 0 means "absent".
import type { Tensor } from '../../tensor.js';
import type { WasmRuntimeImpl } from './runtime.js';
import { ptrOf } from './abi.js';

/** below this many elements per thread a kernel stays on the calling thread */
const PER_THREAD = 16384;

const ptr = (t: Tensor | null) => (t ? ptrOf(t) : 0);

/** x, y (N, C, H, W); chan (8, C) gets the per-channel state the backward reads. silu: y = silu(bn(x)). */
export function batchNorm2dForwardWasm(
  rt: WasmRuntimeImpl,
  x: Tensor,
  y: Tensor,
  chan: Tensor,
  rm: Tensor | null,
  rv: Tensor | null,
  w: Tensor | null,
  b: Tensor | null,
  o: { training: boolean; update: boolean; eps: number; momentum: number; silu?: boolean },
) {
  const [N, C, H, W] = x.shape;
  const hw = H * W;
  rt.parallel(
    'batch_norm_fwd',
    [
      ptr(x),
      ptr(y),
      ptr(chan),
      ptr(rm),
      ptr(rv),
      ptr(w),
      ptr(b),
      N,
      C,
      hw,
      +o.training,
      +o.update,
      o.eps,
      o.momentum,
      +!!o.silu,
    ],
    C,
    Math.ceil(PER_THREAD / Math.max(1, N * hw)),
  );
}

/**
 * gy, x (N, C, H, W) → gx (null: only the weight/bias gradients), and chan's gradient rows. silu: gy
 * is the gradient of silu(bn(x)) (the forward ran with silu).
 */
export function batchNorm2dBackwardWasm(
  rt: WasmRuntimeImpl,
  x: Tensor,
  gy: Tensor,
  gx: Tensor | null,
  chan: Tensor,
  training: boolean,
  silu = false,
) {
  const [N, C, H, W] = x.shape;
  const hw = H * W;
  rt.parallel(
    'batch_norm_bwd',
    [ptr(x), ptr(gy), ptr(gx), ptr(chan), N, C, hw, +training, +silu],
    C,
    Math.ceil(PER_THREAD / Math.max(1, N * hw)),
  );
}
