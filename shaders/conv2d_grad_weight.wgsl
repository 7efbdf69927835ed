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

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;  // the same buffer, as vec4
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;  // (ksplit, O, Cg, kh, kw)

struct ARow { base: u32, ok: bool }         // dY channel o of the group, batch 0, row 0
struct ASeg { base: u32, ok: bool }         // ... at (b, oy)
struct BCol { base: u32, dy: i32, dx: i32, ok: bool, out: u32 }   // (c, ky, kx): X plane offset, tap offsets, dW offset for o = 0
struct BSeg { base: i32, dx: i32, ok: bool }  // X row under (b, oy) for this tap; ix = ox * stride + dx

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
  let c = n / taps;
  let r = n % taps;
  let ky = i32(r / p.kw);
  let kx = i32(r % p.kw);
  let cg = p.N / taps;
  let out_base = g * p.M * p.N + n;
  return BCol((g * cg + c) * p.H * p.W, ky * p.dil_y - p.pad_y, kx * p.dil_x - p.pad_x, n < p.N, out_base);
}

fn b_seg(c: BCol, sy: u32, sx: u32) -> BSeg {
  let b = sy / p.OH;
  let iy = i32(sy % p.OH) * p.stride_y + c.dy;
  let inside = iy >= 0 && iy < i32(p.H);
  return BSeg(i32(b * p.C * p.H * p.W + c.base) + iy * i32(p.W), c.dx, c.ok && inside);
}

fn b_get4(s: BSeg, kk: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    let ix = i32(kk + t) * p.stride_x + s.dx;
    let ok = s.ok && kk + t < p.seg_len && ix >= 0 && ix < i32(p.W);
    v[t] = select(0.0, x[u32(s.base + ix)], ok);
  }
  return v;
}

fn c_put(m: u32, c: BCol, g: u32, part: u32, v: f32) {
  dw[part * p.O * p.N + c.out + m * p.N] = v;
}
