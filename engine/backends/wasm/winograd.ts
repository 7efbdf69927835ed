// Winograd F(2x2, 3x3) convolution on the wasm device: the compiled forward (executor_wasm.ts,
// U cached per weight), the eager forward and the eager grad-input (ops_conv.ts, U per call: the
// weights change every training step; grad-input is a conv of gy with the flipped, transposed
// kernel). Which convs take it: winogradEligible. For a 3x3 stride-1 conv (groups 1, dilation 1):
//   U = G g Gt per (o, c)           wino_weights, (16, O, C), straight into gemm_conv2d's panels
//   V = Bt d B per 4x4 input tile   wino_in, into a scratch block (16, C, P), P = N x tiles
//   M[k] = U[k] V[k], k < 16        ONE gemm_conv2d launch: a 1x1 conv with 16 groups
//   y = act(At M A + bias)          wino_out, into the output's planes (a concat slice in place)
// (winogradConv2d). Every caller now runs the last three as ONE launch, wino_fused
// (winogradConv2dFused): a task takes a block of tiles through all three in its L1-sized scratch
// slot, bit-identical to the three launches; winogradConv2d and wino_in stay (the tests and
// bench/winograd.ts compare against them; wino_in's (16, C, P) layout is kept for other users).
// The GEMMs do 16 C O P multiply-adds against the direct conv's 36 C O P (2.25x fewer), plus
// transforms linear in C P and O P. F(2x2)'s entries are 0, +-1, +-1/2 (the direct conv's f32
// error); F(4x4)'s (winograd_f4.ts) carry 1/15 .. 8 and ~10x the error per conv, which over the
// model stays in the low bits: the forwards, grad-inputs and grad-weights (winograd_grad_weight_f4.ts)
// take F(4x4) where its tiles overhang the plane by at most 1.25x; YOLO_WINOGRAD_F4=0 keeps F(2x2).
import type { WasmRuntime } from './abi.js';
import { conv2dForward, withScratch, zeroWords } from './gemm.js';
import { MR } from './gemm_wat.js';
import { WINO_FUSED_PARAMS } from './kernels/winograd_fused.js';
import type { ConvGeometry, PlaneLayout } from '../../ops/conv2d.js';

/**
 * Below this many input or output channels a conv stays direct: the GEMMs' reduction is C long
 * (against 9 C for the direct conv), too short to amortise their packing. YOLOv8n's smallest 3x3
 * stride-1 convs (16x160x160 -> 16) still gain 1.3x (bench/winograd.ts, 1 thread); narrower ones
 * were not measured.
 */
export const WINOGRAD_MIN_CHANNELS = 16;
/**
 * Below this many 2x2 output tiles (N OH OW / 4) a conv stays direct: the 16 GEMMs are then too
 * narrow (8-pixel panels) and the four launches' fixed costs dominate. Measured with
 * bench/winograd.ts --eager, 2 threads: 10x10 planes at batch 1 (25 tiles) are 1.1-2x slower
 * through Winograd, 20x20 (100 tiles) 1.1-1.3x faster, 10x10 at batch 8 (200 tiles) 1.5-2x faster.
 */
export const WINOGRAD_MIN_TILES = 64;
/**
 * Below this many multiply-adds (the direct conv's 9 C O OH OW N) a conv stays direct: a call
 * costs about 0.2 ms either way (launches, U, scratch), so Winograd's 2.25x fewer multiplies only
 * show above ~1 ms of work; 32x20x20 -> 32 and 16x40x40 -> 16 at batch 1 (3.7 M) were slower.
 */
export const WINOGRAD_MIN_MACS = 8e6;

/** A conv Winograd F(2x2, 3x3) computes: 3x3, stride 1, dilation 1, groups 1, padding <= 2. */
export function winogradApplies(g: ConvGeometry): boolean {
  return (
    g.kh === 3 &&
    g.kw === 3 &&
    g.sh === 1 &&
    g.sw === 1 &&
    g.dh === 1 &&
    g.dw === 1 &&
    g.groups === 1 &&
    g.ph <= 2 &&
    g.pw <= 2
  );
}

/**
 * This conv goes through Winograd (the compiled forward, the eager forward, and, on
 * winogradGradInputGeometry, the eager grad-input): it applies, is big enough to gain (channels,
 * tiles, work: the constants above), and YOLO_WINOGRAD is not 0.
 */
export function winogradEligible(g: ConvGeometry): boolean {
  return (
    winogradApplies(g) &&
    g.c >= WINOGRAD_MIN_CHANNELS &&
    g.o >= WINOGRAD_MIN_CHANNELS &&
    g.n * Math.ceil(g.oh / 2) * Math.ceil(g.ow / 2) >= WINOGRAD_MIN_TILES &&
    9 * g.c * g.o * g.oh * g.ow * g.n >= WINOGRAD_MIN_MACS &&
    process.env.YOLO_WINOGRAD !== '0'
  );
}

/**
 * The plane stride (floats, >= P) for 16 slices of `ch` planes each: the transforms touch one
 * pixel in each of the 16 slices per tile, so slices a multiple of 4 KiB apart would all fall in
 * one L1 set (8 ways) and evict each other (measured: the input transform of 64x80x80 took 3x as
 * long). Picks the first stride whose 16 slice starts land in 16 distinct 64-byte sets mod 4 KiB.
 */
export function sliceStride(P: number, ch: number): number {
  const key = `${P},${ch}`;
  let stride = strides.get(key);
  if (stride === undefined) strides.set(key, (stride = searchStride(P, ch)));
  return stride;
}
/** remembered per (P, ch): every forward of a compiled plan and every training step asks again (~1 ms per 640 forward) */
const strides = new Map<string, number>();

function searchStride(P: number, ch: number): number {
  for (let s = P; s < P + 64; s++) {
    const sets = new Set(Array.from({ length: 16 }, (_, k) => ((k * ch * s * 4) % 4096) >> 6));
    if (sets.size === 16) return s;
  }
  return P;
}

/** Tile counts, the plane strides of V and M, and the sizes of their scratch blocks (bytes) for a conv. */
export function winogradShape(g: ConvGeometry) {
  const tH = Math.ceil(g.oh / 2),
    tW = Math.ceil(g.ow / 2),
    P = g.n * tH * tW;
  const pv = sliceStride(P, g.c),
    pm = sliceStride(P, g.o);
  return { tH, tW, P, pv, pm, vBytes: 64 * g.c * pv, mBytes: 64 * g.o * pm };
}

/** The 16 GEMMs as a grouped 1x1 conv over one "image" of 16 C channels of P pixels. */
function gemmGeometry(g: ConvGeometry, P: number): ConvGeometry {
  return {
    n: 1,
    c: 16 * g.c,
    h: 1,
    w: P,
    o: 16 * g.o,
    kh: 1,
    kw: 1,
    groups: 16,
    cg: g.c,
    og: g.o,
    oh: 1,
    ow: P,
    sh: 1,
    sw: 1,
    ph: 0,
    pw: 0,
    dh: 1,
    dw: 1,
  };
}

/** Bytes of U packed for gemm_conv2d's 16 groups: 16 x O rounded up to 4 x C floats. */
export const winogradWeightBytes = (g: ConvGeometry) => 64 * Math.ceil(g.o / MR) * MR * g.c;

/**
 * U = G w Gt per (o, c), as (16, O, C) packed into gemm_conv2d's panels, in a fresh block (the
 * caller frees it with rt.free): the wino_weights kernel, one task per 4 output channels, in f32
 * (G's entries are 0, 1, 1/2: two roundings per stage; 1e-7-class relative to the f64 transform).
 * `transposed`: g is the grad-input conv of w (O, C, 3, 3) (winogradGradInputGeometry), whose
 * kernel is w flipped in both taps with O and C swapped: w'[c][o][ky][kx] = w[o][c][2 - ky][2 - kx].
 */
export function packWinogradWeights(rt: WasmRuntime, wPtr: number, g: ConvGeometry, transposed = false): number {
  const { o: R, c: Q } = g;
  const mpan = Math.ceil(R / MR);
  const ptr = rt.alloc(Math.max(16, winogradWeightBytes(g)));
  // forward: row o at 9 C o, reduction c at 9 c; transposed: row c at 9 c, reduction o at 9 C o, taps reversed
  const [sRow, sRed, tap0, tstep] = transposed ? [9, 9 * R, 8, -1] : [9 * Q, 9, 0, 1];
  rt.parallel('wino_weights', [wPtr, ptr, R, Q, sRow, sRed, tap0, tstep, mpan], mpan);
  return ptr;
}

/**
 * y = act(conv2d(x, w) + b) for an eligible geometry, with U from packWinogradWeights. x and y are
 * plane layouts (offsets in elements from xPtr / yPtr); vPtr and mPtr are scratch blocks of at
 * least winogradShape(g).vBytes / .mBytes.
 */
export function winogradConv2d(
  rt: WasmRuntime,
  xPtr: number,
  xl: PlaneLayout,
  uPacked: number,
  bPtr: number,
  yPtr: number,
  yl: PlaneLayout,
  g: ConvGeometry,
  act: 'silu' | null,
  vPtr: number,
  mPtr: number,
) {
  const { tH, tW, P, pv, pm } = winogradShape(g);
  rt.parallel('wino_in', [xPtr + 4 * xl.off, vPtr, g.c, g.h, g.w, xl.sb, xl.sc, tH, tW, pv, g.ph, g.pw], g.n * g.c);
  conv2dForward(rt, vPtr, 0, 0, mPtr, gemmGeometry(g, P), null, {
    packedWeights: uPacked,
    layouts: { x: { sb: 16 * g.c * pv, sc: pv, off: 0 }, y: { sb: 16 * g.o * pm, sc: pm, off: 0 } },
  });
  rt.parallel(
    'wino_out',
    [mPtr, bPtr, yPtr + 4 * yl.off, g.o, pm, tH, tW, g.oh, g.ow, yl.sb, yl.sc, act === 'silu' ? 1 : 0],
    g.n * g.o,
  );
}

/**
 * Bytes of V and M per task of wino_fused (its tile block: 64 C + 256 ceil(O / 4) bytes per tile),
 * so they stay near L1 between the three phases. Measured per layer shape of P1 (1 and 2 threads,
 * blocks of 8 .. 64 tiles): 64 KiB was best or within noise of the best on every shape (it gives
 * 32 tiles at 16 -> 16 channels, 16 at 32 -> 32, 8 from 64 channels up); 256 KiB was 10 % slower
 * over the model's 38 layers, slower than the three-launch path. Below 8 tiles per block the
 * GEMMs' 8-wide panels would run partly empty.
 */
const WINO_FUSED_BLOCK_BYTES = 64 * 1024;

/**
 * Bytes between V's slices (16 for F(2x2), 36 for F(4x4)) in a fused Winograd slot: tb C floats
 * rounded up to an odd number of 64-byte lines, so one (tile, channel)'s values fall in distinct
 * L1 sets (at tb C 4 = 4 KiB, e.g. 8 tiles of 128 channels, they all shared one set and F(4x4)'s
 * transforms ran ~2x slower). The kernels compute the same.
 */
export const winogradSliceBytes = (tb: number, c: number) => (((4 * tb * c + 63) >> 6) | 1) << 6;

/** Bytes of one wino_fused slot of tb tiles: V (16 slices), M (16 x O rounded up to 4 rows, of tb). */
const slotBytesF2 = (g: ConvGeometry, tb: number) => 16 * winogradSliceBytes(tb, g.c) + 256 * Math.ceil(g.o / MR) * tb;

/**
 * Tiles per task of a fused Winograd kernel: a power of two in 8 .. 64 whose slot (slotBytes(tb))
 * fits blockBytes, halved while the threads want more tasks than the P tiles give.
 */
export function fusedTileBlock(slotBytes: (tb: number) => number, blockBytes: number, P: number, threads: number) {
  let tb = 64;
  while (tb > 8 && slotBytes(tb) > blockBytes) tb /= 2;
  const target = threads > 1 ? 4 * threads : 1;
  while (tb > 8 && Math.ceil(P / tb) < target) tb /= 2;
  return { tb, slotBytes: slotBytes(tb) };
}

/** One wino_fused launch made ready: its parameter words (scratch and flags filled in at launch), task and slot counts. */
export interface WinogradFusedLaunch {
  /** wino_fused (F(2x2)), or wino_fused4 (F(4x4), winograd_f4.ts): same parameter words */
  kernel: 'wino_fused' | 'wino_fused4';
  words: Int32Array;
  tasks: number;
  nslots: number;
  /** bytes of the scratch slots (nslots of them) and of the flag words */
  scratchBytes: number;
  flagBytes: number;
}

/**
 * winogradConv2d as ONE launch (kernels/winograd_fused.ts): each task transforms a block of tiles
 * into its scratch slot in gemm_conv2d's packed layout, runs the 16 GEMMs there and writes the
 * block's outputs; no V / M through memory, no re-packing. Bit-identical to winogradConv2d, for
 * any thread count. The compiled forward prepares it once (executor_wasm.ts) and launches it with
 * launchWinogradFused; winogradConv2dFused does both per call.
 */
export function prepareWinogradFused(
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
  const tiles = winogradShape(g);
  const block = fusedTileBlock((tb) => slotBytesF2(g, tb), WINO_FUSED_BLOCK_BYTES, tiles.P, rt.threads);
  return fusedLaunch('wino_fused', xPtr, xl, uPacked, bPtr, yPtr, yl, g, act, tiles, block, rt.threads);
}

/**
 * The launch record of a fused Winograd kernel (wino_fused, or winograd_f4.ts's wino_fused4: the
 * same parameter words) over `tiles` (per image tH x tW, P in all) in blocks of `block.tb` tiles.
 */
export function fusedLaunch(
  kernel: WinogradFusedLaunch['kernel'],
  xPtr: number,
  xl: PlaneLayout,
  uPacked: number,
  bPtr: number,
  yPtr: number,
  yl: PlaneLayout,
  g: ConvGeometry,
  act: 'silu' | null,
  tiles: { tH: number; tW: number; P: number },
  block: { tb: number; slotBytes: number },
  threads: number,
): WinogradFusedLaunch {
  const { tH, tW, P } = tiles,
    { tb, slotBytes } = block;
  const tasks = g.o === 0 ? 0 : Math.ceil(P / tb);
  const nslots = Math.max(1, Math.min(threads, tasks));
  const values: Record<(typeof WINO_FUSED_PARAMS)[number], number> = {
    x: xPtr + 4 * xl.off,
    x_sb: xl.sb,
    x_sc: xl.sc,
    C: g.c,
    H: g.h,
    W: g.w,
    ph: g.ph,
    pw: g.pw,
    tH,
    tW,
    ntiles: P,
    u: uPacked,
    mpan: Math.ceil(g.o / MR),
    O: g.o,
    bias: bPtr,
    y: yPtr + 4 * yl.off,
    y_sb: yl.sb,
    y_sc: yl.sc,
    OH: g.oh,
    OW: g.ow,
    act: act === 'silu' ? 1 : 0,
    tb,
    flags: 0,
    scratch: 0,
    nslots,
    slot_bytes: slotBytes,
  };
  const words = Int32Array.from(WINO_FUSED_PARAMS.map((n) => values[n]));
  return {
    kernel,
    words,
    tasks,
    nslots,
    scratchBytes: nslots * slotBytes,
    flagBytes: Math.max(16, 4 * nslots),
  };
}

const FLAGS_WORD = WINO_FUSED_PARAMS.indexOf('flags'),
  SCRATCH_WORD = WINO_FUSED_PARAMS.indexOf('scratch');

/** Runs a prepared wino_fused: params (words.length i32), flags (flagBytes) and scratch (scratchBytes) are blocks of rt. */
export function launchWinogradFused(
  rt: WasmRuntime,
  l: WinogradFusedLaunch,
  params: number,
  flags: number,
  scratch: number,
) {
  if (l.tasks === 0) return;
  l.words[FLAGS_WORD] = flags;
  l.words[SCRATCH_WORD] = scratch;
  new Int32Array(rt.memory.buffer, params, l.words.length).set(l.words);
  zeroWords(rt, flags, l.nslots);
  rt.parallel(l.kernel, [params], l.tasks);
}

/** prepareWinogradFused + launchWinogradFused, the blocks taken and freed around the launch. */
export function winogradConv2dFused(
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
  runFused(rt, prepareWinogradFused(rt, xPtr, xl, uPacked, bPtr, yPtr, yl, g, act));
}

/** One run of a prepared fused launch, its parameter, flag and scratch blocks taken and freed around it. */
export function runFused(rt: WasmRuntime, l: WinogradFusedLaunch) {
  withScratch(rt, [4 * l.words.length, l.flagBytes, l.scratchBytes], (params, flags, scratch) =>
    launchWinogradFused(rt, l, params, flags, scratch),
  );
}

/**
 * The grad-input of a 3x3 stride-1 conv g as a conv: gx (N, C, H, W) = conv(gy (N, O, OH, OW), w')
 * with w'[c][o][ky][kx] = w[o][c][2 - ky][2 - kx] and padding 2 - p (output H = OH + 2 (2 - p) - 2).
 */
export function winogradGradInputGeometry(g: ConvGeometry): ConvGeometry {
  return {
    ...g,
    c: g.o,
    cg: g.o,
    o: g.c,
    og: g.c,
    h: g.oh,
    w: g.ow,
    oh: g.h,
    ow: g.w,
    ph: 2 - g.ph,
    pw: 2 - g.pw,
  };
}

/**
 * y = act(conv2d(x, w) + b) through Winograd, all contiguous (eager ops): U from w on every call
 * (training changes w every step), then the fused launch (winogradConv2dFused: no V or M blocks;
 * bench/winograd.ts --eager 8x320: 0.9x the time of the three launches, forward and grad-input).
 * `transposed`: w is the forward kernel of the conv whose grad-input g is (see packWinogradWeights).
 */
function winogradRun(
  rt: WasmRuntime,
  xPtr: number,
  wPtr: number,
  bPtr: number,
  yPtr: number,
  g: ConvGeometry,
  act: 'silu' | null,
  transposed: boolean,
) {
  winogradEagerRun(rt, packWinogradWeights(rt, wPtr, g, transposed), prepareWinogradFused, xPtr, bPtr, yPtr, g, act);
}

/**
 * The eager ops' fused Winograd conv, all contiguous: U in `up` (made for this call, freed here)
 * and `prepare` (prepareWinogradFused, or winograd_f4.ts's prepareWinogradF4).
 */
export function winogradEagerRun(
  rt: WasmRuntime,
  up: number,
  prepare: typeof prepareWinogradFused,
  xPtr: number,
  bPtr: number,
  yPtr: number,
  g: ConvGeometry,
  act: 'silu' | null,
) {
  try {
    const plane = (c: number, h: number, w: number) => ({ sb: c * h * w, sc: h * w, off: 0 });
    runFused(rt, prepare(rt, xPtr, plane(g.c, g.h, g.w), up, bPtr, yPtr, plane(g.o, g.oh, g.ow), g, act));
  } finally {
    rt.free(up);
  }
}

/** Eager forward: y (N, O, OH, OW) = act(conv2d(x, w) + b) for a geometry winogradEligible takes. */
export function winogradForward(
  rt: WasmRuntime,
  xPtr: number,
  wPtr: number,
  bPtr: number,
  yPtr: number,
  g: ConvGeometry,
  act: 'silu' | null,
) {
  winogradRun(rt, xPtr, wPtr, bPtr, yPtr, g, act, false);
}

/** Eager grad-input: gx (N, C, H, W) from gy (N, O, OH, OW) and w (O, C, 3, 3), g the forward's geometry. */
export function winogradGradInput(rt: WasmRuntime, gyPtr: number, wPtr: number, gxPtr: number, g: ConvGeometry) {
  winogradRun(rt, gyPtr, wPtr, 0, gxPtr, winogradGradInputGeometry(g), null, true);
}
