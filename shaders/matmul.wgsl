// matmul as a GEMM, hooks for gemm_*.wgsl: out[z, m, n] = sum_k A[z, m, k] * B[z, k, n] for each
// batch z (the grid's z slice). A and B are read through strides (so transposed views need no
// copy); a batch stride of 0 broadcasts an operand. One K segment.

struct Params {
  M: u32,
  N: u32,
  seg_y: u32,      // 1
  seg_x: u32,      // 1
  seg_len: u32,    // K
  ksplit: u32,     // 1
  a_off: u32,      // element offsets and strides of the A view: (batch, m, k)
  a_sb: u32,
  a_sm: u32,
  a_sk: u32,
  b_off: u32,      // ... and of B: (batch, k, n)
  b_sb: u32,
  b_sk: u32,
  b_sn: u32,
}

// A_VEC4: A rows are contiguous and 4-aligned (a_sk == 1; a_off, a_sm, a_sb multiples of 4), so
// 4 k of a row are one vec4 load. B_VEC4 likewise for 4 columns of a B row (b_sn == 1, ...), and
// C_VEC4 (N % 4 == 0) for 4 columns of an output row (one store).
override A_VEC4: bool = false;
override B_VEC4: bool = false;
override C_VEC4: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> a4: array<vec4f>;  // the same buffer, as vec4
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4f>;  // the same buffer, as vec4
@group(0) @binding(5) var<storage, read_write> out: array<vec4f>;  // (batch, M, N), flat, 4 per element

struct ARow { base: u32, ok: bool }
struct ASeg { base: u32, ok: bool }
struct BCol { base: vec4u, ok: vec4<bool>, out: u32 }   // columns n..n+3: B offsets at k = 0, out offset at m = 0
struct BSeg { base: vec4u, ok: vec4<bool> }

fn a_row(m: u32, z: u32) -> ARow {
  return ARow(p.a_off + z * p.a_sb + m * p.a_sm, m < p.M);
}

fn a_seg(r: ARow, sy: u32, sx: u32) -> ASeg {
  return ASeg(r.base, r.ok);
}

fn a_get4(s: ASeg, kk: u32) -> vec4f {
  if (A_VEC4) {
    return select(vec4f(0.0), a4[(s.base + kk) / 4u], s.ok);
  }
  var v = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    v[t] = select(0.0, a[s.base + (kk + t) * p.a_sk], s.ok && kk + t < p.seg_len);
  }
  return v;
}

fn b_col(n: u32, z: u32) -> BCol {
  let ns = vec4u(n) + vec4u(0u, 1u, 2u, 3u);
  return BCol(p.b_off + z * p.b_sb + ns * p.b_sn, ns < vec4u(p.N), (z * p.M) * p.N + n);
}

fn b_seg(c: BCol, sy: u32, sx: u32) -> BSeg {
  return BSeg(c.base, c.ok);
}

// B[k = kk, the 4 columns]
fn b_get(s: BSeg, kk: u32) -> vec4f {
  let off = s.base + kk * p.b_sk;
  let ok = s.ok & vec4<bool>(kk < p.seg_len);
  if (B_VEC4) {
    return select(vec4f(0.0), b4[off.x / 4u], ok);
  }
  return select(vec4f(0.0), vec4f(b[off.x], b[off.y], b[off.z], b[off.w]), ok);
}

fn c_put4(m: u32, c: BCol, z: u32, part: u32, v: vec4f) {
  let o = c.out + m * p.N;
  if (C_VEC4 && c.ok.w) {
    out[o / 4u] = v;
    return;
  }
  for (var t = 0u; t < 4u; t++) {
    if (c.ok[t]) { out[(o + t) / 4u][(o + t) % 4u] = v[t]; }
  }
}
