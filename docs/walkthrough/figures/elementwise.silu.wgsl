// Every pointwise op: out[i] = EXPR(x, y, z), over up to three strided, broadcast operands
// and a strided output (so the same kernel also copies into a slice, for concat).
// Slots filled by engine/ops/elementwise.ts: TA/TB/TC/TOUT (f32 or i32) and EXPR, an expression
// of x, y, z (the operand values, as f32) and p.alpha, p.beta (scalar arguments).
// 1-D launches are folded into a 2-D grid (at most 65,535 workgroups per dimension):
// the launcher computes the grid, the kernel rebuilds the flat invocation index here.
fn flat_index(wid: vec3u, nwg: vec3u, lid: u32, wg_size: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * wg_size + lid;
}

alias TA = f32;
alias TB = f32;
alias TC = f32;
alias TOUT = f32;

const MAX_RANK = 8u;

struct Params {
  n: u32,       // output elements
  rank: u32,
  fast: u32,    // 1 when every operand is contiguous in output order: no index arithmetic
  off_out: u32, // element offsets of each view into its buffer
  off_a: u32,
  off_b: u32,
  off_c: u32,
  alpha: f32,
  beta: f32,
  from_out: u32, // bit k set: operand k (a, b, c) is read through `out`, the same buffer (a compiled
                 // forward's concat slices: WebGPU forbids binding one buffer read-only and writable)
  shape: array<vec4<u32>, 2>,  // output shape, dims 0..7
  st_out: array<vec4<u32>, 2>, // strides in elements (0 on broadcast axes)
  st_a: array<vec4<u32>, 2>,
  st_b: array<vec4<u32>, 2>,
  st_c: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<TA>;
@group(0) @binding(2) var<storage, read> b: array<TB>;
@group(0) @binding(3) var<storage, read> c: array<TC>;
@group(0) @binding(4) var<storage, read_write> out: array<TOUT>;

// pow that, like torch, is defined for negative bases with integral exponents.
fn powf(x: f32, e: f32) -> f32 {
  if (e == 0.0) { return 1.0; }
  if (e == 1.0) { return x; }
  if (e == 2.0) { return x * x; }
  let r = pow(abs(x), e);
  if (x < 0.0 && e == floor(e)) {
    return select(r, -r, (i32(e) & 1) == 1);
  }
  return select(r, pow(x, e), x >= 0.0);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid, 256u);
  if (i >= p.n) { return; }
  var ia = p.off_a + i;
  var ib = p.off_b + i;
  var ic = p.off_c + i;
  var io = p.off_out + i;
  if (p.fast == 0u) {
    ia = p.off_a; ib = p.off_b; ic = p.off_c; io = p.off_out;
    var rem = i;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
      let q = u32(d) / 4u;
      let r = u32(d) % 4u;
      let k = rem % p.shape[q][r];
      rem = rem / p.shape[q][r];
      ia += k * p.st_a[q][r];
      ib += k * p.st_b[q][r];
      ic += k * p.st_c[q][r];
      io += k * p.st_out[q][r];
    }
  }
  // Operands are computed in f32 whatever their storage type (i32 values are exact up to 2^24),
  // so one expression serves every dtype combination and scalars (p.alpha, f32) always typecheck.
  var x = f32(a[ia]);
  var y = f32(b[ib]);
  var z = f32(c[ic]);
  if (p.from_out != 0u) {
    if ((p.from_out & 1u) != 0u) { x = f32(out[ia]); }
    if ((p.from_out & 2u) != 0u) { y = f32(out[ib]); }
    if ((p.from_out & 4u) != 0u) { z = f32(out[ic]); }
  }
  out[io] = TOUT(x / (1.0 + exp(-x)));
}
