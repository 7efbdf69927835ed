// Winograd F(2x2, 3x3) grad-weight of a 3x3 stride-1 conv on the wasm device (eager backward,
// ops_conv.ts; kernels: kernels/winograd_gw.ts, wino_in of kernels/winograd.ts and grad_weight_dot
// of kernels/grad_weight.ts). The forward computes Y = At [U . V] A per 2x2 output tile with
// U = G g Gt and V = Bt d B, so the weight gradient is
//   V = Bt d B per 4x4 input tile       wino_in (the forward's input transform), into (16, C, P) slices
//   M' = A dY At per 2x2 tile of gy     wino_gy, into (16, O, P) slices (tiles past the edge: zeros)
//   dU[k] = M'[k] V[k]^T, k < 16        ONE grad_weight_dot launch, the 16 GEMMs as its groups: (O x C)
//                                       dot products along the tile index P, contiguous in both operands
//                                       (grad-weight's own formulation, its 2x4 f32x4 micro-kernel)
//   dg = Gt dU G per (o, c)             wino_gw_out, summing the GEMMs' partial blocks on the way
// 16 multiply-adds per tile and (o, c) against the direct grad-weight's 36. Images go through in
// passes whose V and M' fit WGW_PASS_BYTES (each pass writes its own partial dU blocks), so the
// scratch stays bounded at any batch size. Where winogradGradWeightF4Eligible says, ops_conv.ts
// takes the F(4x4) form instead (winograd_grad_weight_f4.ts).
import type { WasmRuntime } from './abi.js';
import { GW_DOT_PARAMS } from './kernels/grad_weight.js';
import { GWD_CHUNK, GWD_KB, GWD_MB, withScratch, writeParams, zeroWords } from './gemm.js';
import { sliceStride, winogradEligible } from './winograd.js';
import type { ConvGeometry } from '../../ops/conv2d.js';

/** Bytes of V and M' per pass: more images run as further passes (as grad-weight's GWD_COPY_BYTES). */
export const WGW_PASS_BYTES = 16 * 2 ** 20;

const cdiv = (a: number, b: number) => Math.ceil(a / b);

/**
 * The conv's grad-weight goes through Winograd: winogradEligible takes its forward, and
 * YOLO_WINOGRAD_GW is not 0 (YOLO_WINOGRAD=0 turns this off with the rest of Winograd).
 */
export function winogradGradWeightEligible(g: ConvGeometry): boolean {
  return winogradEligible(g) && process.env.YOLO_WINOGRAD_GW !== '0';
}

/**
 * gw (O, C, 3, 3) = dL/dw from x (N, C, H, W) and gy (N, O, OH, OW), both contiguous, for a geometry
 * winogradApplies takes (3x3, stride 1, dilation 1, groups 1, padding <= 2). Scratch from rt.alloc,
 * freed before returning (also when a launch throws).
 */
export function winogradGradWeight(
  rt: WasmRuntime,
  xPtr: number,
  gyPtr: number,
  gwPtr: number,
  g: ConvGeometry,
  maxPassBytes = WGW_PASS_BYTES,
) {
  winogradGradWeightPasses(F2, rt, xPtr, gyPtr, gwPtr, g, maxPassBytes);
}

/**
 * What the F(2x2) and F(4x4) grad-weights do differently inside the one plan of
 * winogradGradWeightPasses: the output tile, the slices' strides, the two transforms and the
 * output kernel.
 */
export interface WinogradGradWeightForm {
  /** output tile side: 2 or 4; (tile + 2)^2 GEMMs */
  tile: number;
  /** floats between channel rows (pv, pm) and bytes between the slices (kv, km) of V and M' for dot products of length L */
  strides(L: number, C: number, O: number): { pv: number; pm: number; kv: number; km: number };
  /** V and M' of a pass's P tiles (starting at image pointers x, gy), each row zero in [P, len) */
  transforms(
    rt: WasmRuntime,
    g: ConvGeometry,
    p: { x: number; gy: number; v: number; m: number; n: number; P: number; len: number; tH: number; tW: number },
    s: { pv: number; pm: number; kv: number; km: number },
  ): void;
  /** dg = Gt dU G per (o, c), summing the passes' blocks: (du, gw, O, C, passes), O tasks */
  out: string;
}

/** The F(2x2) form: sliceStride's plane strides, wino_in / wino_gy, zeros past the tiles written here. */
const F2: WinogradGradWeightForm = {
  tile: 2,
  strides: (L, C, O) => {
    const pv = sliceStride(L, C),
      pm = sliceStride(L, O);
    return { pv, pm, kv: 4 * C * pv, km: 4 * O * pm };
  },
  transforms(rt, g, p, { pv, pm }) {
    const { c: C, o: O } = g;
    rt.parallel('wino_in', [p.x, p.v, C, g.h, g.w, C * g.h * g.w, g.h * g.w, p.tH, p.tW, pv, g.ph, g.pw], p.n * C);
    rt.parallel('wino_gy', [p.gy, p.m, O, g.oh, g.ow, p.tH, p.tW, pm], p.n * O);
    if (p.len > p.P) {
      // the dot products run to len: zeros past the tiles in M', and finite values in V (0 . NaN is NaN)
      const vf = rt.f32(p.v, 16 * C * pv),
        mf = rt.f32(p.m, 16 * O * pm);
      for (let r = 0; r < 16 * C; r++) vf.fill(0, r * pv + p.P, r * pv + p.len);
      for (let r = 0; r < 16 * O; r++) mf.fill(0, r * pm + p.P, r * pm + p.len);
    }
  },
  out: 'wino_gw_out',
};

/**
 * The plan both Winograd grad-weights share: images in passes whose V and M' fit maxPassBytes, per
 * pass the two transforms and ONE grad_weight_dot launch of the (tile + 2)^2 GEMMs (each pass
 * writes its own partial dU blocks), then the output transform summing them.
 */
export function winogradGradWeightPasses(
  form: WinogradGradWeightForm,
  rt: WasmRuntime,
  xPtr: number,
  gyPtr: number,
  gwPtr: number,
  g: ConvGeometry,
  maxPassBytes: number,
) {
  const { n: N, c: C, o: O } = g;
  const k = (form.tile + 2) ** 2; // GEMMs: 16 or 36
  const tH = Math.ceil(g.oh / form.tile),
    tW = Math.ceil(g.ow / form.tile),
    T = tH * tW;
  if (N * T === 0 || C * O === 0) {
    rt.f32(gwPtr, O * C * 9).fill(0);
    return;
  }
  const ipp = Math.max(1, Math.min(N, Math.floor(maxPassBytes / (4 * k * (C + O) * T))));
  const passes = cdiv(N, ipp);
  const L = Math.ceil((ipp * T) / 4) * 4; // the dot products' length: a multiple of 4, zeros past the tiles
  const strides = form.strides(L, C, O);
  const dots = groupedDots(rt, O, C, k);
  const { nslots, slotBytes } = dots;
  const vBytes = k * strides.kv,
    tBytes = vBytes + k * strides.km;
  const sizes = [
    GW_DOT_PARAMS.length * 4,
    nslots * 4,
    nslots * slotBytes,
    C * 4,
    2 ** Math.ceil(Math.log2(tBytes)), // a power of two: the layers reuse a few blocks (as grad-weight's copies)
    4 * k * passes * O * C,
  ];
  withScratch(rt, sizes, (params, flags, scratch, cols, v, du) => {
    const m = v + vBytes;
    zeroWords(rt, flags, nslots);
    new Int32Array(rt.memory.buffer, cols, C).set(Array.from({ length: C }, (_, c) => c * strides.pv));
    for (let pass = 0; pass < passes; pass++) {
      const n0 = pass * ipp,
        n = Math.min(ipp, N - n0),
        P = n * T;
      const x = xPtr + 4 * n0 * C * g.h * g.w,
        gy = gyPtr + 4 * n0 * O * g.oh * g.ow;
      const len = Math.ceil(P / 4) * 4;
      form.transforms(rt, g, { x, gy, v, m, n, P, len, tH, tW }, strides);
      // GEMM k's partial block of this pass: (k passes + pass) O C
      launchGroupedDots(rt, dots, params, flags, scratch, cols, {
        m,
        v,
        out: du + 4 * pass * O * C,
        len,
        pm: strides.pm,
        a_sg: strides.km / 4,
        b_sg: strides.kv / 4,
        out_sg: passes * O * C,
      });
    }
    rt.parallel(form.out, [du, gwPtr, O, C, passes], O);
  });
}

/**
 * The dU blocks (mb rows x kb columns, grad_weight_dot's block shape as conv2dGradWeight's) of
 * `groups` GEMMs of O x C, all of them the tasks of one launch (enough for the threads without
 * splitting the tiles between tasks), and its scratch slots.
 */
function groupedDots(rt: WasmRuntime, O: number, C: number, groups: number) {
  const mblocks = cdiv(O, GWD_MB),
    kblocks = cdiv(C, GWD_KB);
  const mb = Math.ceil(O / mblocks / 2) * 2,
    kb = Math.ceil(C / kblocks / 4) * 4;
  const tasks = groups * cdiv(O, mb) * cdiv(C, kb);
  return { O, C, mb, kb, tasks, nslots: Math.min(rt.threads, tasks), slotBytes: Math.ceil((mb * kb * 16) / 64) * 64 };
}

/**
 * One grouped grad_weight_dot launch: for each GEMM k, out[k] = M'[k] V[k]^T, dot products of `len`
 * along the tiles; M' rows pm floats apart from m (GEMM k at + a_sg k floats), V rows at `cols`'
 * offsets from v (+ b_sg k), out blocks out_sg floats apart. params, flags (zeroed), scratch, cols: blocks of rt.
 */
function launchGroupedDots(
  rt: WasmRuntime,
  d: ReturnType<typeof groupedDots>,
  params: number,
  flags: number,
  scratch: number,
  cols: number,
  l: { m: number; v: number; out: number; len: number; pm: number; a_sg: number; b_sg: number; out_sg: number },
) {
  writeParams(rt, params, GW_DOT_PARAMS, {
    a: l.m,
    b: l.v,
    out: l.out,
    coloff: cols,
    flags,
    scratch,
    nslots: d.nslots,
    slot_bytes: d.slotBytes,
    n: 1,
    len: l.len,
    a_sb: 0,
    a_so: l.pm,
    b_sb: 0,
    m: d.O,
    k: d.C,
    mb: d.mb,
    kb: d.kb,
    mblocks: cdiv(d.O, d.mb),
    kblocks: cdiv(d.C, d.kb),
    splits: 1,
    chunk: GWD_CHUNK,
    a_sg: l.a_sg,
    b_sg: l.b_sg,
    out_sg: l.out_sg,
  });
  rt.parallel('grad_weight_dot', [params], d.tasks);
}
