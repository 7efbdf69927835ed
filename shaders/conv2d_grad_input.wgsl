// conv2d grad-input (a transposed convolution) as an implicit GEMM, hooks for gemm_*.wgsl:
//   dX[b, c, iy, ix] = sum over (ky, kx, o) of W[o, c, ky, kx] * dY[b, o, oy, ox]
//   where oy * stride = iy + pad - ky * dil (taps that do not land on an output row add nothing).
// Per group g (the z slice): m = c in the group (M = C / groups), n = (b, iy, ix) (N = batch * H * W),
// k = (ky, kx, o): segments (sy, sx) = (ky, kx), each of seg_len = O / groups output channels.
// The weight arrives repacked as (groups, Cg, kh, kw, Og) so a segment's o are contiguous.

struct Params {
  M: u32,          // Cg
  N: u32,          // batch * H * W
  seg_y: u32,      // kh
  seg_x: u32,      // kw
  seg_len: u32,    // Og
  ksplit: u32,     // 1
  C: u32,          // dX (batch, C, H, W)
  H: u32,
  W: u32,
  O: u32,          // dY (batch, O, OH, OW)
  OH: u32,
  OW: u32,
  stride_y: i32,
  stride_x: i32,
  pad_y: i32,
  pad_x: i32,
  dil_y: i32,
  dil_x: i32,
}

// A_VEC4: Og % 4 == 0, so a_get4 is one vec4 load.
override A_VEC4: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;     // (groups, Cg, kh, kw, Og)
@group(0) @binding(3) var<storage, read> w4: array<vec4f>;  // the same buffer, as vec4
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

struct ARow { base: u32, ok: bool }        // weight row (g, c)
struct ASeg { base: u32, ok: bool }        // ... at tap (ky, kx)
struct BCol { base: i32, ty: i32, tx: i32, ok: bool, out: u32 }   // input pixel: dY plane offset, iy + pad, ix + pad, dX offset of channel 0
struct BSeg { base: i32, ok: bool }        // output pixel this tap reads, channel 0 of the group

fn a_row(m: u32, g: u32) -> ARow {
  return ARow((g * p.M + m) * p.seg_y * p.seg_x * p.seg_len, m < p.M);
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
  let plane = p.H * p.W;
  let b = n / plane;
  let r = n % plane;
  let iy = i32(r / p.W);
  let ix = i32(r % p.W);
  let base = i32((b * p.O + g * p.seg_len) * p.OH * p.OW);
  let out_base = (b * p.C + g * p.M) * plane + r;
  return BCol(base, iy + p.pad_y, ix + p.pad_x, n < p.N, out_base);
}

fn b_seg(c: BCol, ky: u32, kx: u32) -> BSeg {
  let ty = c.ty - i32(ky) * p.dil_y;
  let tx = c.tx - i32(kx) * p.dil_x;
  // Negative ty/tx are rejected before the division, so its rounding does not matter.
  let oy = ty / p.stride_y;
  let ox = tx / p.stride_x;
  let hit = ty >= 0 && tx >= 0 && oy * p.stride_y == ty && ox * p.stride_x == tx && oy < i32(p.OH) && ox < i32(p.OW);
  return BSeg(c.base + oy * i32(p.OW) + ox, c.ok && hit);
}

fn b_get4(s: BSeg, kk: u32) -> vec4f {
  let plane = i32(p.OH * p.OW);
  var v = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    v[t] = select(0.0, dy[u32(s.base + i32(kk + t) * plane)], s.ok && kk + t < p.seg_len);
  }
  return v;
}

fn c_put(m: u32, c: BCol, g: u32, part: u32, v: f32) {
  dx[c.out + m * p.H * p.W] = v;
}
