// GEMM core for GPUs: C[m, n] = sum_k A[m, k] * B[k, n], tiled through workgroup memory.
// A 16x16 workgroup computes a 64x64 tile of C, each invocation a 4x4 block; K advances TK at a
// time: the invocations load the tile's runs of 4 (4 k of an A row, 4 columns of a B row) into
// workgroup memory, then all of them read it back 4x4 at a time. (gemm_subgroup.wgsl is the
// CPU-adapter core.)
//
// The contract. conv2d forward, conv2d grad-input, conv2d grad-weight and matmul are this GEMM and
// differ only in how they read A and B and write C. An op shader defines, before including a core:
//   struct Params with fields M, N (GEMM sizes), seg_y, seg_x, seg_len, ksplit:
//     K is walked as seg_y * seg_x segments (sy, sx) of seg_len each, e.g. a conv's (ky, kx) taps
//     of Cg channels, so that the hooks compute addresses per segment and only add inside one;
//     grid z = slices * ksplit, and part p of ksplit sums the sy in its share (split-K).
//   struct ARow, ASeg;  fn a_row(m, slice) -> ARow;  fn a_seg(ARow, sy, sx) -> ASeg;
//     fn a_get4(ASeg, kk) -> vec4f  = A[m, k + t] for kk + t in the segment, 0 past its end or m >= M.
//   struct BCol, BSeg;  fn b_col(n, slice) -> BCol  for the 4 columns n..n+3 (n % 4 == 0);
//     fn b_seg(BCol, sy, sx) -> BSeg;  fn b_get(BSeg, kk) -> vec4f  = B[k, n + t], 0 past the
//     segment's end or for columns >= N (4 columns of one k: a vec4 where B rows are contiguous).
//   fn c_put4(m, BCol, slice, part, v: vec4f)  writes C[m, n + t] for the columns < N (m < M here).
// slice is the batch or group index the grid's z carries; part the split-K share.

const TM = 64u;            // tile rows
const TN = 64u;            // tile columns
override TK: u32 = 8u;     // k per tile step: 4, 8 or 16 (segments are padded to it; each invocation loads at most one run of A and one of B)

var<workgroup> tile_a: array<f32, TK * TM>;   // [k][m]
var<workgroup> tile_b: array<f32, TK * TN>;   // [k][n]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let part = wid.z % p.ksplit;
  let slice = wid.z / p.ksplit;
  let m0 = wid.y * TM;
  let n0 = wid.x * TN;
  // A tile: TM rows x TK/4 runs of 4 k; B tile: TK rows of k x TN/4 runs of 4 columns. Invocation
  // tid loads A run tid (row tid % TM, run tid / TM) and B run tid (k tid % TK, columns 4 * (tid / TK))
  // while there are that many runs (TK = 8: 128 of each, for 256 invocations).
  let a_runs = TM * TK / 4u;
  let b_runs = TK * TN / 4u;
  let ar = a_row(m0 + tid % TM, slice);
  let bc = b_col(n0 + 4u * (tid / TK), slice);
  var acc: array<vec4f, 4>;   // acc[i][j] = C[m0 + 4 * lid.y + i, n0 + 4 * lid.x + j]
  let per = (p.seg_y + p.ksplit - 1u) / p.ksplit;
  let sy_end = min(p.seg_y, (part + 1u) * per);
  for (var sy = part * per; sy < sy_end; sy++) {
    for (var sx = 0u; sx < p.seg_x; sx++) {
      let sa = a_seg(ar, sy, sx);
      let sb = b_seg(bc, sy, sx);
      for (var k0 = 0u; k0 < p.seg_len; k0 += TK) {
        if (tid < a_runs) {
          let kr = 4u * (tid / TM);
          let v = a_get4(sa, k0 + kr);
          for (var t = 0u; t < 4u; t++) { tile_a[(kr + t) * TM + tid % TM] = v[t]; }
        }
        if (tid < b_runs) {
          let k = tid % TK;
          let v = b_get(sb, k0 + k);
          for (var t = 0u; t < 4u; t++) { tile_b[k * TN + 4u * (tid / TK) + t] = v[t]; }
        }
        workgroupBarrier();
        for (var k = 0u; k < TK; k++) {
          let ai = k * TM + 4u * lid.y;
          let bi = k * TN + 4u * lid.x;
          let a = vec4f(tile_a[ai], tile_a[ai + 1u], tile_a[ai + 2u], tile_a[ai + 3u]);
          let b = vec4f(tile_b[bi], tile_b[bi + 1u], tile_b[bi + 2u], tile_b[bi + 3u]);
          acc[0] += a.x * b;
          acc[1] += a.y * b;
          acc[2] += a.z * b;
          acc[3] += a.w * b;
        }
        workgroupBarrier();
      }
    }
  }
  let n = n0 + 4u * lid.x;
  if (n < p.N) {
    let c = b_col(n, slice);
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + 4u * lid.y + i;
      if (m < p.M) { c_put4(m, c, slice, part, acc[i]); }
    }
  }
}
