// Winograd F(4x4, 3x3) grad-weight of a 3x3 stride-1 conv on the wasm device (eager backward,
// ops_conv.ts; kernels: kernels/winograd_gw4.ts and grad_weight_dot of kernels/grad_weight.ts), with
// the points of the F(4x4) forward (winograd_f4.ts). The forward computes Y = At [U . V] A per 4x4
// output tile with U = G g Gt and V = Bt d B (6x6), so the weight gradient is
//   V = Bt d B per 6x6 input tile       wino_in4, into (36, C, P) slices (tiles at stride 4)
//   M' = A dY At per 4x4 tile of gy     wino_gy4, into (36, O, P) slices (outputs past the edge: zeros)
//   dU[k] = M'[k] V[k]^T, k < 36        ONE grad_weight_dot launch, the 36 GEMMs as its groups
//   dg = Gt dU G per (o, c)             wino_gw_out4, summing the passes' partial blocks on the way
// 36 multiply-adds per 4x4 tile and (o, c), against F(2x2)'s 16 per 2x2 tile (0.56x the GEMM work)
// and the direct grad-weight's 144. The plan is F(2x2)'s (winogradGradWeightPasses of
// winograd_grad_weight.ts: passes of images bounded by WGW_PASS_BYTES); here channel rows and the
// 36 slices lie an odd number of 64-byte lines apart (winogradSliceBytes), so one tile's 36 values
// and a GEMM block's rows never share an L1 set
// (sliceStride's plane strides cannot do that for 128 channels: 128 x 4 bytes is 512, and the 36
// slices fell in one set: wino_in4 of 128x20x20 took 4.1 ms, 1.9x F(2x2)'s wino_in).
import type { WasmRuntime } from './abi.js';
import { winogradSliceBytes } from './winograd.js';
import {
  WGW_PASS_BYTES,
  winogradGradWeightEligible,
  winogradGradWeightPasses,
  type WinogradGradWeightForm,
} from './winograd_grad_weight.js';
import { F4_MAX_OVERHANG } from './winograd_f4.js';
import type { ConvGeometry } from '../../ops/conv2d.js';

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
  winogradGradWeightPasses(F4, rt, xPtr, gyPtr, gwPtr, g, maxPassBytes);
}

/**
 * The F(4x4) form: one row stride for every channel (pv = pm), channel rows and slices
 * winogradSliceBytes apart; wino_in4 / wino_gy4 (one task per channel, all the pass's images) write
 * the zeros past the tiles themselves.
 */
const F4: WinogradGradWeightForm = {
  tile: 4,
  strides: (L, C, O) => {
    const p = winogradSliceBytes(L, 1) / 4;
    return { pv: p, pm: p, kv: winogradSliceBytes(p, C), km: winogradSliceBytes(p, O) };
  },
  transforms(rt, g, p, { pv, pm, kv, km }) {
    const { c: C, o: O } = g;
    const hw = g.h * g.w;
    rt.parallel('wino_in4', [p.x, p.v, C, g.h, g.w, C * hw, hw, p.tH, p.tW, p.P, pv, kv, g.ph, g.pw], C);
    rt.parallel('wino_gy4', [p.gy, p.m, O, g.oh, g.ow, p.tH, p.tW, p.P, pm, km], O);
  },
  out: 'wino_gw_out4',
};
