// conv2d forward as an implicit GEMM (hooks for gemm_tiled.wgsl / gemm_subgroup.wgsl):
//   C[o, pixel] = sum_k W[o, k] * X[k, pixel], per group g (the grid's z slice),
//   m = o in the group (M = O / groups), n = (b, oy, ox) (N = batch * OH * OW),
//   k = (ky, kx, c): segments (sy, sx) = (ky, kx), each of seg_len = C / groups channels.
// The weight arrives repacked as (O, kh, kw, Cg) so a segment's channels are contiguous (vec4 loads).
// Epilogue: + bias, optional SiLU.

struct Params {
  M: u32,          // GEMM sizes and K segmentation (the core reads these)
  N: u32,
  seg_y: u32,      // kh
  seg_x: u32,      // kw
  seg_len: u32,    // Cg
  ksplit: u32,     // 1: no split-K for the forward
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
}

// A_VEC4: the weight rows are 4-aligned (Cg % 4 == 0), so a_get4 is one vec4 load.
override A_VEC4: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;     // (O, kh, kw, Cg)
@group(0) @binding(3) var<storage, read> w4: array<vec4f>;  // the same buffer, as vec4
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

struct ARow { base: u32, ok: bool }           // weight row o
struct ASeg { base: u32, ok: bool }           // ... at tap (ky, kx)
struct BCol { base: i32, iy: i32, ix: i32, ok: bool, out: u32 }   // output pixel: input plane offset, window origin, output offset of channel 0
struct BSeg { base: i32, ok: bool }           // input pixel under tap (ky, kx), channel 0 of the group

fn a_row(m: u32, g: u32) -> ARow {
  let o = g * p.M + m;
  return ARow(o * p.seg_y * p.seg_x * p.seg_len, m < p.M);
}

fn a_seg(r: ARow, ky: u32, kx: u32) -> ASeg {
  return ASeg(r.base + (ky * p.seg_x + kx) * p.seg_len, r.ok);
}

fn a_get4(s: ASeg, kk: u32) -> vec4f {
  if (A_VEC4) {
    return select(vec4f(0.0), w4[(s.base + kk) / 4u], s.ok);
  }
  var v = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    v[t] = select(0.0, w[s.base + kk + t], s.ok && kk + t < p.seg_len);
  }
  return v;
}

fn b_col(n: u32, g: u32) -> BCol {
  let plane = p.OH * p.OW;
  let b = n / plane;
  let r = n % plane;
  let oy = i32(r / p.OW);
  let ox = i32(r % p.OW);
  let base = i32((b * p.C + g * p.seg_len) * p.H * p.W);
  let out_base = (b * p.O + g * p.M) * plane + r;
  return BCol(base, oy * p.stride_y - p.pad_y, ox * p.stride_x - p.pad_x, n < p.N, out_base);
}

fn b_seg(c: BCol, ky: u32, kx: u32) -> BSeg {
  let iy = c.iy + i32(ky) * p.dil_y;
  let ix = c.ix + i32(kx) * p.dil_x;
  let inside = iy >= 0 && iy < i32(p.H) && ix >= 0 && ix < i32(p.W);
  return BSeg(c.base + iy * i32(p.W) + ix, c.ok && inside);
}

fn b_get4(s: BSeg, kk: u32) -> vec4f {
  let hw = i32(p.H * p.W);
  var v = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    v[t] = select(0.0, x[u32(s.base + i32(kk + t) * hw)], s.ok && kk + t < p.seg_len);
  }
  return v;
}

fn c_put(m: u32, c: BCol, g: u32, part: u32, acc: f32) {
  var v = acc;
  if (p.has_bias == 1u) { v += bias[g * p.M + m]; }
  if (p.act == 1u) { v = v / (1.0 + exp(-v)); }
  out[c.out + m * p.OH * p.OW] = v;
}
