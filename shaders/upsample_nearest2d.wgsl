// Nearest-neighbour upsampling of (N, C, H, W) by integer factors (sh, sw), and its gradient.
// `upsample`: one invocation per output pixel copies its source pixel (oh / sh, ow / sw).
// `upsample_backward`: one invocation per input pixel sums its sh x sw block of the output
// gradient (a gather, so no atomics and a fixed summation order).
#include "index1d.wgsl"

override WG: u32 = 256u;

struct Params {
  n: u32,       // invocations: N*C*OH*OW for upsample, N*C*H*W for upsample_backward
  h: u32,       // input height and width
  w: u32,
  sh: u32,      // scale factors
  sw: u32,
  c: u32,       // channels; upsample reads and writes planes through these layouts (elements:
  x_sb: u32,    // batch and channel strides, offset), so a compiled forward writes its slice of a
  x_sc: u32,    // concat in place (eager: contiguous)
  x_off: u32,
  out_sb: u32,
  out_sc: u32,
  out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;        // upsample: through x_*; backward: contiguous
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn upsample(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, WG);
  if (i >= p.n) { return; }
  let ow_n = p.w * p.sw;
  let oh_n = p.h * p.sh;
  let ox = i % ow_n;
  let oy = (i / ow_n) % oh_n;
  let plane = i / (ow_n * oh_n);
  let b = plane / p.c;
  let ch = plane % p.c;
  dst[p.out_off + b * p.out_sb + ch * p.out_sc + oy * ow_n + ox] = src[p.x_off + b * p.x_sb + ch * p.x_sc + (oy / p.sh) * p.w + ox / p.sw];
}

@compute @workgroup_size(WG)
fn upsample_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, WG);
  if (i >= p.n) { return; }
  let x = i % p.w;
  let y = (i / p.w) % p.h;
  let plane = i / (p.w * p.h);
  let ow_n = p.w * p.sw;
  var base = (plane * p.h * p.sh + y * p.sh) * ow_n + x * p.sw; // top-left of the block in src
  var acc = 0.0;
  for (var dy = 0u; dy < p.sh; dy++) {
    for (var dx = 0u; dx < p.sw; dx++) {
      acc += src[base + dx];
    }
    base += ow_n;
  }
  dst[i] = acc;
}
