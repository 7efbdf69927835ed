// Winograd F(4x4, 3x3) grad-weight of a 3x3 stride-1 conv on the wasm device (eager backward,
// ops_conv.ts; kernels: kernels/winograd_gw4.ts and grad_weight_dot of kernels/grad_weight.ts), with
// the points of the F(4x4) forward (winograd_f4.ts). The forward computes Y = At [U . V] A per 4x4
// output tile with U = G g Gt and V = Bt d B (6x6), so the weight gradient is
//   V = Bt d B per 6x6 input tile       wino_in4, into (36, C, P) slices (tiles at stride 4)
//   M' = A dY At per 4x4 tile of gy     wino_gy4, into (36, O, P) slices (outputs past the edge: zeros)
//   dU[k] = M'[k] V[k]^T, k < 36        ONE grad_weight_dot launch, the 36 GEMMs as its groups
//   dg = Gt dU G per (o, c)             wino_gw_out4, summing the passes' partial blocks on the way
// 36 multiply-adds per 4x4 tile and (o, c), against F(2x2)'s 16 per 2x2 tile (0.56x the GEMM work)
// and the direct grad-weight's 144. The same plan as winograd_grad_weight.ts (F(2x2)): passes of
// images bounded by WGW_PASS_BYTES; channel rows and the 36 slices an odd number of 64-byte lines
// apart (winogradSliceBytes), so one tile's 36 values and a GEMM block's rows never share an L1 set
// (sliceStride's plane strides cannot do that for 128 channels: 128 x 4 bytes is 512, and the 36
// slices fell in one set: wino_in4 of 128x20x20 took 4.1 ms, 1.9x F(2x2)'s wino_in).
import type { WasmRuntime } from './abi.js';
import { GW_DOT_PARAMS } from './kernels/grad_weight.js';
import { withScratch, zeroWords } from './gemm.js';
import { winogradSliceBytes } from './winograd.js';
import { groupedDots, launchGroupedDots, WGW_PASS_BYTES, winogradGradWeightEligible } from './winograd_grad_weight.js';
import { F4_MAX_OVERHANG } from './winograd_f4.js';
import type { ConvGeometry } from '../../ops/conv2d.js';

const cdiv = (a: number, b: number) => Math.ceil(a / b);

/**
 * The conv's grad-weight goes through F(4x4) instead of F(2x2): winogradGradWeightEligible takes it,
 * its 4x4 tiles overhang the output plane by at most F4_MAX_OVERHANG (as winogradF4Eligible), and
 * neither YOLO_WINOGRAD_F4 nor YOLO_WINOGRAD_GW4 is 0. Measured on the training step's shapes (batch
 * 8 at 320, 2 threads, F(2x2) and F(4x4) alternating call by call, medians of 15, shared 2-core box
 * at load ~3.5): F(4x4) took 0.52-0.61x F(2x2)'s time on every 20x20 .. 80x80 plane (16x80x80 -> 16:
 * 5.55 -> 3.01 ms, 64x40x40 -> 64: 10.37 -> 6.07, 128x20x20 -> 64: 6.34 -> 3.47, 64x20x20 -> 64:
 * 3.13 -> 1.86; at load ~5: 0.64-0.79x). On the 10x10 planes (12x12 computed per 10x10 kept) it
 * was a wash, 0.73-1.04x over three runs at load ~3.5 and 1.03-1.16x at load ~5 (128x10x10 -> 128:
 * 3.40 -> 3.40, 3.66 -> 3.65, 3.46 -> 3.59 ms), so the overhang rule leaves them to F(2x2). All 3x3
 * stride-1 grad-weights of a step: 170.7 -> 110.4 ms (0.65x).
 */
export function winogradGradWeightF4Eligible(g: ConvGeometry): boolean {
  const computed = 16 * Math.ceil(g.oh / 4) * Math.ceil(g.ow / 4);
  return (
    winogradGradWeightEligible(g) &&
    computed <= F4_MAX_OVERHANG * g.oh * g.ow &&
    process.env.YOLO_WINOGRAD_F4 !== '0' &&
    process.env.YOLO_WINOGRAD_GW4 !== '0'
  );
}

/**
 * gw (O, C, 3, 3) = dL/dw from x (N, C, H, W) and gy (N, O, OH, OW), both contiguous, for a geometry
 * winogradApplies takes (3x3, stride 1, dilation 1, groups 1, padding <= 2). Scratch from rt.alloc,
 * freed before returning (also when a launch throws).
 */
export function winogradGradWeightF4(
  rt: WasmRuntime,
  xPtr: number,
  gyPtr: number,
  gwPtr: number,
  g: ConvGeometry,
  maxPassBytes = WGW_PASS_BYTES,
) {
  const { n: N, c: C, o: O } = g;
  const tH = Math.ceil(g.oh / 4),
    tW = Math.ceil(g.ow / 4),
    T = tH * tW;
  if (N * T === 0 || C * O === 0) {
    rt.f32(gwPtr, O * C * 9).fill(0);
    return;
  }
  const ipp = Math.max(1, Math.min(N, Math.floor(maxPassBytes / (144 * (C + O) * T))));
  const passes = cdiv(N, ipp);
  const L = Math.ceil((ipp * T) / 4) * 4; // the dot products' length: a multiple of 4, zero tiles past the last
  // floats between channel rows, bytes between the 36 slices of V and of M'
  const pv = winogradSliceBytes(L, 1) / 4,
    pm = winogradSliceBytes(L, 1) / 4,
    kv = winogradSliceBytes(pv, C),
    km = winogradSliceBytes(pm, O);
  // blocks of dU as the F(2x2) path's: 36 x the blocks are the tasks of one launch, tiles never split
  const dots = groupedDots(rt, O, C, 36);
  const { nslots, slotBytes } = dots;
  const vBytes = 36 * kv,
    tBytes = vBytes + 36 * km;
  const sizes = [
    GW_DOT_PARAMS.length * 4,
    nslots * 4,
    nslots * slotBytes,
    C * 4,
    2 ** Math.ceil(Math.log2(tBytes)), // a power of two: the layers reuse a few blocks (as grad-weight's copies)
    144 * passes * O * C,
  ];
  withScratch(rt, sizes, (params, flags, scratch, cols, v, du) => {
    const m = v + vBytes;
    zeroWords(rt, flags, nslots);
    new Int32Array(rt.memory.buffer, cols, C).set(Array.from({ length: C }, (_, c) => c * pv));
    const hw = g.h * g.w;
    for (let pass = 0; pass < passes; pass++) {
      const n0 = pass * ipp,
        n = Math.min(ipp, N - n0),
        P = n * T,
        len = Math.ceil(P / 4) * 4; // the kernels write zero tiles in [P, len)
      rt.parallel('wino_in4', [xPtr + 4 * n0 * C * hw, v, C, g.h, g.w, C * hw, hw, tH, tW, P, pv, kv, g.ph, g.pw], C);
      rt.parallel('wino_gy4', [gyPtr + 4 * n0 * O * g.oh * g.ow, m, O, g.oh, g.ow, tH, tW, P, pm, km], O);
      // GEMM k's partial block of this pass: (k passes + pass) O C
      launchGroupedDots(rt, dots, params, flags, scratch, cols, {
        m,
        v,
        out: du + 4 * pass * O * C,
        len,
        pm,
        a_sg: km / 4,
        b_sg: kv / 4,
        out_sg: passes * O * C,
      });
    }
    rt.parallel('wino_gw_out4', [du, gwPtr, O, C, passes], O);
  });
}
