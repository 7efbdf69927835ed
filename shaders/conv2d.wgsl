// conv2d forward as an implicit GEMM (hooks for gemm_tiled.wgsl / gemm_subgroup.wgsl):
//   C[o, pixel] = sum_k W[o, k] * X[k, pixel], per group g (the grid's z slice),
//   m = o in the group (M = O / groups), n = (b, oy, ox) (N = batch * OH * OW),
//   k = (ky, kx, c): segments (sy, sx) = (ky, kx), each of seg_len = C / groups channels.
// The weight arrives repacked as (O, kh, kw, Cg4), Cg4 = Cg rounded up to 4 with zeros, so a
// segment's channels are contiguous and 4-aligned: always vec4 loads.
// Epilogue: + bias, optional SiLU.

struct Params {
  M: u32,          // GEMM sizes and K segmentation (the core reads these)
  N: u32,
  seg_y: u32,      // kh
  seg_x: u32,      // kw
  seg_len: u32,    // Cg
  ksplit: u32,     // 1: no split-K for the forward
  cg4: u32,        // Cg rounded up to 4: the packed weight's row length per tap
  C: u32,          // input (batch, C, H, W)
  H: u32,
  W: u32,
  O: u32,          // output (batch, O, OH, OW)
  OH: u32,
  OW: u32,
  stride_y: i32,
  stride_x: i32,
  pad_y: i32,
  pad_x: i32,
  dil_y: i32,
  dil_x: i32,
  has_bias: u32,
  act: u32,        // 0 none, 1 SiLU
  x_sb: u32,       // input layout in elements: batch and channel strides, offset; each plane is
  x_sc: u32,       // H x W contiguous (eager: C*H*W, H*W, 0; a compiled forward reads a channel
  x_off: u32,      // slice of a concat buffer in place)
  out_sb: u32,     // output layout, the same way (a compiled forward writes straight into its
  out_sc: u32,     // slice of a concat's output)
  out_off: u32,
}

// PLANE_VEC4: OH * OW % 4 == 0 (and every stride and offset above is too), so 4 consecutive
// pixels (n % 4 == 0) lie in one plane, 16-byte aligned: one vec4 store, and for a 1x1 stride-1 unpadded conv (POINTWISE) one vec4 load.
override PLANE_VEC4: bool = false;
override POINTWISE: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4f>;  // the same buffer, as vec4
@group(0) @binding(3) var<storage, read> w4: array<vec4f>;  // (O, kh, kw, Cg4)
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4f>;  // (batch, O, OH, OW), flat, 4 per element

struct ARow { base: u32, ok: bool }           // weight row o
struct ASeg { base: u32, ok: bool }           // ... at tap (ky, kx)
// 4 output pixels n..n+3: input plane offset of channel 0 of the group, window origin, output offset of o = 0
struct BCol { base: vec4i, iy: vec4i, ix: vec4i, ok: vec4<bool>, out: vec4u }
struct BSeg { base: vec4i, ok: vec4<bool> }   // the input pixel under tap (ky, kx), channel 0

fn a_row(m: u32, g: u32) -> ARow {
  let o = g * p.M + m;
  return ARow(o * p.seg_y * p.seg_x * p.cg4, m < p.M);
}

fn a_seg(r: ARow, ky: u32, kx: u32) -> ASeg {
  return ASeg(r.base + (ky * p.seg_x + kx) * p.cg4, r.ok);
}

fn a_get4(s: ASeg, kk: u32) -> vec4f {
  return select(vec4f(0.0), w4[(s.base + kk) / 4u], s.ok);  // zeros past Cg come from the padding
}

fn b_col(n: u32, g: u32) -> BCol {
  let plane = p.OH * p.OW;
  let ns = vec4u(n) + vec4u(0u, 1u, 2u, 3u);
  let b = ns / plane;
  let r = ns % plane;
  let oy = vec4i(r / p.OW);
  let ox = vec4i(r % p.OW);
  let base = vec4i(b * p.x_sb + g * p.seg_len * p.x_sc + p.x_off);
  let out_base = b * p.out_sb + g * p.M * p.out_sc + r + p.out_off;
  return BCol(base, oy * p.stride_y - p.pad_y, ox * p.stride_x - p.pad_x, ns < vec4u(p.N), out_base);
}

fn b_seg(c: BCol, ky: u32, kx: u32) -> BSeg {
  let iy = c.iy + i32(ky) * p.dil_y;
  let ix = c.ix + i32(kx) * p.dil_x;
  let inside = (iy >= vec4i(0)) & (iy < vec4i(i32(p.H))) & (ix >= vec4i(0)) & (ix < vec4i(i32(p.W)));
  return BSeg(c.base + iy * i32(p.W) + ix, c.ok & inside);
}

// X[channel kk of the group, the 4 pixels under this tap]
fn b_get(s: BSeg, kk: u32) -> vec4f {
  let off = s.base + i32(kk * p.x_sc);
  let ok = s.ok & vec4<bool>(kk < p.seg_len);
  if (POINTWISE && PLANE_VEC4) {
    return select(vec4f(0.0), x4[u32(off.x) / 4u], ok);
  }
  return select(vec4f(0.0), vec4f(x[u32(off.x)], x[u32(off.y)], x[u32(off.z)], x[u32(off.w)]), ok);
}

fn c_put4(m: u32, c: BCol, g: u32, part: u32, acc: vec4f) {
  var v = acc;
  if (p.has_bias == 1u) { v += bias[g * p.M + m]; }
  if (p.act == 1u) { v = v / (1.0 + exp(-v)); }
  let o = c.out + m * p.out_sc;
  if (PLANE_VEC4 && c.ok.w) {
    out[o.x / 4u] = v;
    return;
  }
  for (var t = 0u; t < 4u; t++) {
    if (c.ok[t]) { out[o[t] / 4u][o[t] % 4u] = v[t]; }
  }
}
