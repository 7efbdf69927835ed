// topk along the middle axis of a contiguous (outer, r, inner) view: one workgroup per row.
// Output order is a strict total order on (value, index): larger values first (smaller when
// LARGEST = 0), NaN counts as larger than every number (as in torch), equal values by lower index.
//
// Thread t owns the row elements t, t + WG, t + 2 WG, ... and keeps its best one not yet output.
// Each of the k rounds reduces the WG candidates in workgroup memory to the overall best, writes
// it out, and only the thread that owned the winner rescans its r / WG elements for its next best
// (every other candidate still comes after the winner). Cost: one pass over the row, then
// k * (log2 WG barriers + r / WG reads); for r = 8400, k = 10, WG = 256: ~8400 + 10 * 41 reads.
#include "index1d.wgsl"

override WG: u32 = 256u;    // threads per row, a power of two (must match @workgroup_size below)
override LARGEST: u32 = 1u; // 0: the k smallest

const NONE = 0xffffffffu; // "no candidate" (a thread whose elements are all output)

struct Params {
  outer: u32,   // product of the axes before the topk axis
  r: u32,       // row length
  inner: u32,   // product of the axes after it (the row stride)
  k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> values: array<f32>;   // (outer, k, inner)
@group(0) @binding(3) var<storage, read_write> indices: array<i32>;  // (outer, k, inner)

var<workgroup> cand_v: array<f32, WG>;
var<workgroup> cand_i: array<u32, WG>;

fn is_nan(v: f32) -> bool {
  // NaN is the only value whose bits lie above the infinities (compare the bits: v != v may be
  // folded away by a compiler that assumes no NaNs).
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Does (v, i) come strictly before (w, j) in the output order? NONE comes after everything.
fn before(v: f32, i: u32, w: f32, j: u32) -> bool {
  if (i == NONE) { return false; }
  if (j == NONE) { return true; }
  let nv = is_nan(v);
  let nw = is_nan(w);
  if ((nv && nw) || (!nv && !nw && v == w)) { return i < j; }
  // "v is larger": a NaN beats any number
  let larger = select(v > w, nv, nv || nw);
  return select(!larger, larger, LARGEST == 1u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x; // uniform across the workgroup, so the early return is too
  if (row >= p.outer * p.inner) { return; }
  let oo = row / p.inner;
  let ii = row % p.inner;
  let base = oo * p.r * p.inner + ii;
  let out_base = oo * p.k * p.inner + ii;

  // This thread's best element.
  var best_v = 0.0;
  var best_i = NONE;
  for (var i = lid; i < p.r; i += WG) {
    let v = x[base + i * p.inner];
    if (before(v, i, best_v, best_i)) { best_v = v; best_i = i; }
  }

  for (var s = 0u; s < p.k; s++) {
    cand_v[lid] = best_v;
    cand_i[lid] = best_i;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h = h / 2u) {
      if (lid < h && before(cand_v[lid + h], cand_i[lid + h], cand_v[lid], cand_i[lid])) {
        cand_v[lid] = cand_v[lid + h];
        cand_i[lid] = cand_i[lid + h];
      }
      workgroupBarrier();
    }
    let win_v = cand_v[0];
    let win_i = cand_i[0];
    workgroupBarrier(); // everyone has read the winner before the next round overwrites it
    if (lid == 0u) {
      values[out_base + s * p.inner] = win_v;
      indices[out_base + s * p.inner] = i32(win_i);
    }
    if (win_i % WG == lid) {
      // The winner was this thread's: find its best element after the winner.
      best_v = 0.0;
      best_i = NONE;
      for (var i = lid; i < p.r; i += WG) {
        let v = x[base + i * p.inner];
        if (before(win_v, win_i, v, i) && before(v, i, best_v, best_i)) { best_v = v; best_i = i; }
      }
    }
  }
}
