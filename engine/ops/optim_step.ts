// Fused in-place optimizer updates (not differentiable; they run under noGrad by nature).
// One dispatch per parameter tensor instead of a chain of elementwise ops; the cpu reference
// uses the same formulas in the same order so both devices agree to rounding.
import type { Tensor } from '../tensor.js';
import type { WebGPUDevice } from '../device.js';
import { fmt, sameShape } from '../shape.js';
import { adamwStepWasm, emaUpdateWasm, sgdStepWasm } from '../backends/wasm/ops_optim.js';

export interface SgdStepOptions {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  gradScale?: number;
}
export interface AdamwStepOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
  gradScale?: number;
}

function check(op: string, param: Tensor, ...others: Tensor[]) {
  for (const t of [param, ...others]) {
    t.assertAlive(op);
    if (!t.isContiguous || t.offset !== 0 || t.storage.size < t.numel)
      throw new Error(`${op}: tensors must be contiguous with offset 0 (got shape ${fmt(t.shape)})`);
    if (!sameShape(t.shape, param.shape))
      throw new Error(`${op}: shape ${fmt(t.shape)} does not match the parameter's ${fmt(param.shape)}`);
    if (t.device !== param.device) throw new Error(`${op}: tensors are on different devices`);
  }
}

type Uniforms = {
  n: number;
  nesterov: number;
  lr: number;
  momentum: number;
  beta2: number;
  eps: number;
  weight_decay: number;
  bc1: number;
  bc2_sqrt: number;
  grad_scale: number;
};

function launch(entry: string, param: Tensor, grad: Tensor, m: Tensor | null, v: Tensor | null, u: Uniforms) {
  const gpu = (param.device as WebGPUDevice).gpu;
  gpu.dispatch(
    { file: 'optim_step.wgsl', entry },
    {
      param: param.storage.buffer!,
      grad: grad.storage.buffer!,
      ...(m && { m: m.storage.buffer! }),
      ...(v && { v: v.storage.buffer! }),
    },
    u,
    gpu.grid1d(u.n, 256),
  );
}

const f = Math.fround;

/** torch.optim.SGD's update (dampening 0), in place on param and the momentum buffer. */
export function sgdStep(param: Tensor, grad: Tensor, buf: Tensor, o: SgdStepOptions) {
  check('sgdStep', param, grad, buf);
  const scale = o.gradScale ?? 1;
  if (param.device.type === 'webgpu') {
    return launch('sgd_step', param, grad, buf, null, {
      n: param.numel,
      nesterov: o.nesterov ? 1 : 0,
      lr: o.lr,
      momentum: o.momentum,
      beta2: 0,
      eps: 0,
      weight_decay: o.weightDecay,
      bc1: 1,
      bc2_sqrt: 1,
      grad_scale: scale,
    });
  }
  const p = param.storage.array!,
    g = grad.storage.array!,
    b = buf.storage.array!;
  const [lr, mom, wd, sc] =
    param.dtype === 'f64'
      ? [o.lr, o.momentum, o.weightDecay, scale]
      : [f(o.lr), f(o.momentum), f(o.weightDecay), f(scale)];
  if (param.device.type === 'wasm')
    return sgdStepWasm(param.device.wasm, param, grad, buf, { lr, mom, wd, sc, nesterov: o.nesterov });
  for (let i = 0; i < param.numel; i++) {
    let gi = g[i] * sc + wd * p[i];
    if (mom !== 0) {
      const bi = mom * b[i] + gi;
      b[i] = bi;
      gi = o.nesterov ? gi + mom * bi : bi;
    }
    p[i] -= lr * gi;
  }
}

/** torch.optim.AdamW's update (amsgrad off), in place on param and both moment buffers. */
export function adamwStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, o: AdamwStepOptions) {
  check('adamwStep', param, grad, m, v);
  const bc1 = 1 - o.beta1 ** o.step,
    bc2Sqrt = Math.sqrt(1 - o.beta2 ** o.step),
    scale = o.gradScale ?? 1;
  if (param.device.type === 'webgpu') {
    return launch('adamw_step', param, grad, m, v, {
      n: param.numel,
      nesterov: 0,
      lr: o.lr,
      momentum: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weight_decay: o.weightDecay,
      bc1,
      bc2_sqrt: bc2Sqrt,
      grad_scale: scale,
    });
  }
  const p = param.storage.array!,
    g = grad.storage.array!,
    ma = m.storage.array!,
    va = v.storage.array!;
  const r = param.dtype === 'f64' ? (x: number) => x : f;
  const [lr, b1, b2, eps, wd, c1, c2, sc] = [o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, bc1, bc2Sqrt, scale].map(r);
  if (param.device.type === 'wasm')
    return adamwStepWasm(param.device.wasm, param, grad, m, v, { lr, b1, b2, eps, wd, bc1: c1, bc2Sqrt: c2, sc });
  for (let i = 0; i < param.numel; i++) {
    const gi = g[i] * sc;
    const w = p[i] * (1 - lr * wd);
    const mi = b1 * ma[i] + (1 - b1) * gi;
    const vi = b2 * va[i] + (1 - b2) * gi * gi;
    ma[i] = mi;
    va[i] = vi;
    p[i] = w - ((lr / c1) * mi) / (Math.sqrt(vi) / c2 + eps);
  }
}

/** ema = d·ema + (1 - d)·value, in place (Ultralytics' ModelEMA update). */
export function emaUpdate(ema: Tensor, value: Tensor, decay: number) {
  check('emaUpdate', ema, value);
  if (ema.device.type === 'webgpu') {
    return launch('ema_update', ema, value, null, null, {
      n: ema.numel,
      nesterov: 0,
      lr: 0,
      momentum: decay,
      beta2: 0,
      eps: 0,
      weight_decay: 0,
      bc1: 1,
      bc2_sqrt: 1,
      grad_scale: 1,
    });
  }
  const e = ema.storage.array!,
    x = value.storage.array!;
  const d = ema.dtype === 'f64' ? decay : f(decay);
  if (ema.device.type === 'wasm') return emaUpdateWasm(ema.device.wasm, ema, value, d);
  for (let i = 0; i < ema.numel; i++) e[i] = d * e[i] + (1 - d) * x[i];
}
