// conv2d grad-weight as an implicit GEMM, hooks for gemm_*.wgsl:
//   dW[o, c, ky, kx] = sum over (b, oy, ox) of dY[b, o, oy, ox] * X[b, c, oy * stride - pad + ky * dil, ...x]
// Per group g: m = o in the group (M = O / groups), n = (c, ky, kx) (N = Cg * kh * kw),
// k = (b, oy, ox): segments sy = b * OH + oy (seg_y = batch * OH, seg_x = 1), each of seg_len = OW.
// K is long and M x N small, so the grid splits K (ksplit parts, each summing its rows of sy) and
// writes partial sums (ksplit, O, Cg * kh * kw) that the launcher adds up.

struct Params {
  M: u32,          // Og
  N: u32,          // Cg * kh * kw
  seg_y: u32,      // batch * OH
  seg_x: u32,      // 1
  seg_len: u32,    // OW
  ksplit: u32,
  C: u32,          // X (batch, C, H, W)
  H: u32,
  W: u32,
  O: u32,          // dY (batch, O, OH, OW)
  OH: u32,
  OW: u32,
  kh: u32,
  kw: u32,
  stride_y: i32,
  stride_x: i32,
  pad_y: i32,
  pad_x: i32,
  dil_y: i32,
  dil_x: i32,
}

// A_VEC4: OW % 4 == 0, so a run of 4 ox of dY is one vec4 load.
override A_VEC4: bool = false;
// ROW_VEC4: Cg * kh * kw % 4 == 0, so 4 consecutive columns of dW are one aligned vec4 store.
override ROW_VEC4: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;  // the same buffer, as vec4
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw: array<vec4f>;  // (ksplit, O, Cg, kh, kw), flat, 4 per element

struct ARow { base: u32, ok: bool }         // dY channel o of the group, batch 0, row 0
struct ASeg { base: u32, ok: bool }         // ... at (b, oy)
// 4 columns (c, ky, kx): X plane offset, tap offsets, dW offset for o = 0
struct BCol { base: vec4u, dy: vec4i, dx: vec4i, ok: vec4<bool>, out: u32 }
struct BSeg { base: vec4i, dx: vec4i, ok: vec4<bool> }  // X rows under (b, oy) for these taps; ix = ox * stride + dx

fn a_row(m: u32, g: u32) -> ARow {
  return ARow((g * p.M + m) * p.OH * p.OW, m < p.M);
}

fn a_seg(r: ARow, sy: u32, sx: u32) -> ASeg {
  let b = sy / p.OH;
  let oy = sy % p.OH;
  return ASeg(r.base + b * p.O * p.OH * p.OW + oy * p.OW, r.ok);
}

fn a_get4(s: ASeg, kk: u32) -> vec4f {
  if (A_VEC4) {
    return select(vec4f(0.0), dy4[(s.base + kk) / 4u], s.ok);
  }
  var v = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    v[t] = select(0.0, dy[s.base + kk + t], s.ok && kk + t < p.seg_len);
  }
  return v;
}

fn b_col(n: u32, g: u32) -> BCol {
  let taps = p.kh * p.kw;
  let ns = vec4u(n) + vec4u(0u, 1u, 2u, 3u);
  let c = ns / taps;
  let r = ns % taps;
  let ky = vec4i(r / p.kw);
  let kx = vec4i(r % p.kw);
  let cg = p.N / taps;
  return BCol((g * cg + c) * p.H * p.W, ky * p.dil_y - p.pad_y, kx * p.dil_x - p.pad_x, ns < vec4u(p.N), g * p.M * p.N + n);
}

fn b_seg(c: BCol, sy: u32, sx: u32) -> BSeg {
  let b = sy / p.OH;
  let iy = i32(sy % p.OH) * p.stride_y + c.dy;
  let inside = (iy >= vec4i(0)) & (iy < vec4i(i32(p.H)));
  return BSeg(vec4i(b * p.C * p.H * p.W + c.base) + iy * i32(p.W), c.dx, c.ok & inside);
}

// X[the 4 columns' (c, ky, kx) at output pixel ox = kk of this row]
fn b_get(s: BSeg, kk: u32) -> vec4f {
  let ix = i32(kk) * p.stride_x + s.dx;
  let ok = s.ok & vec4<bool>(kk < p.seg_len) & (ix >= vec4i(0)) & (ix < vec4i(i32(p.W)));
  let off = s.base + ix;
  return select(vec4f(0.0), vec4f(x[u32(off.x)], x[u32(off.y)], x[u32(off.z)], x[u32(off.w)]), ok);
}

fn c_put4(m: u32, c: BCol, g: u32, part: u32, v: vec4f) {
  let o = part * p.O * p.N + c.out + m * p.N;
  if (ROW_VEC4 && c.ok.w) {
    dw[o / 4u] = v;
    return;
  }
  for (var t = 0u; t < 4u; t++) {
    if (c.ok[t]) { dw[(o + t) / 4u][(o + t) % 4u] = v[t]; }
  }
}
