// The wasm launchers for engine/ops/optim_step.ts: one fused pass per parameter
// (kernels/optim.ts), in 1024-element chunks split across threads for big parameters. The
// constants come in already rounded the way the cpu reference rounds them (optim_step.ts), and
// the loop-invariant parts of its formulas are computed here exactly as its loop computes them.
import type { Tensor } from '../../tensor.js';
import type { WasmRuntimeImpl } from './runtime.js';
import { ptrOf } from './abi.js';

/** chunks of 1024 elements per thread below which a kernel stays on the calling thread */
const MIN_CHUNKS = 16;

const chunks = (n: number) => Math.ceil(n / 1024);

/** SGD with momentum (mom 0: none) and Nesterov; lr, mom, wd, sc as the reference rounds them. */
export function sgdStepWasm(
  rt: WasmRuntimeImpl,
  p: Tensor,
  g: Tensor,
  buf: Tensor,
  c: { lr: number; mom: number; wd: number; sc: number; nesterov: boolean },
) {
  const n = p.numel;
  rt.parallel(
    'optim_sgd',
    [ptrOf(p), ptrOf(g), ptrOf(buf), n, c.sc, c.wd, c.mom, c.lr, +c.nesterov],
    chunks(n),
    MIN_CHUNKS,
  );
}

/** AdamW; the constants as the reference rounds them (bc1 = 1 - beta1^t, bc2Sqrt = sqrt(1 - beta2^t)). */
export function adamwStepWasm(
  rt: WasmRuntimeImpl,
  p: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  c: { lr: number; b1: number; b2: number; eps: number; wd: number; bc1: number; bc2Sqrt: number; sc: number },
) {
  const n = p.numel;
  rt.parallel(
    'optim_adamw',
    [
      ptrOf(p),
      ptrOf(g),
      ptrOf(m),
      ptrOf(v),
      n,
      c.sc,
      1 - c.lr * c.wd,
      c.b1,
      1 - c.b1,
      c.b2,
      1 - c.b2,
      c.lr / c.bc1,
      c.bc2Sqrt,
      c.eps,
    ],
    chunks(n),
    MIN_CHUNKS,
  );
}

/** ema = d * ema + (1 - d) * value */
export function emaUpdateWasm(rt: WasmRuntimeImpl, ema: Tensor, value: Tensor, d: number) {
  const n = ema.numel;
  rt.parallel('optim_ema', [ptrOf(ema), ptrOf(value), n, d, 1 - d], chunks(n), MIN_CHUNKS);
}
