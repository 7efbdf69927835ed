// DFL decoding: the expected box-side distance under a softmax over reg_max bins. Ultralytics'
// DFL module does the same as softmax over the bins followed by a fixed 1x1 conv with weights
// 0..reg_max-1; here it is one fused kernel (shaders/dfl.wgsl), differentiable for training.
import { Tensor } from '../tensor.js';
import { fmt } from '../shape.js';
import { needsGrad, record } from '../autograd.js';
import { onHost, type WebGPUDevice } from '../device.js';
import { contiguous, mul, sub } from './elementwise.js';
import { reshape } from './view.js';
import { arange } from './create.js';
import { softmax } from './softmax.js';
import { metaOp } from '../graph/hook.js';
import { dflBackwardWasm, dflWasm } from '../backends/wasm/ops_softmax.js';

/**
 * x (B, 4*regMax, A) raw logits → (B, 4, A): out[b, s, a] = Σ_i softmax_i(x[b, s*regMax + i, a]) * i.
 * x may be a strided view (e.g. the box channels sliced off the head output).
 */
export function dfl(x: Tensor, regMax = 16): Tensor {
  x.assertAlive('dfl');
  if (!Number.isInteger(regMax) || regMax < 1) throw new Error(`dfl: regMax must be a positive integer, got ${regMax}`);
  if (x.ndim !== 3 || x.shape[1] !== 4 * regMax)
    throw new Error(`dfl: expects x of shape (B, 4*regMax = ${4 * regMax}, A), got ${fmt(x.shape)}`);
  if (x.dtype === 'i32') throw new Error(`dfl: expects a floating-point tensor, got i32 of shape ${fmt(x.shape)}`);
  const [B, , A] = x.shape;
  const out = Tensor.empty([B, 4, A], x.dtype, x.device);
  if (x.device.type === 'meta') return metaOp('dfl', [x], { regMax }, out);
  const [stB, stC, stA] = x.strides;
  if (out.numel > 0) {
    // no gradient to come (inference): the f32 kernel; else the f64 one the backward's roundings match
    if (x.device.type === 'wasm') dflWasm(x.device.wasm, x, out, regMax, !needsGrad(x));
    else if (onHost(x.device)) dflCpu(x.storage.array!, out.storage.array!, x.offset, B, A, regMax, stB, stC, stA);
    else {
      const gpu = (x.device as WebGPUDevice).gpu;
      gpu.dispatch(
        { file: 'dfl.wgsl' },
        { x: x.storage.buffer!, out: out.storage.buffer! },
        { batch: B, anchors: A, reg_max: regMax, off: x.offset, st_b: stB, st_c: stC, st_a: stA },
        gpu.grid1d(out.numel, 256),
      );
    }
  }
  // With p = softmax over the bins and y = Σ p_i i:  dy/dx_j = p_j (j - y).
  return record(out, 'dfl', [x], (g) => {
    if (x.device.type === 'wasm') {
      // the same formula fused: gx (B, 4R, A) = p * (j - y) * g, p recomputed from x
      const gc = contiguous(g),
        gx = Tensor.empty(x.shape, x.dtype, x.device);
      if (gx.numel > 0) dflBackwardWasm(x.device.wasm, x, out, gc, gx, regMax);
      if (gc !== g) gc.dispose();
      return [gx];
    }
    const p = softmax(reshape(x, [B, 4, regMax, A]), 2); // (B, 4, R, A)
    const bins = reshape(arange(regMax, undefined, 1, { dtype: x.dtype, device: x.device }), [1, 1, regMax, 1]);
    const centred = sub(bins, reshape(out.detach(), [B, 4, 1, A])); // (B, 4, R, A): j - y
    return [reshape(mul(mul(p, centred), reshape(g, [B, 4, 1, A])), x.shape)];
  });
}

/** The reference: per (b, side, a), max, then Σ exp and Σ exp * i. */
function dflCpu(
  a: ArrayLike<number>,
  out: { [i: number]: number },
  off: number,
  B: number,
  A: number,
  R: number,
  stB: number,
  stC: number,
  stA: number,
) {
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < 4; s++) {
      for (let k = 0; k < A; k++) {
        const base = off + b * stB + s * R * stC + k * stA;
        let m = -Infinity;
        for (let i = 0; i < R; i++) m = Math.max(m, a[base + i * stC]);
        let total = 0,
          weighted = 0;
        for (let i = 0; i < R; i++) {
          const e = Math.exp(a[base + i * stC] - m);
          total += e;
          weighted += e * i;
        }
        out[(b * 4 + s) * A + k] = weighted / total;
      }
    }
  }
}
