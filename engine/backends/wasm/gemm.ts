// Launchers for the wasm device's GEMM/convolution kernels (gemm_wat.ts): conv2d forward (fused
// bias + SiLU), grad-input, grad-weight and a plain matmul, all on pointers into the runtime's
// memory. Semantics match the cpu reference loops of engine/ops/conv2d.ts exactly (torch's conv2d);
// tiles and task decomposition are described in README_gemm.md.
//
// Every pointer is a byte offset into rt.memory (16-byte aligned is best, 4 is enough); every
// tensor is contiguous f32 unless a PlaneLayout says otherwise. Scratch (packed weights, one
// packing slot per thread) is taken with rt.alloc and given back before returning.
import type { WasmRuntime } from './abi.js';
import { CONV_PARAMS, MR, NR } from './gemm_wat.js';
import { GW_DOT_PARAMS } from './kernels/grad_weight.js';
import { phaseTaps, type ConvGeometry, type PlaneLayout } from '../../ops/conv2d.js';

/** Bytes of one task's packed pixel block (B) in gemm_conv2d: sized to stay in a 1 MiB L2 beside the weights. */
const B_BLOCK_BYTES = 128 * 1024;

/**
 * grad_weight_dot: pixels per reduction chunk, rows and columns per block of gw. Measured flat: CPU
 * time moved < 5% over chunks 256-1024, rows 16-32 and columns 32-128 on the YOLOv8n-pose shapes.
 */
export const GWD_CHUNK = 512,
  GWD_MB = 32,
  GWD_KB = 64,
  /**
   * bytes of grad-weight's padded copies of x and gy per pass (the stem at 640 x 16 would need 184 MB at
   * once): 8 and 32 MiB timed the same within this box's noise (+-10%) on the stem and the stride-2 layers
   */
  GWD_COPY_BYTES = 16 * 2 ** 20;

const cdiv = (a: number, b: number) => Math.ceil(a / b);

/** Tasks wanted for a kernel: enough chunks to balance `threads` threads, one range when alone. */
const taskTarget = (rt: WasmRuntime) => (rt.threads > 1 ? 4 * rt.threads : 1);

/** Runs `fn` with the blocks from rt.alloc, freeing them (newest first) even if it throws. */
export function withScratch<T>(rt: WasmRuntime, sizes: number[], fn: (...ptrs: number[]) => T): T {
  const ptrs: number[] = [];
  try {
    for (const s of sizes) ptrs.push(rt.alloc(Math.max(16, s)));
    return fn(...ptrs);
  } finally {
    for (const p of ptrs.reverse()) rt.free(p);
  }
}

/** Writes an i32 parameter block in the order `names` lays down (gemm_wat.ts, kernels/*.ts). */
export function writeParams(
  rt: WasmRuntime,
  ptr: number,
  names: readonly string[],
  values: object,
  more: Record<string, number> = {},
) {
  const heap = heap32(rt),
    at = ptr >> 2;
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    const v = n in more ? more[n] : (values as Record<string, number>)[n];
    if (!Number.isInteger(v)) throw new Error(`wasm gemm: parameter ${n} is ${v}`);
    heap[at + i] = v;
  }
}

/** Zeroes `n` i32 words at ptr (the slot flags): plain stores, no view per call. */
export function zeroWords(rt: WasmRuntime, ptr: number, n: number) {
  heap32(rt).fill(0, ptr >> 2, (ptr >> 2) + n);
}

const heaps = new WeakMap<WasmRuntime, Int32Array>();
/** An i32 view of the whole memory, made again only after the memory grew (a launch writes its parameters through it). */
function heap32(rt: WasmRuntime): Int32Array {
  const buf = rt.memory.buffer;
  let h = heaps.get(rt);
  if (!h || h.buffer !== buf) heaps.set(rt, (h = new Int32Array(buf)));
  return h;
}

/** A weight-side operand: rows m of `rows` per group, k = (k1, k2, k3), element strides (may be negative). */
interface PackA {
  src: number;
  rows: number;
  k1: number;
  k2: number;
  k3: number;
  sm: number;
  s1: number;
  s2: number;
  s3: number;
  sg: number;
  groups: number;
}

const packedBytes = (p: PackA) => p.groups * cdiv(p.rows, MR) * p.k1 * p.k2 * p.k3 * MR * 4;

/** Packs A into 4-row panels [g][panel][k][4] at dst (packedBytes(p) bytes); one task per panel. */
function packA(rt: WasmRuntime, dst: number, p: PackA) {
  const mpan = cdiv(p.rows, MR);
  if (p.k1 * p.k2 * p.k3 === 0) return;
  rt.parallel(
    'gemm_pack_a',
    [p.src, dst, p.rows, p.k1, p.k2, p.k3, p.sm, p.s1, p.s2, p.s3, p.sg, mpan],
    p.groups * mpan,
  );
}

/**
 * One launch of gemm_conv2d: y[n][g og + o][oy, ox] (at y + (n y_sb + (g og + o) y_sc + oy y_rs + ox y_cs) * 4)
 * = act(bias + sum over (c, ky, kx) of A[g][o][(c, ky, kx)] * x[n][g c + c][oy sh - ph + ky dh, ox sw - pw + kx dw]),
 * x read at x + (n x_sb + ch x_sc + iy x_rs + ix) * 4, zero outside [0, h) x [0, w).
 */
interface ConvLaunch {
  x: number;
  apack: number;
  bias: number;
  y: number;
  act: 0 | 1;
  n: number;
  groups: number;
  c: number;
  h: number;
  w: number;
  og: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  x_sb: number;
  x_sc: number;
  x_rs: number;
  y_sb: number;
  y_sc: number;
  y_rs: number;
  y_cs: number;
}

function launchConv(rt: WasmRuntime, l: ConvLaunch) {
  const K = l.c * l.kh * l.kw,
    P = l.oh * l.ow;
  if (l.n * l.groups * l.og * P === 0) return;
  const ppan = cdiv(P, NR),
    mpan = cdiv(l.og, MR),
    target = taskTarget(rt);
  // pixel panels per task: a B block of about B_BLOCK_BYTES, fewer if the threads need more tasks
  let npb = Math.max(1, Math.min(ppan, Math.floor(B_BLOCK_BYTES / (Math.max(K, 1) * NR * 4))));
  const outer = l.n * l.groups;
  while (outer * cdiv(ppan, npb) < target && npb > 1) npb = cdiv(npb, 2);
  const pblocks = cdiv(ppan, npb);
  // then output-channel blocks (each re-packs its B block: the cost of more tasks)
  let mblocks = Math.min(mpan, cdiv(target, outer * pblocks));
  const mpb = cdiv(mpan, mblocks);
  mblocks = cdiv(mpan, mpb);
  const tasks = outer * pblocks * mblocks;
  const nslots = Math.min(rt.threads, tasks);
  const slotBytes = Math.ceil((npb * K * NR * 4 + MR * NR * 4) / 64) * 64;
  withScratch(rt, [CONV_PARAMS.length * 4, nslots * 4, nslots * slotBytes], (params, flags, scratch) => {
    zeroWords(rt, flags, nslots);
    writeParams(rt, params, CONV_PARAMS, l, {
      flags,
      scratch,
      nslots,
      slot_bytes: slotBytes,
      npb,
      mpb,
      pblocks,
      mblocks,
    });
    rt.parallel('gemm_conv2d', [params], tasks);
  });
}

/** Input/output plane layouts (elements), as conv2dCpu's `xat` / `at`: default contiguous NCHW. */
export interface ConvLayouts {
  x?: PlaneLayout;
  y?: PlaneLayout;
}

export interface ConvForwardOptions {
  layouts?: ConvLayouts;
  /** weights already packed by packConvWeights for this geometry: skips the per-call packing */
  packedWeights?: number;
}

const forwardPack = (wPtr: number, g: ConvGeometry): PackA => {
  const K = g.cg * g.kh * g.kw;
  return {
    src: wPtr,
    rows: g.og,
    k1: g.cg,
    k2: g.kh,
    k3: g.kw,
    sm: K,
    s1: g.kh * g.kw,
    s2: g.kw,
    s3: 1,
    sg: g.og * K,
    groups: g.groups,
  };
};

/** Bytes packConvWeights writes for w (O, C/groups, kh, kw): O rounded up to 4 per group, times C/groups kh kw floats. */
export const packedConvWeightBytes = (g: ConvGeometry) => packedBytes(forwardPack(0, g));

/**
 * Packs w (O, C/groups, kh, kw) into the forward kernel's panels in a fresh block (the caller frees
 * it with rt.free): a device can keep it per weight tensor and version, since packing costs a
 * scalar pass over the weights on every call otherwise (about a tenth of the forward on the
 * 20x20 layers at 640, where the weights are largest and the outputs smallest).
 */
export function packConvWeights(rt: WasmRuntime, wPtr: number, g: ConvGeometry): number {
  const pa = forwardPack(wPtr, g);
  const ptr = rt.alloc(Math.max(16, packedBytes(pa)));
  packA(rt, ptr, pa);
  return ptr;
}

/**
 * y = conv2d(x, w) + b, then SiLU if act = 'silu' (torch.nn.functional.conv2d semantics).
 * x (N, C, H, W), w (O, C/groups, kh, kw), b (O) or 0 for none, y (N, O, OH, OW); g from convGeometry.
 * x and y may be channel slices of larger buffers (opts.layouts, as a compiled graph's concat).
 */
export function conv2dForward(
  rt: WasmRuntime,
  xPtr: number,
  wPtr: number,
  bPtr: number,
  yPtr: number,
  g: ConvGeometry,
  act: 'silu' | null,
  opts: ConvForwardOptions = {},
) {
  const xl = opts.layouts?.x ?? { sb: g.c * g.h * g.w, sc: g.h * g.w, off: 0 };
  const yl = opts.layouts?.y ?? { sb: g.o * g.oh * g.ow, sc: g.oh * g.ow, off: 0 };
  const run = (apack: number) =>
    launchConv(rt, {
      x: xPtr + 4 * xl.off,
      apack,
      bias: bPtr,
      y: yPtr + 4 * yl.off,
      act: act === 'silu' ? 1 : 0,
      n: g.n,
      groups: g.groups,
      c: g.cg,
      h: g.h,
      w: g.w,
      og: g.og,
      oh: g.oh,
      ow: g.ow,
      kh: g.kh,
      kw: g.kw,
      sh: g.sh,
      sw: g.sw,
      ph: g.ph,
      pw: g.pw,
      dh: g.dh,
      dw: g.dw,
      x_sb: xl.sb,
      x_sc: xl.sc,
      x_rs: g.w,
      y_sb: yl.sb,
      y_sc: yl.sc,
      y_rs: g.ow,
      y_cs: 1,
    });
  if (opts.packedWeights !== undefined) return run(opts.packedWeights);
  const pa = forwardPack(wPtr, g);
  withScratch(rt, [packedBytes(pa)], (apack) => {
    packA(rt, apack, pa);
    run(apack);
  });
}

/**
 * gx = dL/dx (N, C, H, W) from gy = dL/dy (N, O, OH, OW) and w: the transposed convolution, as one
 * forward-style GEMM per stride phase (py, px): the input pixels (q sh + py, r sw + px) only meet the
 * taps phaseTaps() lists, which read gy like a stride-1 conv with dilation dstep and the taps flipped.
 * Every element of gx is written (a phase no tap reaches gets zeros).
 */
export function conv2dGradInput(rt: WasmRuntime, gyPtr: number, wPtr: number, gxPtr: number, g: ConvGeometry) {
  for (let py = 0; py < g.sh; py++)
    for (let px = 0; px < g.sw; px++) {
      const ty = phaseTaps(py, g.sh, g.ph, g.dh, g.kh),
        tx = phaseTaps(px, g.sw, g.pw, g.dw, g.kw);
      const hq = Math.ceil((g.h - py) / g.sh),
        wq = Math.ceil((g.w - px) / g.sw);
      if (hq <= 0 || wq <= 0) continue;
      // A[g][c][(o, jy, jx)] = w[g og + o][c][k0y + (cy-1-jy) ksy][k0x + (cx-1-jx) ksx]: the taps reversed
      const last = (ty.k0 + (ty.count - 1) * ty.kstep) * g.kw + tx.k0 + (tx.count - 1) * tx.kstep;
      const pa: PackA = {
        src: wPtr + 4 * last,
        rows: g.cg,
        k1: g.og,
        k2: ty.count,
        k3: tx.count,
        sm: g.kh * g.kw,
        s1: g.cg * g.kh * g.kw,
        s2: -ty.kstep * g.kw,
        s3: -tx.kstep,
        sg: g.og * g.cg * g.kh * g.kw,
        groups: g.groups,
      };
      withScratch(rt, [packedBytes(pa)], (apack) => {
        packA(rt, apack, pa);
        launchConv(rt, {
          x: gyPtr,
          apack,
          bias: 0,
          y: gxPtr + 4 * (py * g.w + px),
          act: 0,
          n: g.n,
          groups: g.groups,
          c: g.og,
          h: g.oh,
          w: g.ow,
          og: g.cg,
          oh: hq,
          ow: wq,
          kh: ty.count,
          kw: tx.count,
          sh: 1,
          sw: 1,
          ph: (ty.count - 1) * ty.dstep - ty.c0,
          pw: (tx.count - 1) * tx.dstep - tx.c0,
          dh: Math.max(ty.dstep, 1),
          dw: Math.max(tx.dstep, 1),
          x_sb: g.o * g.oh * g.ow,
          x_sc: g.oh * g.ow,
          x_rs: g.ow,
          y_sb: g.c * g.h * g.w,
          y_sc: g.h * g.w,
          y_rs: g.sh * g.w,
          y_cs: g.sw,
        });
      });
    }
}

/**
 * The row pitch of grad-weight's padded planes: the fewest columns with which every tap reads the
 * right value at every output column ox < OW. A read past the row's end lands in the next row's
 * first columns, which is right where the true value is padding (zero) and the next row starts with
 * at least as many zero columns: a stride-1 pad-1 3x3 conv needs OW + 1 columns, not OW + 2.
 */
function rowPitch(g: ConvGeometry): number {
  let wp = g.ow;
  for (let px = 0; px < g.sw; px++) {
    let axMax = -1; // the largest column shift of the taps reading column phase px
    for (let kx = 0; kx < g.kw; kx++)
      if ((kx * g.dw) % g.sw === px) axMax = Math.max(axMax, Math.floor((kx * g.dw) / g.sw));
    if (axMax < 0) continue;
    const lead = Math.max(0, Math.ceil((g.pw - px) / g.sw)), // zero columns at a row's start
      end = Math.floor((g.w - 1 + g.pw - px) / g.sw) + 1; // past the last column holding x
    // columns up to the last one read that holds x must be in the row; the rest may wrap into the lead
    wp = Math.max(wp, Math.min(g.ow - 1 + axMax, end - 1) + 1, g.ow + axMax - lead);
  }
  return wp;
}

/**
 * gw = dL/dw (O, C/groups, kh, kw) from x (N, C, H, W) and gy (N, O, OH, OW), both contiguous, as
 * dot products along the pixels (kernels/grad_weight.ts): x copied once into zero-padded stride-phase
 * planes and gy into the same row pitch (neither for a 1x1 stride-1 unpadded conv), then per group
 * rows o x columns (c, ky, kx), every entry one flat contiguous reduction over (n, pixel).
 * Tasks are blocks of gw; when there are fewer blocks than the threads want, the pixel range is split
 * too and a second launch sums the partial blocks. The padded copies take at most maxCopyBytes (or one
 * image): more images run in passes, each writing its own partial blocks.
 */
export function conv2dGradWeight(
  rt: WasmRuntime,
  xPtr: number,
  gyPtr: number,
  gwPtr: number,
  g: ConvGeometry,
  maxCopyBytes = GWD_COPY_BYTES,
) {
  const K = g.cg * g.kh * g.kw,
    P = g.oh * g.ow;
  if (g.n * P === 0 || K * g.og === 0) {
    rt.f32(gwPtr, g.o * K).fill(0);
    return;
  }
  // tap (ky, kx) reads stride phase (ky dh % sh, kx dw % sw) shifted by (ky dh / sh, kx dw / sw)
  const ay = Math.floor(((g.kh - 1) * g.dh) / g.sh),
    ax = Math.floor(((g.kw - 1) * g.dw) / g.sw);
  const direct = g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0 && P % 4 === 0;
  const wp = rowPitch(g),
    hq = g.oh + ay,
    nph = g.sh * g.sw;
  const len = direct ? P : Math.ceil((g.oh * wp) / 4) * 4;
  const gyDirect = wp === g.ow && len === P;
  // a plane holds every x a tap reads from its first pixel: up to ay wp + ax + len floats (zeros past hq x wp)
  const ps = direct ? 0 : Math.ceil((ay * wp + ax + len) / 4) * 4;
  const xChan = direct ? g.h * g.w : nph * ps; // floats between x channels as the dot kernel reads them
  const coloff = new Int32Array(K);
  for (let c = 0; c < g.cg; c++)
    for (let ky = 0; ky < g.kh; ky++)
      for (let kx = 0; kx < g.kw; kx++) {
        const phase = ((ky * g.dh) % g.sh) * g.sw + ((kx * g.dw) % g.sw);
        coloff[(c * g.kh + ky) * g.kw + kx] =
          c * xChan + phase * ps + Math.floor((ky * g.dh) / g.sh) * wp + Math.floor((kx * g.dw) / g.sw);
      }
  // blocks of gw (mb rows x kb columns), chunks of the pixels; then splits of the pixels for the threads
  // blocks of about equal size (the threads take contiguous task ranges), their count a multiple of
  // the threads where one more column block does it
  const chunk = GWD_CHUNK,
    target = taskTarget(rt);
  const mblocks = cdiv(g.og, GWD_MB);
  let kblocks = cdiv(K, GWD_KB);
  if ((mblocks * kblocks) % rt.threads !== 0 && (mblocks * (kblocks + 1)) % rt.threads === 0 && kblocks < cdiv(K, 4))
    kblocks++;
  const mb = Math.ceil(g.og / mblocks / 2) * 2,
    kb = Math.ceil(K / kblocks / 4) * 4;
  const blocks = cdiv(g.og, mb) * cdiv(K, kb);
  // the padded copies hold `ipp` images at a time (maxCopyBytes): more images run as further passes
  const perImage = (direct ? 0 : g.c * nph * ps * 4) + (gyDirect ? 0 : g.o * len * 4);
  const ipp = perImage === 0 ? g.n : Math.max(1, Math.min(g.n, Math.floor(maxCopyBytes / perImage)));
  const passes = cdiv(g.n, ipp);
  const total = ipp * len;
  const splits = blocks >= target ? 1 : Math.max(1, Math.min(cdiv(target, blocks), Math.floor(total / (4 * chunk))));
  const parts = passes * splits; // partial blocks per group, summed at the end when more than one
  const tasks = blocks * splits;
  const nslots = Math.min(rt.threads, tasks);
  const slotBytes = Math.ceil((mb * kb * 16) / 64) * 64;
  // both copies in one block of a power-of-two size, so that the layers' copies reuse a few blocks
  // instead of leaving one per distinct size in the allocator's free lists
  const xpBytes = direct ? 0 : ipp * g.c * nph * ps * 4,
    copyBytes = xpBytes + (gyDirect ? 0 : ipp * g.o * len * 4);
  const sizes = [
    GW_DOT_PARAMS.length * 4,
    nslots * 4,
    nslots * slotBytes,
    K * 4,
    copyBytes > 0 ? 2 ** Math.ceil(Math.log2(copyBytes)) : 0,
    parts > 1 ? parts * g.o * K * 4 : 0,
  ];
  withScratch(rt, sizes, (params, flags, scratch, cols, xp, part) => {
    const gyp = xp + xpBytes;
    zeroWords(rt, flags, nslots);
    new Int32Array(rt.memory.buffer, cols, K).set(coloff);
    for (let pass = 0; pass < passes; pass++) {
      const n0 = pass * ipp,
        n = Math.min(ipp, g.n - n0);
      const xs = xPtr + 4 * n0 * g.c * g.h * g.w,
        gys = gyPtr + 4 * n0 * g.o * P;
      if (!direct) rt.parallel('grad_weight_pad_x', [xs, xp, g.h, g.w, g.sh, g.sw, g.ph, g.pw, hq, wp, ps], n * g.c);
      if (!gyDirect) rt.parallel('grad_weight_pad_gy', [gys, gyp, g.oh, g.ow, wp, len], n * g.o);
      const a = gyDirect ? gys : gyp,
        b = direct ? xs : xp;
      for (let gi = 0; gi < g.groups; gi++) {
        writeParams(rt, params, GW_DOT_PARAMS, {
          a: a + 4 * gi * g.og * len,
          b: b + 4 * gi * g.cg * xChan,
          // group gi's partial blocks are parts * og * K floats; this pass writes splits of them
          out: parts > 1 ? part + 4 * (gi * parts + pass * splits) * g.og * K : gwPtr + 4 * gi * g.og * K,
          coloff: cols,
          flags,
          scratch,
          nslots,
          slot_bytes: slotBytes,
          n,
          len,
          a_sb: g.o * len,
          a_so: len,
          b_sb: g.c * xChan,
          m: g.og,
          k: K,
          mb,
          kb,
          mblocks: cdiv(g.og, mb),
          kblocks: cdiv(K, kb),
          splits,
          chunk,
          a_sg: 0, // one group per launch
          b_sg: 0,
          out_sg: 0,
        });
        rt.parallel('grad_weight_dot', [params], tasks);
      }
    }
    if (parts > 1)
      for (let gi = 0; gi < g.groups; gi++)
        rt.parallel(
          'grad_weight_sum',
          [gwPtr + 4 * gi * g.og * K, part + 4 * gi * parts * g.og * K, g.og * K, parts],
          cdiv(g.og * K, 1024),
        );
  });
}

/**
 * c (m, n) = a (m, k) . b (k, n); transA: a is stored (k, m); transB: b is stored (n, k).
 * Runs as a 1x1 convolution over a 1 x n "image" (b's rows are its channels). transB reads and
 * writes through the lane-by-lane paths (b's columns are strided): correct, not fast.
 */
export function matmul(
  rt: WasmRuntime,
  aPtr: number,
  bPtr: number,
  cPtr: number,
  m: number,
  k: number,
  n: number,
  transA = false,
  transB = false,
) {
  if (m * n === 0) return;
  const pa: PackA = {
    src: aPtr,
    rows: m,
    k1: k,
    k2: 1,
    k3: 1,
    sm: transA ? 1 : k,
    s1: transA ? m : 1,
    s2: 1,
    s3: 1,
    sg: 0,
    groups: 1,
  };
  withScratch(rt, [packedBytes(pa)], (apack) => {
    packA(rt, apack, pa);
    const [h, w] = transB ? [n, 1] : [1, n];
    launchConv(rt, {
      x: bPtr,
      apack,
      bias: 0,
      y: cPtr,
      act: 0,
      n: 1,
      groups: 1,
      c: k,
      h,
      w,
      og: m,
      oh: h,
      ow: w,
      kh: 1,
      kw: 1,
      sh: 1,
      sw: 1,
      ph: 0,
      pw: 0,
      dh: 1,
      dw: 1,
      x_sb: 0,
      x_sc: transB ? 1 : n,
      x_rs: transB ? k : n,
      y_sb: 0,
      y_sc: n,
      y_rs: transB ? 1 : n,
      y_cs: 1,
    });
  });
}
