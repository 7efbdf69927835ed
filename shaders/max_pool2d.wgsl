// 2-D max pooling over (N, C, H, W) planes, and its gradient.
// `pool`: one invocation per output pixel scans its window row by row; a value replaces the
// best only when strictly greater (or NaN), so ties keep the first position, as in torch.
// Padding never wins (it is -inf). The winner's position in its input plane (y * W + x) is
// written to `idx` when WITH_INDICES (training), as torch's return_indices does.
// `pool_backward`: one invocation per input pixel gathers the gradient of every output whose
// window covers it and whose winner it was: no atomics, a fixed summation order.
#include "index1d.wgsl"

override WG: u32 = 256u;
override WITH_INDICES: bool = true;

struct Params {
  n: u32,         // invocations: N*C*OH*OW for pool, N*C*H*W for pool_backward
  h: i32,         // input plane
  w: i32,
  oh: i32,        // output plane
  ow: i32,
  kh: i32,        // window
  kw: i32,
  sh: i32,        // stride
  sw: i32,
  ph: i32,        // padding (top/left; the same at the bottom/right)
  pw: i32,
  dh: i32,        // dilation
  dw: i32,
  neg_inf: f32,   // -inf (WGSL cannot spell it as a constant)
  c: i32,         // channels; pool reads and writes planes through these layouts (elements: batch
  x_sb: u32,      // and channel strides, offset), so a compiled forward writes its slice of a
  x_sc: u32,      // concat in place (eager: contiguous)
  x_off: u32,
  out_sb: u32,
  out_sc: u32,
  out_off: u32,
  x_in_out: u32,  // 1: x lies in the output's buffer (SPPF's pools chain inside one concat) and
                  // is read through `out` (WebGPU forbids one buffer bound read-only and writable)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // pool: input; backward: output grad
@group(0) @binding(2) var<storage, read_write> out: array<f32>;    // pool: output; backward: input grad
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;    // winner positions, (N, C, OH, OW)

@compute @workgroup_size(WG)
fn pool(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, WG);
  if (i >= p.n) { return; }
  let ox = i32(i % u32(p.ow));
  let oy = i32((i / u32(p.ow)) % u32(p.oh));
  let plane = i / u32(p.ow * p.oh);
  let b = plane / u32(p.c);
  let ch = plane % u32(p.c);
  let base = p.x_off + b * p.x_sb + ch * p.x_sc;
  // First in-bounds tap: the index torch reports when every tap is -inf.
  var y0 = oy * p.sh - p.ph;
  var x0 = ox * p.sw - p.pw;
  while (y0 < 0) { y0 += p.dh; }
  while (x0 < 0) { x0 += p.dw; }
  var best = p.neg_inf;
  var at = y0 * p.w + x0;
  for (var ky = 0; ky < p.kh; ky++) {
    let y = oy * p.sh - p.ph + ky * p.dh;
    if (y < 0 || y >= p.h) { continue; }
    for (var kx = 0; kx < p.kw; kx++) {
      let xx = ox * p.sw - p.pw + kx * p.dw;
      if (xx < 0 || xx >= p.w) { continue; }
      let k = base + u32(y * p.w + xx);
      var v = x[k];
      if (p.x_in_out == 1u) { v = out[k]; }
      if (v > best || v != v) { best = v; at = y * p.w + xx; }
    }
  }
  out[p.out_off + b * p.out_sb + ch * p.out_sc + u32(oy * p.ow + ox)] = best;
  if (WITH_INDICES) { idx[i] = at; }
}

@compute @workgroup_size(WG)
fn pool_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, WG);
  if (i >= p.n) { return; }
  let xx = i32(i % u32(p.w));
  let y = i32((i / u32(p.w)) % u32(p.h));
  let plane = i / u32(p.w * p.h);
  let me = y * p.w + xx;
  // Outputs whose window can reach row y: oy * sh - ph + ky * dh == y for some ky in [0, kh).
  let oy0 = max(0, (y + p.ph - (p.kh - 1) * p.dh + p.sh - 1) / p.sh); // ceil for a non-negative numerator
  let oy1 = min(p.oh - 1, floor_div(y + p.ph, p.sh));
  let ox0 = max(0, (xx + p.pw - (p.kw - 1) * p.dw + p.sw - 1) / p.sw);
  let ox1 = min(p.ow - 1, floor_div(xx + p.pw, p.sw));
  let obase = plane * u32(p.oh * p.ow);
  var acc = 0.0;
  for (var oy = oy0; oy <= oy1; oy++) {
    for (var ox = ox0; ox <= ox1; ox++) {
      let o = obase + u32(oy * p.ow + ox);
      if (idx[o] == me) { acc += x[o]; }
    }
  }
  out[i] = acc;
}

// Floor division for a possibly negative numerator and a positive divisor.
fn floor_div(a: i32, b: i32) -> i32 {
  let q = a / b;
  return select(q, q - 1, a % b != 0 && a < 0);
}
