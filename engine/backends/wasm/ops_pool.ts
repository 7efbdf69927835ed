// The wasm launchers for the training side of max_pool2d and upsample_nearest2d
// (kernels/pool_backward.ts): one task per (n, c) plane, f32 contiguous blocks only (the ops pass
// contiguous copies); and upsample_nearest2d's forward (kernels/upsample.ts), one task per input
// row. Bit-identical to the cpu reference at any thread count.
import type { Tensor } from '../../tensor.js';
import type { WasmRuntimeImpl } from './runtime.js';
import { ptrOf } from './abi.js';

/** below this many elements per thread a kernel stays on the calling thread */
const PER_THREAD = 8192;

export interface PoolWindow {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

/** values and i32 indices (N, C, OH, OW) of x (N, C, H, W) */
export function maxPool2dIndicesWasm(rt: WasmRuntimeImpl, x: Tensor, values: Tensor, indices: Tensor, g: PoolWindow) {
  const [n, c, h, w] = x.shape,
    [, , oh, ow] = values.shape;
  rt.parallel(
    'maxpool_idx',
    [ptrOf(x), ptrOf(values), ptrOf(indices), h, w, oh, ow, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw],
    n * c,
    Math.ceil(PER_THREAD / (oh * ow * g.kh * g.kw)),
  );
}

/** gx (N, C, H, W) from gy and indices (N, C, OH, OW) */
export function maxPool2dBackwardWasm(rt: WasmRuntimeImpl, gy: Tensor, indices: Tensor, gx: Tensor) {
  const [n, c, h, w] = gx.shape,
    [, , oh, ow] = gy.shape;
  rt.parallel(
    'maxpool_backward',
    [ptrOf(gy), ptrOf(indices), ptrOf(gx), h * w, oh * ow],
    n * c,
    Math.ceil(PER_THREAD / (h * w)),
  );
}

/** gx (N, C, h, w) = block sums of g (N, C, h*sh, w*sw) */
export function upsampleBackwardWasm(rt: WasmRuntimeImpl, g: Tensor, gx: Tensor, sh: number, sw: number) {
  const [n, c, h, w] = gx.shape;
  rt.parallel(
    'upsample_backward',
    [ptrOf(g), ptrOf(gx), h, w, sh, sw],
    n * c,
    Math.ceil(PER_THREAD / (h * w * sh * sw)),
  );
}

/**
 * out = x repeated sh x sw (nearest upsampling) per image: x's C planes contiguous from `x`, out's
 * planes `oplane` elements apart from `out` (byte pointers). One task per input row.
 */
export function upsampleWasm(
  rt: WasmRuntimeImpl,
  x: number,
  out: number,
  planes: number,
  h: number,
  w: number,
  sh: number,
  sw: number,
  oplane = h * sh * w * sw,
) {
  rt.parallel('upsample', [x, out, h, w, sh, sw, oplane], planes * h, Math.ceil(PER_THREAD / (w * sw * sh)));
}
