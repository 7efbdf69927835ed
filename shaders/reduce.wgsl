// Reductions over the middle axis of a contiguous (outer, r, inner) view: sum (times `scale`,
// so mean is free), max, min, with the index of the winner for argmax/argmin.
// `reduce_rows`: one invocation per output, for short rows. `reduce_wide`: one workgroup per
// output, threads stride over the row and combine in workgroup memory, for long rows.
#include "index1d.wgsl"

override OP: u32 = 0u;      // 0 sum, 1 max, 2 min
override WG: u32 = 256u;    // reduce_wide workgroup size (must match @workgroup_size below)

struct Params {
  outer: u32,
  r: u32,
  inner: u32,
  off: u32,     // element offset of the input view
  scale: f32,   // multiplies sums (1/r for mean)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;

fn identity() -> f32 {
  if (OP == 1u) { return -3.40282346e38; }
  if (OP == 2u) { return 3.40282346e38; }
  return 0.0;
}

// Does candidate (v, i) beat the current best (b, j)? Ties go to the lower index, like torch.
fn better(v: f32, i: u32, b: f32, j: u32) -> bool {
  if (OP == 1u) { return v > b || (v == b && i < j); }
  return v < b || (v == b && i < j);
}

fn input_index(o: u32, k: u32) -> u32 {
  let oo = o / p.inner;
  let ii = o % p.inner;
  return p.off + (oo * p.r + k) * p.inner + ii;
}

fn finish(o: u32, v: f32, j: u32) {
  if (OP == 0u) {
    out[o] = v * p.scale;
  } else {
    out[o] = v;
    idx[o] = i32(j);
  }
}

@compute @workgroup_size(64)
fn reduce_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = flat_index(wid, nwg, lid, 64u);
  if (o >= p.outer * p.inner) { return; }
  var best = identity();
  var bi = 0u;
  for (var k = 0u; k < p.r; k++) {
    let v = x[input_index(o, k)];
    if (OP == 0u) { best += v; } else if (better(v, k, best, bi) || k == 0u) { best = v; bi = k; }
  }
  finish(o, best, bi);
}

var<workgroup> wv: array<f32, WG>;
var<workgroup> wi: array<u32, WG>;

@compute @workgroup_size(WG)
fn reduce_wide(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = wid.y * nwg.x + wid.x;
  var best = identity();
  var bi = 0xffffffffu;
  if (o < p.outer * p.inner) {
    for (var k = lid; k < p.r; k += WG) {
      let v = x[input_index(o, k)];
      if (OP == 0u) { best += v; } else if (bi == 0xffffffffu || better(v, k, best, bi)) { best = v; bi = k; }
    }
  }
  wv[lid] = best;
  wi[lid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      let v = wv[lid + s];
      let j = wi[lid + s];
      if (OP == 0u) { wv[lid] += v; } else if (j != 0xffffffffu && (wi[lid] == 0xffffffffu || better(v, j, wv[lid], wi[lid]))) { wv[lid] = v; wi[lid] = j; }
    }
    workgroupBarrier();
  }
  if (lid == 0u && o < p.outer * p.inner) { finish(o, wv[0], wi[0]); }
}
