// Winograd F(2x2, 3x3) convolution for the wasm compiled forward (inference only; training and
// eager convs stay direct GEMMs in gemm.ts). For a 3x3 stride-1 conv (groups 1, dilation 1):
//   U = G g Gt per (o, c)           once per weight tensor, (16, O, C), packed for gemm_conv2d
//   V = Bt d B per 4x4 input tile   wino_in, into a scratch block (16, C, P), P = N x tiles
//   M[k] = U[k] V[k], k < 16        ONE gemm_conv2d launch: a 1x1 conv with 16 groups
//   y = act(At M A + bias)          wino_out, into the output's planes (a concat slice in place)
// The GEMMs do 16 C O P multiply-adds against the direct conv's 36 C O P (2.25x fewer), plus
// transforms linear in C P and O P. F(2x2) rather than F(4x4): F(4x4)'s transform matrices
// carry 1/24 .. 8 factors that grow the f32 error by about two orders of magnitude (its 4x fewer
// multiplies would need a 1e-4-class tolerance on the head); F(2x2)'s entries are 0, +-1, +-1/2.
import type { WasmRuntime } from './abi.js';
import { conv2dForward, packConvWeights } from './gemm.js';
import type { ConvGeometry, PlaneLayout } from '../../ops/conv2d.js';

/**
 * Below this many input or output channels a conv stays direct: the GEMMs' reduction is C long
 * (against 9 C for the direct conv), too short to amortise their packing. YOLOv8n's smallest 3x3
 * stride-1 convs (16x160x160 -> 16) still gain 1.3x (bench/winograd.ts, 1 thread); narrower ones
 * were not measured.
 */
export const WINOGRAD_MIN_CHANNELS = 16;

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

/** The compiled forward takes Winograd for this conv: it applies, has the channels to gain, and YOLO_WINOGRAD is not 0. */
export function winogradEligible(g: ConvGeometry): boolean {
  return (
    winogradApplies(g) &&
    g.c >= WINOGRAD_MIN_CHANNELS &&
    g.o >= WINOGRAD_MIN_CHANNELS &&
    process.env.YOLO_WINOGRAD !== '0'
  );
}

/**
 * The plane stride (floats, >= P) for 16 slices of `ch` planes each: the transforms touch one
 * pixel in each of the 16 slices per tile, so slices a multiple of 4 KiB apart would all fall in
 * one L1 set (8 ways) and evict each other (measured: the input transform of 64x80x80 took 3x as
 * long). Picks the first stride whose 16 slice starts land in 16 distinct 64-byte sets mod 4 KiB.
 */
function sliceStride(P: number, ch: number): number {
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

/**
 * U = G w Gt for w (O, C, 3, 3) at wPtr, in f64, as (16, O, C) packed into gemm_conv2d's panels
 * in a fresh block (the caller frees it with rt.free). G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
 */
export function packWinogradWeights(rt: WasmRuntime, wPtr: number, g: ConvGeometry): number {
  const { o: O, c: C } = g;
  const w = rt.f32(wPtr, O * C * 9);
  const u = new Float32Array(16 * O * C);
  const G = [
    [1, 0, 0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0, 0, 1],
  ];
  const t = new Float64Array(12);
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++) {
      const base = (o * C + c) * 9;
      for (let i = 0; i < 4; i++)
        // t = G w (4 x 3)
        for (let j = 0; j < 3; j++)
          t[i * 3 + j] = G[i][0] * w[base + j] + G[i][1] * w[base + 3 + j] + G[i][2] * w[base + 6 + j];
      for (let i = 0; i < 4; i++)
        // U = t Gt (4 x 4)
        for (let j = 0; j < 4; j++)
          u[((i * 4 + j) * O + o) * C + c] = t[i * 3] * G[j][0] + t[i * 3 + 1] * G[j][1] + t[i * 3 + 2] * G[j][2];
    }
  const src = rt.alloc(4 * u.length);
  try {
    rt.f32(src, u.length).set(u);
    return packConvWeights(rt, src, gemmGeometry(g, 1));
  } finally {
    rt.free(src);
  }
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
