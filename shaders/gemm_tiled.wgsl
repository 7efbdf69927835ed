// GEMM core for GPUs: C[m, n] = sum_k A[m, k] * B[k, n], tiled through workgroup memory.
// A 16x16 workgroup computes a 64x64 tile of C, each invocation a 4x4 block; K advances TK at a
// time: every invocation loads one 4-long run of A or of B into workgroup memory, then all of them
// read it back 4x4 at a time. (gemm_subgroup.wgsl is the CPU-adapter core.)
//
// The contract. conv2d forward, conv2d grad-input, conv2d grad-weight and matmul are this GEMM and
// differ only in how they read A and B and write C. An op shader defines, before including a core:
//   struct Params with fields M, N (GEMM sizes), seg_y, seg_x, seg_len, ksplit:
//     K is walked as seg_y * seg_x segments (sy, sx) of seg_len each, e.g. a conv's (ky, kx) taps
//     of Cg channels, so that the hooks compute addresses per segment and only add inside one;
//     grid z = slices * ksplit, and part p of ksplit sums the sy in its share (split-K).
//   struct ARow, ASeg;  fn a_row(m, slice) -> ARow;  fn a_seg(ARow, sy, sx) -> ASeg;
//     fn a_get4(ASeg, kk) -> vec4f  = A[m, k + t] for kk + t in the segment, 0 past its end or m >= M.
//   struct BCol, BSeg;  fn b_col(n, slice) -> BCol;  fn b_seg(BCol, sy, sx) -> BSeg;
//     fn b_get4(BSeg, kk) -> vec4f  = B[k + t, n] likewise, 0 for n >= N.
//   fn c_put(m, col: BCol, slice, part, v)  writes C[m, n] (the core calls it for m < M, n < N only).
// slice is the batch or group index the grid's z carries; part the split-K share.

const TM = 64u;            // tile rows
const TN = 64u;            // tile columns
override TK: u32 = 8u;     // k per tile step, a multiple of 4 (segments are padded to it)

var<workgroup> tile_a: array<f32, TK * TM>;   // [k][m]
var<workgroup> tile_b: array<f32, TK * TN>;   // [k][n]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let part = wid.z % p.ksplit;
  let slice = wid.z / p.ksplit;
  let m0 = wid.y * TM;
  let n0 = wid.x * TN;
  // Loading: the tile holds TK/4 runs of 4 k per row of A and per column of B. Invocation tid
  // loads run (tid % runs) of row/column (tid / runs); the first TM * runs invocations load A,
  // the next TN * runs load B (with TK = 8: 128 + 128 = all 256).
  let runs = TK / 4u;
  let lr = tid % runs;
  let li = (tid / runs) % TM;
  let loads_a = tid < TM * runs;
  let loads_b = !loads_a && tid < (TM + TN) * runs;
  let row = a_row(m0 + li, slice);
  let col = b_col(n0 + li, slice);
  var acc: array<vec4f, 4>;   // acc[i][j] = C[m0 + 4 * lid.y + i, n0 + 4 * lid.x + j]
  let per = (p.seg_y + p.ksplit - 1u) / p.ksplit;
  let sy_end = min(p.seg_y, (part + 1u) * per);
  for (var sy = part * per; sy < sy_end; sy++) {
    for (var sx = 0u; sx < p.seg_x; sx++) {
      let sa = a_seg(row, sy, sx);
      let sb = b_seg(col, sy, sx);
      for (var k0 = 0u; k0 < p.seg_len; k0 += TK) {
        let kk = k0 + 4u * lr;
        if (loads_a) {
          let v = a_get4(sa, kk);
          for (var t = 0u; t < 4u; t++) { tile_a[(4u * lr + t) * TM + li] = v[t]; }
        }
        if (loads_b) {
          let v = b_get4(sb, kk);
          for (var t = 0u; t < 4u; t++) { tile_b[(4u * lr + t) * TN + li] = v[t]; }
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
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + 4u * lid.x + j;
    if (n >= p.N) { continue; }
    let c = b_col(n, slice);
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + 4u * lid.y + i;
      if (m < p.M) { c_put(m, c, slice, part, acc[i][j]); }
    }
  }
}
