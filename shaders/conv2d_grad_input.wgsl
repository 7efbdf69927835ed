// conv2d grad-input (a transposed convolution) as an implicit GEMM, hooks for gemm_*.wgsl:
//   dX[b, c, iy, ix] = sum over taps (ky, kx) and o of W[o, c, ky, kx] * dY[b, o, oy, ox]
//   where oy * stride = iy + pad - ky * dil (a tap adds nothing unless that divides exactly).
// With stride > 1 most (pixel, tap) pairs would add nothing, so the launcher runs one GEMM per
// stride phase (py, px) = (iy mod stride, ix mod stride): inside a phase the taps that hit form
// the progression ky = ky0 + j * kstep (j < seg_y), and oy = qy + c0 - j * dstep with no
// division, for the phase's pixels iy = qy * stride + py. (Stride 1: one phase, every tap.)
// Per group g (the z slice): m = c in the group (M = C / groups), n = (b, qy, qx) (N = batch * Hq * Wq),
// k = (j_y, j_x, o): segments over the phase's taps, each of seg_len = O / groups output channels.
// The weight arrives repacked as (groups, Cg, kh, kw, Og4), Og4 = Og rounded up to 4 with zeros,
// so a tap's o are contiguous and 4-aligned: always vec4 loads.

struct Params {
  M: u32,          // Cg
  N: u32,          // batch * Hq * Wq
  seg_y: u32,      // taps of this phase along y
  seg_x: u32,      // ... along x
  seg_len: u32,    // Og
  ksplit: u32,     // 1
  og4: u32,        // Og rounded up to 4: the packed weight's outputs per tap
  C: u32,          // dX (batch, C, H, W)
  H: u32,
  W: u32,
  O: u32,          // dY (batch, O, OH, OW)
  OH: u32,
  OW: u32,
  kh: u32,
  kw: u32,
  stride_y: u32,
  stride_x: u32,
  phase_y: u32,    // this GEMM's pixels: iy = qy * stride_y + phase_y, qy < Hq
  phase_x: u32,
  Hq: u32,
  Wq: u32,
  ky0: u32,        // its taps: ky = ky0 + j * kstep_y
  kx0: u32,
  kstep_y: u32,
  kstep_x: u32,
  c0_y: i32,       // oy = qy + c0_y - j * dstep_y
  c0_x: i32,
  dstep_y: i32,
  dstep_x: i32,
}

// PLANE_VEC4: stride 1 and H * W % 4 == 0: 4 consecutive pixels (n % 4 == 0) are one aligned vec4
// of dX (one store) and, for a 1x1 unpadded conv (POINTWISE), of dY (one load).
override PLANE_VEC4: bool = false;
override POINTWISE: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;  // the same buffer, as vec4
@group(0) @binding(3) var<storage, read> w4: array<vec4f>;   // (groups, Cg, kh, kw, Og4)
@group(0) @binding(4) var<storage, read_write> dx: array<vec4f>;  // (batch, C, H, W), flat, 4 per element

struct ARow { base: u32, ok: bool }        // weight row (g, c)
struct ASeg { base: u32, ok: bool }        // ... at tap (ky, kx)
// 4 pixels n..n+3 of this phase: dY plane offset of channel 0 of the group, (oy, ox) of tap j = 0, dX offset of c = 0
struct BCol { base: vec4i, oy: vec4i, ox: vec4i, ok: vec4<bool>, out: vec4u }
struct BSeg { base: vec4i, ok: vec4<bool> }   // the dY pixels under tap j, channel 0 of the group

fn a_row(m: u32, g: u32) -> ARow {
  return ARow((g * p.M + m) * p.kh * p.kw * p.og4, m < p.M);
}

fn a_seg(r: ARow, jy: u32, jx: u32) -> ASeg {
  let ky = p.ky0 + jy * p.kstep_y;
  let kx = p.kx0 + jx * p.kstep_x;
  return ASeg(r.base + (ky * p.kw + kx) * p.og4, r.ok);
}

fn a_get4(s: ASeg, kk: u32) -> vec4f {
  return select(vec4f(0.0), w4[(s.base + kk) / 4u], s.ok);  // zeros past Og come from the padding
}

fn b_col(n: u32, g: u32) -> BCol {
  let plane = p.Hq * p.Wq;
  let ns = vec4u(n) + vec4u(0u, 1u, 2u, 3u);
  let b = ns / plane;
  let r = ns % plane;
  let qy = r / p.Wq;
  let qx = r % p.Wq;
  let base = vec4i((b * p.O + g * p.seg_len) * p.OH * p.OW);
  let iy = qy * p.stride_y + p.phase_y;
  let ix = qx * p.stride_x + p.phase_x;
  let out_base = (b * p.C + g * p.M) * p.H * p.W + iy * p.W + ix;
  return BCol(base, vec4i(qy) + p.c0_y, vec4i(qx) + p.c0_x, ns < vec4u(p.N), out_base);
}

fn b_seg(c: BCol, jy: u32, jx: u32) -> BSeg {
  let oy = c.oy - i32(jy) * p.dstep_y;
  let ox = c.ox - i32(jx) * p.dstep_x;
  let hit = (oy >= vec4i(0)) & (oy < vec4i(i32(p.OH))) & (ox >= vec4i(0)) & (ox < vec4i(i32(p.OW)));
  return BSeg(c.base + oy * i32(p.OW) + ox, c.ok & hit);
}

// dY[output channel kk of the group, the 4 pixels this tap reads]
fn b_get(s: BSeg, kk: u32) -> vec4f {
  let off = s.base + i32(kk * p.OH * p.OW);
  let ok = s.ok & vec4<bool>(kk < p.seg_len);
  if (POINTWISE && PLANE_VEC4) {
    return select(vec4f(0.0), dy4[u32(off.x) / 4u], ok);
  }
  return select(vec4f(0.0), vec4f(dy[u32(off.x)], dy[u32(off.y)], dy[u32(off.z)], dy[u32(off.w)]), ok);
}

fn c_put4(m: u32, c: BCol, g: u32, part: u32, v: vec4f) {
  let o = c.out + m * p.H * p.W;
  if (PLANE_VEC4 && c.ok.w) {
    dx[o.x / 4u] = v;
    return;
  }
  for (var t = 0u; t < 4u; t++) {
    if (c.ok[t]) { dx[o[t] / 4u][o[t] % 4u] = v[t]; }
  }
}
