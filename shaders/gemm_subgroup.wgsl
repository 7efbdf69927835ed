// GEMM core for CPU-like adapters (lavapipe/llvmpipe): C[m, n] = sum_k A[m, k] * B[k, n].
// The op shader that includes this file supplies the hooks (the contract is written at the top of
// gemm_tiled.wgsl) and starts with `enable subgroups;`.
//
// Why this shape (measured on llvmpipe, AVX2, see bench/README.md): llvmpipe runs 8 invocations
// as the 8 lanes of one register. Arithmetic costs one instruction for all 8 lanes, but every
// storage-buffer load whose address is not a compile-time constant becomes a loop over the lanes
// with a bounds check per element, about 14 instructions per lane per float, uniform address or
// not; workgroup memory is no cheaper. So speed is "FMAs per loaded float", plain register
// blocking. A workgroup is one subgroup of 8 lanes; lane l owns the 4 columns n0 + 4l .. n0 + 4l + 3
// (so where B rows and C rows are contiguous, as in 1x1 convs and matmul, they move as one vec4) and
// all RM = 8 * RQ rows. Each A value is loaded by one lane only (lane l loads rows m0 + l + 8q) and
// handed to the others with subgroupBroadcast (a register shuffle), so one loaded A float feeds 32
// FMAs and one loaded B float feeds RM. The 4 products of a k-step are summed in registers before
// touching the accumulator, because llvmpipe blends every loop-carried variable with the
// execution mask and keeps it in memory: one accumulator update per 4 FMAs instead of 4.
// subgroupBroadcast needs a constant lane, so the rows are written out, in blocks of 8 that the
// override RQ switches on (folded away when the pipeline is built): RQ = 1, 2, 4 or 8 blocks (8 to
// 64 rows): more rows load fewer floats per FMA, fewer rows waste less on layers with few channels.

const LANES = 8u;   // = the subgroup size; the workgroup is one subgroup
override RQ: u32 = 4u;  // row blocks of 8: 1, 2, 4 or 8 (rows per workgroup RM = 8 * RQ)
const RN = 4u;      // columns per lane (one vec4 accumulator per row)

// sum over t of a[t] * b_t: the 4 k of one step for the 4 columns of this lane.
fn mac4(a: vec4f, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f) -> vec4f {
  return a.x * b0 + a.y * b1 + a.z * b2 + a.w * b3;
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let part = wid.z % p.ksplit;   // which share of the K segments (split-K)
  let slice = wid.z / p.ksplit;  // batch or group, read by the hooks
  let m0 = wid.y * LANES * RQ;
  let n0 = wid.x * LANES * RN;
  var rows: array<ARow, 8>;      // the rows this lane loads: m0 + lane + 8q
  for (var q = 0u; q < 8u; q++) { rows[q] = a_row(m0 + q * LANES + lane, slice); }
  let cols = b_col(n0 + RN * lane, slice);  // the 4 columns this lane owns
  var acc: array<vec4f, 64>;     // acc[r][j] = C[m0 + r, n0 + 4 * lane + j], r < 8 * RQ
  let per = (p.seg_y + p.ksplit - 1u) / p.ksplit;
  let sy_end = min(p.seg_y, (part + 1u) * per);
  for (var sy = part * per; sy < sy_end; sy++) {
    for (var sx = 0u; sx < p.seg_x; sx++) {
      let s0 = a_seg(rows[0], sy, sx);
      let s1 = a_seg(rows[1], sy, sx);
      let s2 = a_seg(rows[2], sy, sx);
      let s3 = a_seg(rows[3], sy, sx);
      let s4 = a_seg(rows[4], sy, sx);
      let s5 = a_seg(rows[5], sy, sx);
      let s6 = a_seg(rows[6], sy, sx);
      let s7 = a_seg(rows[7], sy, sx);
      let sb = b_seg(cols, sy, sx);
      for (var kk = 0u; kk < p.seg_len; kk += 4u) {
        // bt = B[k + t, this lane's 4 columns]; aq = A[m0 + 8q + lane, k..k+3]
        let b0 = b_get(sb, kk);
        let b1 = b_get(sb, kk + 1u);
        let b2 = b_get(sb, kk + 2u);
        let b3 = b_get(sb, kk + 3u);
        let a0 = a_get4(s0, kk);
        acc[0] += mac4(subgroupBroadcast(a0, 0u), b0, b1, b2, b3);
        acc[1] += mac4(subgroupBroadcast(a0, 1u), b0, b1, b2, b3);
        acc[2] += mac4(subgroupBroadcast(a0, 2u), b0, b1, b2, b3);
        acc[3] += mac4(subgroupBroadcast(a0, 3u), b0, b1, b2, b3);
        acc[4] += mac4(subgroupBroadcast(a0, 4u), b0, b1, b2, b3);
        acc[5] += mac4(subgroupBroadcast(a0, 5u), b0, b1, b2, b3);
        acc[6] += mac4(subgroupBroadcast(a0, 6u), b0, b1, b2, b3);
        acc[7] += mac4(subgroupBroadcast(a0, 7u), b0, b1, b2, b3);
        if (RQ >= 2u) {
          let a1 = a_get4(s1, kk);
          acc[8] += mac4(subgroupBroadcast(a1, 0u), b0, b1, b2, b3);
          acc[9] += mac4(subgroupBroadcast(a1, 1u), b0, b1, b2, b3);
          acc[10] += mac4(subgroupBroadcast(a1, 2u), b0, b1, b2, b3);
          acc[11] += mac4(subgroupBroadcast(a1, 3u), b0, b1, b2, b3);
          acc[12] += mac4(subgroupBroadcast(a1, 4u), b0, b1, b2, b3);
          acc[13] += mac4(subgroupBroadcast(a1, 5u), b0, b1, b2, b3);
          acc[14] += mac4(subgroupBroadcast(a1, 6u), b0, b1, b2, b3);
          acc[15] += mac4(subgroupBroadcast(a1, 7u), b0, b1, b2, b3);
        }
        if (RQ >= 4u) {
          let a2 = a_get4(s2, kk);
          let a3 = a_get4(s3, kk);
          acc[16] += mac4(subgroupBroadcast(a2, 0u), b0, b1, b2, b3);
          acc[17] += mac4(subgroupBroadcast(a2, 1u), b0, b1, b2, b3);
          acc[18] += mac4(subgroupBroadcast(a2, 2u), b0, b1, b2, b3);
          acc[19] += mac4(subgroupBroadcast(a2, 3u), b0, b1, b2, b3);
          acc[20] += mac4(subgroupBroadcast(a2, 4u), b0, b1, b2, b3);
          acc[21] += mac4(subgroupBroadcast(a2, 5u), b0, b1, b2, b3);
          acc[22] += mac4(subgroupBroadcast(a2, 6u), b0, b1, b2, b3);
          acc[23] += mac4(subgroupBroadcast(a2, 7u), b0, b1, b2, b3);
          acc[24] += mac4(subgroupBroadcast(a3, 0u), b0, b1, b2, b3);
          acc[25] += mac4(subgroupBroadcast(a3, 1u), b0, b1, b2, b3);
          acc[26] += mac4(subgroupBroadcast(a3, 2u), b0, b1, b2, b3);
          acc[27] += mac4(subgroupBroadcast(a3, 3u), b0, b1, b2, b3);
          acc[28] += mac4(subgroupBroadcast(a3, 4u), b0, b1, b2, b3);
          acc[29] += mac4(subgroupBroadcast(a3, 5u), b0, b1, b2, b3);
          acc[30] += mac4(subgroupBroadcast(a3, 6u), b0, b1, b2, b3);
          acc[31] += mac4(subgroupBroadcast(a3, 7u), b0, b1, b2, b3);
        }
        if (RQ >= 8u) {
          let a4 = a_get4(s4, kk);
          let a5 = a_get4(s5, kk);
          let a6 = a_get4(s6, kk);
          let a7 = a_get4(s7, kk);
          acc[32] += mac4(subgroupBroadcast(a4, 0u), b0, b1, b2, b3);
          acc[33] += mac4(subgroupBroadcast(a4, 1u), b0, b1, b2, b3);
          acc[34] += mac4(subgroupBroadcast(a4, 2u), b0, b1, b2, b3);
          acc[35] += mac4(subgroupBroadcast(a4, 3u), b0, b1, b2, b3);
          acc[36] += mac4(subgroupBroadcast(a4, 4u), b0, b1, b2, b3);
          acc[37] += mac4(subgroupBroadcast(a4, 5u), b0, b1, b2, b3);
          acc[38] += mac4(subgroupBroadcast(a4, 6u), b0, b1, b2, b3);
          acc[39] += mac4(subgroupBroadcast(a4, 7u), b0, b1, b2, b3);
          acc[40] += mac4(subgroupBroadcast(a5, 0u), b0, b1, b2, b3);
          acc[41] += mac4(subgroupBroadcast(a5, 1u), b0, b1, b2, b3);
          acc[42] += mac4(subgroupBroadcast(a5, 2u), b0, b1, b2, b3);
          acc[43] += mac4(subgroupBroadcast(a5, 3u), b0, b1, b2, b3);
          acc[44] += mac4(subgroupBroadcast(a5, 4u), b0, b1, b2, b3);
          acc[45] += mac4(subgroupBroadcast(a5, 5u), b0, b1, b2, b3);
          acc[46] += mac4(subgroupBroadcast(a5, 6u), b0, b1, b2, b3);
          acc[47] += mac4(subgroupBroadcast(a5, 7u), b0, b1, b2, b3);
          acc[48] += mac4(subgroupBroadcast(a6, 0u), b0, b1, b2, b3);
          acc[49] += mac4(subgroupBroadcast(a6, 1u), b0, b1, b2, b3);
          acc[50] += mac4(subgroupBroadcast(a6, 2u), b0, b1, b2, b3);
          acc[51] += mac4(subgroupBroadcast(a6, 3u), b0, b1, b2, b3);
          acc[52] += mac4(subgroupBroadcast(a6, 4u), b0, b1, b2, b3);
          acc[53] += mac4(subgroupBroadcast(a6, 5u), b0, b1, b2, b3);
          acc[54] += mac4(subgroupBroadcast(a6, 6u), b0, b1, b2, b3);
          acc[55] += mac4(subgroupBroadcast(a6, 7u), b0, b1, b2, b3);
          acc[56] += mac4(subgroupBroadcast(a7, 0u), b0, b1, b2, b3);
          acc[57] += mac4(subgroupBroadcast(a7, 1u), b0, b1, b2, b3);
          acc[58] += mac4(subgroupBroadcast(a7, 2u), b0, b1, b2, b3);
          acc[59] += mac4(subgroupBroadcast(a7, 3u), b0, b1, b2, b3);
          acc[60] += mac4(subgroupBroadcast(a7, 4u), b0, b1, b2, b3);
          acc[61] += mac4(subgroupBroadcast(a7, 5u), b0, b1, b2, b3);
          acc[62] += mac4(subgroupBroadcast(a7, 6u), b0, b1, b2, b3);
          acc[63] += mac4(subgroupBroadcast(a7, 7u), b0, b1, b2, b3);
        }
      }
    }
  }
  if (n0 + RN * lane < p.N) {
    for (var r = 0u; r < LANES * RQ; r++) {
      if (m0 + r < p.M) { c_put4(m0 + r, cols, slice, part, acc[r]); }
    }
  }
}
