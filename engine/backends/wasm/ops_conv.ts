// conv2d on the wasm device: forward, grad-input and grad-weight, each ONE function, as GEMMs over
// im2col panels. This is the interim path (the plain SIMD `mm` kernel of kernels/matmul.ts and
// the im2col/col2im kernels of kernels/im2col.ts); the packed-panel GEMM launcher (gemm.ts) takes
// these three functions over when it is wired in. All tensors here are contiguous f32 blocks.
import type { ConvGeometry } from '../../ops/conv2d.js';
import type { WasmRuntimeImpl } from './runtime.js';

export interface ConvBlock {
  /** byte offset of element 0 */
  ptr: number;
}

const isPointwise = (g: ConvGeometry) => g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;

/** im2col of image n, group gi into the block at `col`: col[ck, p] (transposed: colT[p, ck]), ck = (c, ky, kx), p = (oy, ox) */
function im2col(rt: WasmRuntimeImpl, x: number, col: number, g: ConvGeometry, n: number, gi: number, transposed: boolean) {
  const CK = g.cg * g.kh * g.kw;
  const plane = x + 4 * (n * g.c + gi * g.cg) * g.h * g.w;
  rt.parallel('im2col', [plane, col, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh, g.ow, CK, transposed ? 1 : 0], CK, Math.ceil(16384 / (g.oh * g.ow)));
}

/** gx[n, gi] += col2im(col): one task per input channel of the group */
function col2im(rt: WasmRuntimeImpl, col: number, gx: number, g: ConvGeometry, n: number, gi: number) {
  const plane = gx + 4 * (n * g.c + gi * g.cg) * g.h * g.w;
  rt.parallel('col2im', [col, plane, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh, g.ow], g.cg, Math.ceil(16384 / (g.kh * g.kw * g.oh * g.ow)));
}

/** C (M, N) = A (M, K) · B (K, N), A read through (sam, sak), rows of C split across threads. */
export function gemmWasm(rt: WasmRuntimeImpl, a: number, b: number, c: number, M: number, N: number, K: number, sam: number, sak: number, ldb: number, ldc: number, acc: boolean) {
  const minRows = Math.max(1, Math.ceil(65536 / Math.max(1, N * K)));
  rt.parallel('mm', [a, b, c, M, N, K, sam, sak, ldb, ldc, acc ? 1 : 0], M, minRows);
}

/** out (N, O, OH, OW) = conv(x, w) [+ bias] [then SiLU] */
export function conv2dWasm(rt: WasmRuntimeImpl, x: ConvBlock, w: ConvBlock, b: ConvBlock | null, out: ConvBlock, g: ConvGeometry, silu: boolean) {
  const P = g.oh * g.ow, CK = g.cg * g.kh * g.kw;
  const direct = isPointwise(g);
  const tmp = direct ? -1 : rt.alloc(4 * CK * P);
  try {
    for (let n = 0; n < g.n; n++)
      for (let gi = 0; gi < g.groups; gi++) {
        if (!direct) im2col(rt, x.ptr, tmp, g, n, gi, false);
        const B = !direct ? tmp : x.ptr + 4 * (n * g.c + gi * g.cg) * g.h * g.w;
        gemmWasm(rt, w.ptr + 4 * gi * g.og * CK, B, out.ptr + 4 * (n * g.o + gi * g.og) * P, g.og, P, CK, CK, 1, P, P, false);
      }
  } finally {
    if (tmp >= 0) rt.free(tmp);
  }
  const total = g.n * g.o * P;
  if (b) rt.parallel('bc_add', [out.ptr, b.ptr, out.ptr, P, g.o, 0, 0], g.n * g.o, Math.ceil(16384 / P));
  if (silu) rt.parallel('u_silu', [out.ptr, out.ptr, total, 0, 0], Math.ceil(total / 1024), 16);
}

/** gx (N, C, H, W) = the transposed convolution of gy (N, O, OH, OW) with w */
export function conv2dGradInputWasm(rt: WasmRuntimeImpl, gy: ConvBlock, w: ConvBlock, gx: ConvBlock, g: ConvGeometry) {
  const P = g.oh * g.ow, CK = g.cg * g.kh * g.kw;
  const direct = isPointwise(g);
  const tmp = direct ? -1 : rt.alloc(4 * CK * P);
  try {
    if (!direct) rt.zero(gx.ptr, 4 * g.n * g.c * g.h * g.w);
    for (let n = 0; n < g.n; n++)
      for (let gi = 0; gi < g.groups; gi++) {
        const C = !direct ? tmp : gx.ptr + 4 * (n * g.c + gi * g.cg) * g.h * g.w;
        // col (CK, P) = W_g^T (CK, og) · gy_g (og, P)
        gemmWasm(rt, w.ptr + 4 * gi * g.og * CK, gy.ptr + 4 * (n * g.o + gi * g.og) * P, C, CK, P, g.og, 1, CK, P, P, false);
        if (!direct) col2im(rt, tmp, gx.ptr, g, n, gi);
      }
  } finally {
    if (tmp >= 0) rt.free(tmp);
  }
}

/** gw (O, C/groups, kh, kw) = sum over the batch of gy_g (og, P) · im2col(x)^T (P, CK) */
export function conv2dGradWeightWasm(rt: WasmRuntimeImpl, x: ConvBlock, gy: ConvBlock, gw: ConvBlock, g: ConvGeometry) {
  const P = g.oh * g.ow, CK = g.cg * g.kh * g.kw;
  const tmp = rt.alloc(4 * CK * P);
  try {
    for (let n = 0; n < g.n; n++)
      for (let gi = 0; gi < g.groups; gi++) {
        im2col(rt, x.ptr, tmp, g, n, gi, true);
        gemmWasm(rt, gy.ptr + 4 * (n * g.o + gi * g.og) * P, tmp, gw.ptr + 4 * gi * g.og * CK, g.og, CK, P, P, 1, CK, CK, n > 0);
      }
  } finally {
    rt.free(tmp);
  }
}
