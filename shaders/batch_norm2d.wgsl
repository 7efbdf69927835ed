// Batch normalization over (N, C, H, W): per-channel statistics over (N, H, W), normalization,
// and the fused training backward. Engine side: engine/ops/batch_norm2d.ts.
//
// Per-channel reductions read x in place (no permute/copy) in two steps:
//   *_partial   grid (S, C): workgroup (s, c) reduces split s of channel c's N*H*W values and
//               writes one partial (4 floats) to out[(c * S + s) * 4 ..];
//   *_finalize  one invocation per channel merges its S partials.
// Forward partials are Welford triples (count, mean, M2), merged with Chan's formula, so the
// variance never comes from E[x^2] - E[x]^2 in f32.
//
// `chan` holds the per-channel state, one row of C floats per field (ROW_* below): the forward
// fills mean..shift, the backward adds mg..gb (gw and gb are returned as views of their rows).
#include "index1d.wgsl"

override WG: u32 = 256u;

const ROW_MEAN = 0u;   // mean used to normalize (batch or running)
const ROW_INVSTD = 1u; // 1 / sqrt(var + eps)
const ROW_SCALE = 2u;  // weight * invstd
const ROW_SHIFT = 3u;  // bias
const ROW_MG = 4u;     // mean of gy over (N, H, W) (0 in eval mode)
const ROW_MGX = 5u;    // mean of gy * xhat (0 in eval mode)
const ROW_GW = 6u;     // d loss / d weight = sum of gy * xhat
const ROW_GB = 7u;     // d loss / d bias = sum of gy

struct Params {
  c: u32,              // channels
  hw: u32,             // H*W
  count: u32,          // N*H*W: values per channel
  splits: u32,         // S, workgroups per channel in the partial passes
  chunk: u32,          // values per split: ceil(count / S)
  n: u32,              // N*C*H*W: invocations of the elementwise passes
  training: u32,       // 1: batch statistics; 0: running statistics
  update_running: u32, // 1: blend the batch statistics into the running buffers (training)
  has_weight: u32,
  has_bias: u32,
  off_rm: u32,         // element offsets of the running buffers (updated in place, not copied)
  off_rv: u32,
  eps: f32,
  momentum: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // (N, C, H, W) input
@group(0) @binding(2) var<storage, read> gy: array<f32>;           // (N, C, H, W) output gradient
@group(0) @binding(3) var<storage, read> weight: array<f32>;       // (C)
@group(0) @binding(4) var<storage, read> bias: array<f32>;         // (C)
@group(0) @binding(5) var<storage, read_write> running_mean: array<f32>; // (C) at off_rm
@group(0) @binding(6) var<storage, read_write> running_var: array<f32>;  // (C) at off_rv
@group(0) @binding(7) var<storage, read_write> chan: array<f32>;   // (8, C), rows ROW_*
// The partial passes write their (C, S, 4) partials here and the finalize passes read them;
// `normalize` writes y and `grad_input` writes the input gradient, both (N, C, H, W).
@group(0) @binding(8) var<storage, read_write> out: array<f32>;

var<workgroup> s0: array<f32, WG>;
var<workgroup> s1: array<f32, WG>;
var<workgroup> s2: array<f32, WG>;

/** Flat index of value e (in (N, H, W) order) of channel c. */
fn at(c: u32, e: u32) -> u32 {
  let n = e / p.hw;
  return (n * p.c + c) * p.hw + (e - n * p.hw);
}

fn channel_of(i: u32) -> u32 {
  return (i / p.hw) % p.c;
}

/** Chan's merge of two Welford triples (count, mean, M2). */
fn merge(a: vec3f, b: vec3f) -> vec3f {
  let n = a.x + b.x;
  if (n == 0.0) { return a; }
  let d = b.y - a.y;
  let f = b.x / n;
  return vec3f(n, a.y + d * f, a.z + b.z + d * d * a.x * f);
}

@compute @workgroup_size(WG)
fn stats_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let c = wid.y;
  let end = min((s + 1u) * p.chunk, p.count);
  var w = vec3f(0.0);
  for (var e = s * p.chunk + lid; e < end; e += WG) {
    let v = x[at(c, e)];
    w.x += 1.0;
    let d = v - w.y;
    w.y += d / w.x;
    w.z += d * (v - w.y);
  }
  s0[lid] = w.x; s1[lid] = w.y; s2[lid] = w.z;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k /= 2u) {
    if (lid < k) {
      let m = merge(vec3f(s0[lid], s1[lid], s2[lid]), vec3f(s0[lid + k], s1[lid + k], s2[lid + k]));
      s0[lid] = m.x; s1[lid] = m.y; s2[lid] = m.z;
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let o = (c * p.splits + s) * 4u;
    out[o] = s0[0]; out[o + 1u] = s1[0]; out[o + 2u] = s2[0];
  }
}

@compute @workgroup_size(64)
fn stats_finalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = flat_index(wid, nwg, lid, 64u);
  if (c >= p.c) { return; }
  var mean: f32;
  var v: f32;
  if (p.training == 1u) {
    var w = vec3f(0.0);
    for (var s = 0u; s < p.splits; s++) {
      let o = (c * p.splits + s) * 4u;
      w = merge(w, vec3f(out[o], out[o + 1u], out[o + 2u]));
    }
    mean = w.y;
    v = w.z / w.x; // biased: what normalizes the batch
    if (p.update_running == 1u) {
      // torch blends the unbiased variance into the running estimate.
      let unbiased = w.z / (w.x - 1.0);
      running_mean[p.off_rm + c] = (1.0 - p.momentum) * running_mean[p.off_rm + c] + p.momentum * mean;
      running_var[p.off_rv + c] = (1.0 - p.momentum) * running_var[p.off_rv + c] + p.momentum * unbiased;
    }
  } else {
    mean = running_mean[p.off_rm + c];
    v = running_var[p.off_rv + c];
  }
  let invstd = 1.0 / sqrt(v + p.eps);
  let wc = select(1.0, weight[c], p.has_weight == 1u);
  chan[ROW_MEAN * p.c + c] = mean;
  chan[ROW_INVSTD * p.c + c] = invstd;
  chan[ROW_SCALE * p.c + c] = wc * invstd;
  chan[ROW_SHIFT * p.c + c] = select(0.0, bias[c], p.has_bias == 1u);
}

@compute @workgroup_size(WG)
fn normalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, WG);
  if (i >= p.n) { return; }
  let c = channel_of(i);
  out[i] = (x[i] - chan[ROW_MEAN * p.c + c]) * chan[ROW_SCALE * p.c + c] + chan[ROW_SHIFT * p.c + c];
}

// Partials (sum gy, sum gy * (x - mean)) of split s of channel c.
@compute @workgroup_size(WG)
fn grad_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let c = wid.y;
  let mean = chan[ROW_MEAN * p.c + c];
  let end = min((s + 1u) * p.chunk, p.count);
  var sg = 0.0;
  var sgx = 0.0;
  for (var e = s * p.chunk + lid; e < end; e += WG) {
    let i = at(c, e);
    sg += gy[i];
    sgx += gy[i] * (x[i] - mean);
  }
  s0[lid] = sg; s1[lid] = sgx;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k /= 2u) {
    if (lid < k) { s0[lid] += s0[lid + k]; s1[lid] += s1[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let o = (c * p.splits + s) * 4u;
    out[o] = s0[0]; out[o + 1u] = s1[0];
  }
}

@compute @workgroup_size(64)
fn grad_finalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = flat_index(wid, nwg, lid, 64u);
  if (c >= p.c) { return; }
  var sg = 0.0;
  var sgx = 0.0;
  for (var s = 0u; s < p.splits; s++) {
    let o = (c * p.splits + s) * 4u;
    sg += out[o];
    sgx += out[o + 1u];
  }
  sgx *= chan[ROW_INVSTD * p.c + c]; // sum of gy * xhat
  chan[ROW_GW * p.c + c] = sgx;
  chan[ROW_GB * p.c + c] = sg;
  // In eval mode the statistics are constants: the input gradient is just gy * scale.
  let t = f32(p.training);
  chan[ROW_MG * p.c + c] = t * sg / f32(p.count);
  chan[ROW_MGX * p.c + c] = t * sgx / f32(p.count);
}

// gx = weight * invstd * (gy - mean(gy) - xhat * mean(gy * xhat))
@compute @workgroup_size(WG)
fn grad_input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, WG);
  if (i >= p.n) { return; }
  let c = channel_of(i);
  let xhat = (x[i] - chan[ROW_MEAN * p.c + c]) * chan[ROW_INVSTD * p.c + c];
  out[i] = chan[ROW_SCALE * p.c + c] * (gy[i] - chan[ROW_MG * p.c + c] - xhat * chan[ROW_MGX * p.c + c]);
}
