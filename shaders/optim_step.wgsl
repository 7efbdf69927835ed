// In-place parameter updates, one invocation per element, PyTorch's formulas exactly:
//   sgd_step:   g += wd·p;  buf = momentum·buf + g;  g = nesterov ? g + momentum·buf : buf;  p -= lr·g
//   adamw_step: p *= 1 - lr·wd;  m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;
//               p -= (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps)      (bc = bias corrections, from the host)
//   ema_update: e = d·e + (1-d)·x                                       (Ultralytics' ModelEMA)
#include "index1d.wgsl"

struct Params {
  n: u32,
  nesterov: u32,
  lr: f32,
  momentum: f32,     // SGD momentum, or β1
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  bc1: f32,          // 1 - β1^t
  bc2_sqrt: f32,     // sqrt(1 - β2^t)
  grad_scale: f32,   // multiplies g first (gradient clipping folds in here)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn sgd_step(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, 256u);
  if (i >= p.n) { return; }
  var g = grad[i] * p.grad_scale + p.weight_decay * param[i];
  if (p.momentum != 0.0) {
    let buf = p.momentum * m[i] + g;
    m[i] = buf;
    g = select(buf, g + p.momentum * buf, p.nesterov == 1u);
  }
  param[i] -= p.lr * g;
}

@compute @workgroup_size(256)
fn adamw_step(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, 256u);
  if (i >= p.n) { return; }
  let g = grad[i] * p.grad_scale;
  let w = param[i] * (1.0 - p.lr * p.weight_decay);
  let mi = p.momentum * m[i] + (1.0 - p.momentum) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = w - (p.lr / p.bc1) * mi / (sqrt(vi) / p.bc2_sqrt + p.eps);
}

@compute @workgroup_size(256)
fn ema_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, 256u);
  if (i >= p.n) { return; }
  // here `param` is the EMA copy, `grad` the live model value, p.momentum the decay d
  param[i] = p.momentum * param[i] + (1.0 - p.momentum) * grad[i];
}
