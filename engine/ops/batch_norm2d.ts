// Batch normalization of (N, C, H, W), as torch.nn.functional.batch_norm:
//   training: y = (x - mean) / sqrt(var + eps) * weight + bias with the batch mean and biased
//             variance over (N, H, W), and the running buffers blended in place:
//             running = (1 - momentum) * running + momentum * batch (unbiased variance, n / (n - 1));
//   eval:     the same with the running statistics.
// The GPU reads each channel in place (no permute + copy) with split Welford reductions, and the
// backward is fused into three kernels (shaders/batch_norm2d.wgsl) instead of ~10 tensor-op
// passes with two permuted copies (llvmpipe, x (8, 32, 80, 80): 240 ms fused vs 1240 ms as ops).
import { Tensor } from '../tensor.js';
import { metaOp } from '../graph/hook.js';
import { fmt } from '../shape.js';
import { needsGrad, record } from '../autograd.js';
import { onHost, type WebGPUDevice } from '../device.js';
import { assign, clone, contiguous, silu } from './elementwise.js';
import { batchNorm2dBackwardWasm, batchNorm2dForwardWasm } from '../backends/wasm/ops_norm.js';

export interface BatchNorm2dOptions {
  training: boolean;
  /** weight of the new batch statistics in the running ones; default 0.1 (Ultralytics 0.03) */
  momentum?: number;
  /** added to the variance; default 1e-5 (Ultralytics 1e-3) */
  eps?: number;
  /**
   * 'silu': return silu(batch_norm(x)), the Conv block's BN -> SiLU. One fused pass each way on
   * wasm (the SiLU output and its gradient never take a tensor of their own, and the normalized
   * values are not kept for the backward); elsewhere the two ops one after the other.
   */
  act?: 'silu';
}

// Rows of the per-channel state tensor `chan` (8, C); must match ROW_* in the shader.
const ROW = { mean: 0, invstd: 1, scale: 2, shift: 3, mg: 4, mgx: 5, gw: 6, gb: 7 };
const ROW_COUNT = 8;
const WG = 256;
/** Values per workgroup the reductions aim for: big channels are split over several workgroups. */
const VALUES_PER_SPLIT = 4096;
const MAX_SPLITS = 64;

/**
 * x (N, C, H, W) → y (N, C, H, W). runningMean/runningVar (C) are updated in place when training
 * (they may be null in training: batch statistics only); weight/bias (C) may be null.
 */
export function batchNorm2d(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  opts: BatchNorm2dOptions,
): Tensor {
  const training = opts.training,
    momentum = opts.momentum ?? 0.1,
    eps = opts.eps ?? 1e-5;
  checkInputs(x, runningMean, runningVar, weight, bias, training);
  const fusedSilu = opts.act === 'silu';
  if (fusedSilu && x.device.type !== 'wasm')
    return silu(batchNorm2d(x, runningMean, runningVar, weight, bias, { ...opts, act: undefined }));
  const [n, c, h, w] = x.shape;
  const geo = geometry(n, c, h * w);
  if (x.device.type === 'meta')
    return metaOp(
      'batch_norm2d',
      [x, runningMean, runningVar, weight, bias],
      { training, momentum, eps },
      Tensor.empty(x.shape, x.dtype, x.device),
    );
  const src = contiguous(x);
  const wt = weight && contiguous(weight),
    bs = bias && contiguous(bias);
  const chan = Tensor.empty([ROW_COUNT, c], x.dtype, x.device); // per-channel state, rows ROW.*
  const y = Tensor.uninitialized(x.shape, x.dtype, x.device); // every plane of every channel written
  const update = training && !!runningMean;
  // Both running buffers are bound writable; Dawn refuses one buffer in two writable slots, so
  // buffers carved from one arena are updated through a scratch copy of the variance.
  const rvWork =
    runningVar && runningMean && runningVar.storage === runningMean.storage && !onHost(x.device)
      ? clone(runningVar)
      : runningVar;
  const params = {
    ...geo,
    training: training ? 1 : 0,
    update_running: update ? 1 : 0,
    has_weight: wt ? 1 : 0,
    has_bias: bs ? 1 : 0,
    off_rm: runningMean?.offset ?? 0,
    off_rv: rvWork?.offset ?? 0,
    eps,
    momentum,
  };
  if (x.device.type === 'wasm')
    batchNorm2dForwardWasm(x.device.wasm, src, y, chan, runningMean, rvWork, wt, bs, {
      training,
      update,
      eps,
      momentum,
      silu: fusedSilu,
    });
  else if (onHost(x.device)) forwardCpu(src, runningMean, rvWork, wt, bs, chan, y, params);
  else if (y.numel > 0) {
    const gpu = (x.device as WebGPUDevice).gpu;
    const file = 'batch_norm2d.wgsl';
    const common = {
      ...(runningMean && { running_mean: runningMean.storage.buffer!, running_var: rvWork!.storage.buffer! }),
      ...(wt && { weight: wt.storage.buffer! }),
      ...(bs && { bias: bs.storage.buffer! }),
    };
    let part: Tensor | null = null;
    if (training) {
      part = Tensor.empty([c, geo.splits, 4], 'f32', x.device); // (C, S, 4) Welford partials
      gpu.dispatch(
        { file, entry: 'stats_partial', constants: { WG } },
        { x: src.storage.buffer!, out: part.storage.buffer! },
        params,
        [geo.splits, c],
      );
    }
    gpu.dispatch(
      { file, entry: 'stats_finalize', constants: { WG } },
      { ...common, chan: chan.storage.buffer!, ...(part && { out: part.storage.buffer! }) },
      params,
      gpu.grid1d(c, 64),
    );
    gpu.dispatch(
      { file, entry: 'normalize', constants: { WG } },
      { x: src.storage.buffer!, chan: chan.storage.buffer!, out: y.storage.buffer! },
      params,
      gpu.grid1d(geo.n, WG),
    );
    part?.dispose();
  }
  if (rvWork !== runningVar) {
    if (update) assign(runningVar!, rvWork!);
    rvWork!.dispose();
  }
  for (const [t, orig] of [
    [src, x],
    [wt, weight],
    [bs, bias],
  ] as const)
    if (t && t !== orig) t.dispose();
  const inputs = [x, weight, bias].filter((t): t is Tensor => !!t);
  if (!needsGrad(...inputs)) {
    chan.dispose();
    return y;
  }
  // chan is saved state (GradFn.saved): out of any tidy() around the forward, freed after the
  // backward or with y when the backward never reaches it
  return record(
    y,
    fusedSilu ? 'batch_norm2d_silu' : 'batch_norm2d',
    inputs,
    (gy) => {
      const { gx, gw, gb } = batchNorm2dBackward(gy, x, chan, training, x.requiresGrad, fusedSilu);
      return inputs.map((t) => (t === x ? gx : t === weight ? gw : gb));
    },
    [chan],
  );
}

type Params = ReturnType<typeof geometry> & {
  training: number;
  update_running: number;
  has_weight: number;
  has_bias: number;
  off_rm: number;
  off_rv: number;
  eps: number;
  momentum: number;
};

function geometry(n: number, c: number, hw: number) {
  const count = n * hw;
  const splits = Math.max(1, Math.min(MAX_SPLITS, Math.ceil(count / VALUES_PER_SPLIT)));
  return { c, hw, count, splits, chunk: Math.ceil(count / splits), n: n * c * hw };
}

function checkInputs(
  x: Tensor,
  rm: Tensor | null,
  rv: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  training: boolean,
) {
  x.assertAlive('batchNorm2d');
  if (x.ndim !== 4) throw new Error(`batchNorm2d: expected x of shape (N, C, H, W), got ${fmt(x.shape)}`);
  if (x.dtype === 'i32') throw new Error('batchNorm2d: x must be a floating-point tensor, got i32');
  const c = x.shape[1];
  if (!rm !== !rv) throw new Error('batchNorm2d: give both runningMean and runningVar, or neither');
  if (!training && !rm) throw new Error('batchNorm2d: eval mode needs runningMean and runningVar');
  for (const [name, t] of [
    ['runningMean', rm],
    ['runningVar', rv],
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (!t) continue;
    t.assertAlive('batchNorm2d');
    if (t.ndim !== 1 || t.shape[0] !== c)
      throw new Error(
        `batchNorm2d: ${name} of shape ${fmt(t.shape)} does not match x of shape ${fmt(x.shape)} (${c} channels)`,
      );
    if (t.dtype !== x.dtype || t.device !== x.device)
      throw new Error(`batchNorm2d: ${name} is ${t.dtype} on ${t.device.type}, x is ${x.dtype} on ${x.device.type}`);
  }
  for (const [name, t] of [
    ['runningMean', rm],
    ['runningVar', rv],
  ] as const)
    if (t && t.strides[0] !== 1 && c > 1)
      throw new Error(`batchNorm2d: ${name} must be contiguous (it is updated in place)`);
  if (training && x.shape[0] * x.shape[2] * x.shape[3] <= 1)
    throw new Error(
      `batchNorm2d: expected more than 1 value per channel when training, got x of shape ${fmt(x.shape)}`,
    );
}

/**
 * Gradients of training- or eval-mode batch norm from the forward's per-channel state `chan`
 * (8, C): gx (N, C, H, W) when wantGx, and gw, gb (C), which are views of chan's rows. act (wasm
 * only): gy is the gradient of silu(batch_norm(x)).
 */
function batchNorm2dBackward(gy: Tensor, x: Tensor, chan: Tensor, training: boolean, wantGx: boolean, act = false) {
  const [n, c, h, w] = x.shape;
  const geo = geometry(n, c, h * w);
  const params = {
    ...geo,
    training: training ? 1 : 0,
    update_running: 0,
    has_weight: 0,
    has_bias: 0,
    off_rm: 0,
    off_rv: 0,
    eps: 0,
    momentum: 0,
  };
  const xs = contiguous(x),
    gs = contiguous(gy);
  const gx = wantGx ? Tensor.uninitialized(x.shape, x.dtype, x.device) : null; // written in full
  if (x.device.type === 'wasm') batchNorm2dBackwardWasm(x.device.wasm, xs, gs, gx, chan, training, act);
  else if (onHost(x.device)) backwardCpu(xs, gs, chan, gx, params);
  else if (geo.n > 0) {
    const gpu = (x.device as WebGPUDevice).gpu;
    const file = 'batch_norm2d.wgsl';
    const part = Tensor.empty([c, geo.splits, 4], 'f32', x.device); // (C, S, 4) partial sums
    gpu.dispatch(
      { file, entry: 'grad_partial', constants: { WG } },
      { x: xs.storage.buffer!, gy: gs.storage.buffer!, chan: chan.storage.buffer!, out: part.storage.buffer! },
      params,
      [geo.splits, c],
    );
    gpu.dispatch(
      { file, entry: 'grad_finalize', constants: { WG } },
      { chan: chan.storage.buffer!, out: part.storage.buffer! },
      params,
      gpu.grid1d(c, 64),
    );
    if (gx)
      gpu.dispatch(
        { file, entry: 'grad_input', constants: { WG } },
        { x: xs.storage.buffer!, gy: gs.storage.buffer!, chan: chan.storage.buffer!, out: gx.storage.buffer! },
        params,
        gpu.grid1d(geo.n, WG),
      );
    part.dispose();
  }
  if (xs !== x) xs.dispose();
  if (gs !== gy) gs.dispose();
  const row = (r: number) => new Tensor(chan.storage, [c], [1], chan.offset + r * c);
  return { gx, gw: row(ROW.gw), gb: row(ROW.gb) };
}

// ---- cpu reference: plain loops, f64 accumulation (also runs the f64 gradient checks) ---------

function forwardCpu(
  x: Tensor,
  rm: Tensor | null,
  rv: Tensor | null,
  w: Tensor | null,
  b: Tensor | null,
  chan: Tensor,
  y: Tensor,
  p: Params,
) {
  const a = x.storage.array!,
    out = y.storage.array!,
    st = chan.storage.array!;
  const { c: C, hw, count } = p;
  const N = count / hw;
  for (let c = 0; c < C; c++) {
    let mean: number, v: number;
    if (p.training) {
      let s = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < hw; i++) s += a[(n * C + c) * hw + i];
      mean = s / count;
      let s2 = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < hw; i++) s2 += (a[(n * C + c) * hw + i] - mean) ** 2;
      v = s2 / count;
      if (rm && rv) {
        const m = rm.storage.array!,
          r = rv.storage.array!,
          im = p.off_rm + c,
          iv = p.off_rv + c;
        m[im] = (1 - p.momentum) * m[im] + p.momentum * mean;
        r[iv] = (1 - p.momentum) * r[iv] + p.momentum * (s2 / (count - 1));
      }
    } else {
      mean = rm!.storage.array![p.off_rm + c];
      v = rv!.storage.array![p.off_rv + c];
    }
    const invstd = 1 / Math.sqrt(v + p.eps);
    st[ROW.mean * C + c] = mean;
    st[ROW.invstd * C + c] = invstd;
    st[ROW.scale * C + c] = (w ? w.storage.array![c] : 1) * invstd;
    st[ROW.shift * C + c] = b ? b.storage.array![c] : 0;
  }
  for (let i = 0; i < p.n; i++) {
    const c = Math.floor(i / hw) % C;
    out[i] = (a[i] - st[ROW.mean * C + c]) * st[ROW.scale * C + c] + st[ROW.shift * C + c];
  }
}

function backwardCpu(x: Tensor, gy: Tensor, chan: Tensor, gx: Tensor | null, p: Params) {
  const a = x.storage.array!,
    g = gy.storage.array!,
    st = chan.storage.array!;
  const { c: C, hw, count } = p;
  const N = count / hw;
  for (let c = 0; c < C; c++) {
    const mean = st[ROW.mean * C + c];
    let sg = 0,
      sgx = 0;
    for (let n = 0; n < N; n++)
      for (let i = 0; i < hw; i++) {
        const k = (n * C + c) * hw + i;
        sg += g[k];
        sgx += g[k] * (a[k] - mean);
      }
    sgx *= st[ROW.invstd * C + c];
    st[ROW.gw * C + c] = sgx;
    st[ROW.gb * C + c] = sg;
    st[ROW.mg * C + c] = p.training ? sg / count : 0;
    st[ROW.mgx * C + c] = p.training ? sgx / count : 0;
  }
  if (!gx) return;
  const out = gx.storage.array!;
  for (let i = 0; i < p.n; i++) {
    const c = Math.floor(i / hw) % C;
    const xhat = (a[i] - st[ROW.mean * C + c]) * st[ROW.invstd * C + c];
    out[i] = st[ROW.scale * C + c] * (g[i] - st[ROW.mg * C + c] - xhat * st[ROW.mgx * C + c]);
  }
}
