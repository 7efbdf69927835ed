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

// A_VEC4: A rows are contiguous and 4-aligned (a_sk == 1, a_off, a_sm, a_sb and K multiples of 4).
override A_VEC4: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> a4: array<vec4f>;  // the same buffer, as vec4
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

struct ARow { base: u32, ok: bool }
struct ASeg { base: u32, ok: bool }
struct BCol { base: u32, ok: bool, out: u32 }
struct BSeg { base: u32, ok: bool }

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
  return BCol(p.b_off + z * p.b_sb + n * p.b_sn, n < p.N, (z * p.M) * p.N + n);
}

fn b_seg(c: BCol, sy: u32, sx: u32) -> BSeg {
  return BSeg(c.base, c.ok);
}

fn b_get4(s: BSeg, kk: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var t = 0u; t < 4u; t++) {
    v[t] = select(0.0, b[s.base + (kk + t) * p.b_sk], s.ok && kk + t < p.seg_len);
  }
  return v;
}

fn c_put(m: u32, c: BCol, z: u32, part: u32, v: f32) {
  out[c.out + m * p.N] = v;
}
