// Winograd F(4x4, 3x3) on wasm: the compiled forward (engine/graph/executor_wasm.ts) and the eager
// forward and grad-input of training (ops_conv.ts): one fused launch per conv, `wino_fused4`
// (kernels/winograd_f4.ts), beside F(2x2)'s wino_fused.
// Per 4x4 output tile: V = Bt d B of the 6x6 input tile, 36 GEMMs M[k] = U[k] V[k] (36 C O
// multiply-adds per 16 outputs: 2.25 per output and (c, o), against F(2x2)'s 4 and the direct
// conv's 9), Y = At M A + bias, SiLU. U = G g Gt by wino_weights4: once per weight tensor in the
// compiled forward (cached, as F(2x2)'s U), on every call in the eager ops (w changes each step).
// Bt, At hold 2.5 and 8, G 16/15 and 1/15, so the f32 error per conv is ~10x F(2x2)'s
// (bench/winograd_error.py: 3.3e-6 against 3.3e-7 of the largest output of a C = 64 conv); over
// the model it stays in the low bits (compiled vs cpu 3.7e-7, F(2x2) 3.3e-7) and training keeps
// its parity (gradients vs Ultralytics 4.4e-5 worst against 3.3e-5, tolerance 1e-3; P2's loss
// items vs PyTorch 9.5e-8). F(2x2) stays where YOLO_WINOGRAD_F4=0; the grad-weight's F(4x4) is
// winograd_grad_weight_f4.ts.
// Which convs take it: winogradF4Eligible.
import type { WasmRuntime } from './abi.js';
import { MR } from './gemm_wat.js';
import { F4_TABLE_BYTES } from './kernels/winograd_f4.js';
import {
  fusedLaunch,
  fusedTileBlock,
  runFused,
  winogradEagerRun,
  winogradEligible,
  winogradGradInputGeometry,
  winogradSliceBytes,
  type WinogradFusedLaunch,
} from './winograd.js';
import type { ConvGeometry, PlaneLayout } from '../../ops/conv2d.js';

/**
 * A conv the compiled forward and the eager ops run through F(4x4) instead of F(2x2): one
 * winogradEligible takes whose 4x4 tiles overhang the output plane by at most F4_MAX_OVERHANG,
 * unless YOLO_WINOGRAD_F4 is 0. Measured per layer shape with bench/winograd.ts (yolov8n-pose at
 * 640 and 320, batch 1, 1 and 2 threads, shared 2-core box): wino_fused4 took 0.55-0.75x the time
 * of the fused F(2x2) on every F(2x2)-eligible shape, 16 to 256 input channels, 20x20 to 160x160
 * planes (2 threads: 16x160x160 -> 16: 1.75 -> 1.20 ms, 64x80x80 -> 64: 3.19 -> 1.93,
 * 256x20x20 -> 64: 0.85 -> 0.51). The 10x10 planes of a training step at 8x320 compute 12x12
 * outputs per plane (1.44x): there F(4x4) took 1.00-1.17x F(2x2)'s time (128x10x10 -> 128: 1.70
 * against 1.99 ms), against 0.57-0.95x on the step's 20x20 .. 80x80 planes.
 */
export function winogradF4Eligible(g: ConvGeometry): boolean {
  const computed = 16 * Math.ceil(g.oh / 4) * Math.ceil(g.ow / 4);
  return winogradEligible(g) && computed <= F4_MAX_OVERHANG * g.oh * g.ow && process.env.YOLO_WINOGRAD_F4 !== '0';
}

/** outputs F(4x4) computes per plane over those it keeps, at most (10x10: 1.44, 20x20: 1, 6x6: 1.78) */
export const F4_MAX_OVERHANG = 1.25;

/** 4x4 output tiles: counts per plane and in all (P = N tH tW). */
export function winogradF4Shape(g: ConvGeometry) {
  const tH = Math.ceil(g.oh / 4),
    tW = Math.ceil(g.ow / 4);
  return { tH, tW, P: g.n * tH * tW };
}

/** Bytes of U packed for the 36 GEMMs: 36 x O rounded up to 4 x C floats. */
export const winogradF4WeightBytes = (g: ConvGeometry) => 144 * Math.ceil(g.o / MR) * MR * g.c;

/**
 * U = G w Gt per (o, c), as (36, O, C) packed into gemm_conv2d's panels ([k][O/4][C][4], rows past
 * O zero), in a fresh block (the caller frees it with rt.free): the wino_weights4 kernel, four
 * output channels per f32x4, one task per panel. In f32: G's entries 1/3, 1/15 .. 16/15 round,
 * so U is within ~2e-7 of the f64 transform's largest entry (test/engine/wasm_winograd_f4.test.ts),
 * far under the transforms' 1e-6-class error. (The same in f64 in JS took 5 ms per 128x128 conv,
 * ~70 ms of yolov8n-pose's first compiled forward; the kernel ~0.5 ms.) w is (O, C, 3, 3)
 * contiguous at wPtr; `transposed`: g is the grad-input conv of w, as in packWinogradWeights.
 */
export function packWinogradWeightsF4(rt: WasmRuntime, wPtr: number, g: ConvGeometry, transposed = false): number {
  const { o: R, c: Q } = g;
  const mpan = Math.ceil(R / MR);
  const ptr = rt.alloc(Math.max(16, winogradF4WeightBytes(g)));
  // forward: row o at 9 C o, reduction c at 9 c; transposed: row c at 9 c, reduction o at 9 C o, taps reversed
  const [sRow, sRed] = transposed ? [9, 9 * R] : [9 * Q, 9];
  rt.parallel('wino_weights4', [wPtr, ptr, R, Q, sRow, sRed, +transposed, mpan], mpan);
  return ptr;
}

/**
 * Bytes of V and M per task of wino_fused4 (its tile block: 144 C + 576 ceil(O / 4) bytes per
 * tile, plus the tile table). 8 tiles (the GEMMs' panel width, the least a block can be) already
 * take 147 KiB at 64 -> 64 channels, so the block is L2-sized, not L1-sized like F(2x2)'s.
 */
const WINO_F4_BLOCK_BYTES = 64 * 1024;

/** Bytes of one wino_fused4 slot of tb tiles: V (36 slices), M (36 x O rounded up to 4 rows of tb), the tile table. */
const slotBytesF4 = (g: ConvGeometry, tb: number) =>
  36 * winogradSliceBytes(tb, g.c) + 576 * Math.ceil(g.o / MR) * tb + F4_TABLE_BYTES * tb;

/**
 * One wino_fused4 launch made ready (run it with winograd.ts's launchWinogradFused): y = act(conv2d(x, w) + b)
 * with U from packWinogradWeightsF4; x and y plane layouts (offsets in elements from xPtr / yPtr).
 */
export function prepareWinogradF4(
  rt: WasmRuntime,
  xPtr: number,
  xl: PlaneLayout,
  uPacked: number,
  bPtr: number,
  yPtr: number,
  yl: PlaneLayout,
  g: ConvGeometry,
  act: 'silu' | null,
): WinogradFusedLaunch {
  const tiles = winogradF4Shape(g);
  const block = fusedTileBlock((tb) => slotBytesF4(g, tb), WINO_F4_BLOCK_BYTES, tiles.P, rt.threads);
  return fusedLaunch('wino_fused4', xPtr, xl, uPacked, bPtr, yPtr, yl, g, act, tiles, block, rt.threads);
}

/** prepareWinogradF4 + one run (tests, bench). */
export function winogradConv2dF4(
  rt: WasmRuntime,
  xPtr: number,
  xl: PlaneLayout,
  uPacked: number,
  bPtr: number,
  yPtr: number,
  yl: PlaneLayout,
  g: ConvGeometry,
  act: 'silu' | null,
) {
  runFused(rt, prepareWinogradF4(rt, xPtr, xl, uPacked, bPtr, yPtr, yl, g, act));
}

/**
 * The eager ops' F(4x4) (ops_conv.ts, training): y = act(conv2d(x, w) + b), all contiguous, U from
 * w on every call (w changes every step); `transposed`: g is the grad-input conv of w.
 */
function winogradF4Run(
  rt: WasmRuntime,
  xPtr: number,
  wPtr: number,
  bPtr: number,
  yPtr: number,
  g: ConvGeometry,
  act: 'silu' | null,
  transposed: boolean,
) {
  winogradEagerRun(rt, packWinogradWeightsF4(rt, wPtr, g, transposed), prepareWinogradF4, xPtr, bPtr, yPtr, g, act);
}

/** Eager forward through F(4x4): y (N, O, OH, OW) = act(conv2d(x, w) + b) for a geometry winogradF4Eligible takes. */
export function winogradF4Forward(
  rt: WasmRuntime,
  xPtr: number,
  wPtr: number,
  bPtr: number,
  yPtr: number,
  g: ConvGeometry,
  act: 'silu' | null,
) {
  winogradF4Run(rt, xPtr, wPtr, bPtr, yPtr, g, act, false);
}

/** Eager grad-input through F(4x4): gx (N, C, H, W) from gy and w (O, C, 3, 3), g the forward's geometry. */
export function winogradF4GradInput(rt: WasmRuntime, gyPtr: number, wPtr: number, gxPtr: number, g: ConvGeometry) {
  winogradF4Run(rt, gyPtr, wPtr, 0, gxPtr, winogradGradInputGeometry(g), null, true);
}
