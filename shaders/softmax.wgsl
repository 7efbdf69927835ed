// Softmax and log-softmax along the middle axis of a contiguous (outer, r, inner) view, stable:
//   m = max_k x_k,  s = Σ_k exp(x_k - m),  y_k = exp(x_k - m) / s   (log: y_k = x_k - m - log s).
// m and s come from one "online" pass (when a larger value arrives the running sum is rescaled by
// exp(old_m - new_m)), then a second pass writes y: two reads of the row instead of three.
// `softmax_rows`: one invocation per row, for short rows; when inner > 1 neighbouring invocations
// read neighbouring addresses. `softmax_wide`: one workgroup per row, for long rows: threads stride
// over the row and merge their (m, s) pairs in workgroup memory.
#include "index1d.wgsl"

override LOG: u32 = 0u;     // 1: log_softmax
override WG: u32 = 256u;    // softmax_wide workgroup size (must match @workgroup_size below)

const LOWEST = -3.40282346e38; // the running max before any element (exp(LOWEST - v) is 0)

struct Params {
  outer: u32,   // product of the axes before the softmax axis
  r: u32,       // length of the softmax axis
  inner: u32,   // product of the axes after it (the row stride)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// Element k of row `row` (row = outer index * inner + inner index).
fn at(row: u32, k: u32) -> u32 {
  let oo = row / p.inner;
  let ii = row % p.inner;
  return (oo * p.r + k) * p.inner + ii;
}

// Merges two partial results (m1, s1) and (m2, s2) of the online max/sum.
fn merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// Folds one value into a running (m, s).
fn push(acc: vec2f, v: f32) -> vec2f {
  if (v > acc.x) {
    return vec2f(v, acc.y * exp(acc.x - v) + 1.0);
  }
  return vec2f(acc.x, acc.y + exp(v - acc.x));
}

fn finish(v: f32, ms: vec2f) -> f32 {
  if (LOG == 1u) {
    return v - ms.x - log(ms.y);
  }
  return exp(v - ms.x) / ms.y;
}

@compute @workgroup_size(64)
fn softmax_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = flat_index(wid, nwg, lid, 64u);
  if (row >= p.outer * p.inner) { return; }
  var ms = vec2f(LOWEST, 0.0);
  for (var k = 0u; k < p.r; k++) {
    ms = push(ms, x[at(row, k)]);
  }
  for (var k = 0u; k < p.r; k++) {
    let i = at(row, k);
    y[i] = finish(x[i], ms);
  }
}

var<workgroup> partial: array<vec2f, WG>;

@compute @workgroup_size(WG)
fn softmax_wide(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x; // uniform across the workgroup, so the early return is too
  if (row >= p.outer * p.inner) { return; }
  var ms = vec2f(LOWEST, 0.0);
  for (var k = lid; k < p.r; k += WG) {
    ms = push(ms, x[at(row, k)]);
  }
  partial[lid] = ms;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      partial[lid] = merge(partial[lid], partial[lid + s]);
    }
    workgroupBarrier();
  }
  let total = partial[0];
  for (var k = lid; k < p.r; k += WG) {
    let i = at(row, k);
    y[i] = finish(x[i], total);
  }
}
