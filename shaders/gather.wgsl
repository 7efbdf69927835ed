// torch.gather: out[i] = x[i with its `axis` coordinate replaced by idx[i]], for every position i
// of the index (whose shape is the output's). x and the index are read through their strides, so
// the index may be an expanded view: that is how index_select reuses this kernel without a copy.
// Values move as raw 32-bit words, so one kernel serves f32 and i32.
// Out-of-range indices (negative or >= dim) write 0 and read nothing: no access outside x. The cpu
// reference throws on them instead.
#include "index1d.wgsl"

struct Params {
  n: u32,        // output elements (= index elements)
  rank: u32,     // at most 8
  axis: u32,
  dim: u32,      // x.shape[axis]: valid indices are 0..dim-1
  off_x: u32,    // element offsets of the x and index views into their buffers
  off_idx: u32,
  shape: array<vec4<u32>, 2>,   // index (= output) shape, dims 0..7
  st_x: array<vec4<u32>, 2>,    // x strides in elements
  st_idx: array<vec4<u32>, 2>,  // index strides in elements (0 on expanded axes)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, 256u);
  if (i >= p.n) { return; }
  // Walk the coordinates of i from the last axis; the axis coordinate of x comes from the index.
  var ix = p.off_x;
  var ii = p.off_idx;
  var axis_stride = 0u;
  var rem = i;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let q = u32(d) / 4u;
    let r = u32(d) % 4u;
    let k = rem % p.shape[q][r];
    rem = rem / p.shape[q][r];
    ii += k * p.st_idx[q][r];
    if (u32(d) == p.axis) {
      axis_stride = p.st_x[q][r];
    } else {
      ix += k * p.st_x[q][r];
    }
  }
  let j = idx[ii];
  if (j < 0 || u32(j) >= p.dim) {
    out[i] = 0u;
    return;
  }
  out[i] = x[ix + u32(j) * axis_stride];
}
