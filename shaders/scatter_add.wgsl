// torch.Tensor.scatter_add_ into `out` (a copy of x; zeros when a backward scatters gradients):
//   out[i with its `axis` coordinate replaced by idx[i]] += src[i], for every position i of the index.
// Several positions may hit the same output element, so the add is atomic. WGSL has atomics only
// on i32/u32: for f32 the add is a compare-exchange loop on the bit pattern (read the word, add in
// f32, swap it in if nobody wrote meanwhile, else retry with the newer word). Float addition is
// not associative, so the order the GPU happens to pick makes sums of colliding writes
// non-deterministic in the last bits; tests compare with a tolerance. i32 uses a plain atomicAdd
// (two's-complement addition is the same on u32 words).
// Out-of-range indices (negative or >= dim) are skipped: no write outside out. The cpu reference
// throws on them instead.
#include "index1d.wgsl"

override IS_INT: u32 = 0u; // 1: the values are i32

struct Params {
  n: u32,        // index elements
  rank: u32,     // at most 8
  axis: u32,
  dim: u32,      // out.shape[axis]: valid indices are 0..dim-1
  off_idx: u32,  // element offsets of the index and src views into their buffers
  off_src: u32,
  shape: array<vec4<u32>, 2>,   // index shape, dims 0..7
  st_out: array<vec4<u32>, 2>,  // out strides (contiguous, x's shape)
  st_idx: array<vec4<u32>, 2>,  // index strides in elements
  st_src: array<vec4<u32>, 2>,  // src strides in elements
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read> src: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<atomic<u32>>;

fn atomic_add_f32(o: u32, v: f32) {
  var old = atomicLoad(&out[o]);
  loop {
    let r = atomicCompareExchangeWeak(&out[o], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, 256u);
  if (i >= p.n) { return; }
  var io = 0u;
  var ii = p.off_idx;
  var is = p.off_src;
  var axis_stride = 0u;
  var rem = i;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let q = u32(d) / 4u;
    let r = u32(d) % 4u;
    let k = rem % p.shape[q][r];
    rem = rem / p.shape[q][r];
    ii += k * p.st_idx[q][r];
    is += k * p.st_src[q][r];
    if (u32(d) == p.axis) {
      axis_stride = p.st_out[q][r];
    } else {
      io += k * p.st_out[q][r];
    }
  }
  let j = idx[ii];
  if (j < 0 || u32(j) >= p.dim) { return; }
  let o = io + u32(j) * axis_stride;
  if (IS_INT == 1u) {
    atomicAdd(&out[o], src[is]);
  } else {
    atomic_add_f32(o, bitcast<f32>(src[is]));
  }
}
