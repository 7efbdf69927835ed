// conv2d on the wasm device: forward, grad-input and grad-weight, each ONE function over gemm.ts's
// packed-panel GEMM (implicit im2col, bias + SiLU fused into the forward's epilogue), and the plain
// SIMD `mm` kernel of kernels/matmul.ts that matmul uses. All tensors here are contiguous f32 blocks.
// The forward and grad-input of 3x3 stride-1 convs go through Winograd F(4x4, 3x3) (winograd_f4.ts)
// where winogradF4Eligible says, else F(2x2, 3x3) (winograd.ts) where winogradEligible says it is
// faster than the direct GEMM; their grad-weight through F(4x4) (winograd_grad_weight_f4.ts) where
// winogradGradWeightF4Eligible says, else F(2x2) (winograd_grad_weight.ts).
import type { ConvGeometry } from '../../ops/conv2d.js';
import type { WasmRuntimeImpl } from './runtime.js';
import { conv2dForward, conv2dGradInput, conv2dGradWeight } from './gemm.js';
import {
  winogradForward,
  winogradGradInput,
  winogradGradInputGeometry,
  winogradEligible,
  winogradApplies,
} from './winograd.js';
import { winogradGradWeight, winogradGradWeightEligible } from './winograd_grad_weight.js';
import { winogradGradWeightF4, winogradGradWeightF4Eligible } from './winograd_grad_weight_f4.js';
import { winogradF4Eligible, winogradF4Forward, winogradF4GradInput } from './winograd_f4.js';

export interface ConvBlock {
  /** byte offset of element 0 */
  ptr: number;
}

/** C (M, N) = A (M, K) · B (K, N), A read through (sam, sak), rows of C split across threads. */
export function gemmWasm(
  rt: WasmRuntimeImpl,
  a: number,
  b: number,
  c: number,
  M: number,
  N: number,
  K: number,
  sam: number,
  sak: number,
  ldb: number,
  ldc: number,
  acc: boolean,
) {
  const minRows = Math.max(1, Math.ceil(65536 / Math.max(1, N * K)));
  rt.parallel('mm', [a, b, c, M, N, K, sam, sak, ldb, ldc, acc ? 1 : 0], M, minRows);
}

/**
 * out (N, O, OH, OW) = conv(x, w) [+ bias] [then SiLU]: Winograd where winogradEligible takes it,
 * else gemm.ts's packed-panel GEMM with the epilogue fused.
 */
export function conv2dWasm(
  rt: WasmRuntimeImpl,
  x: ConvBlock,
  w: ConvBlock,
  b: ConvBlock | null,
  out: ConvBlock,
  g: ConvGeometry,
  silu: boolean,
) {
  const bPtr = b ? b.ptr : 0,
    act = silu ? 'silu' : null;
  if (winogradF4Eligible(g)) winogradF4Forward(rt, x.ptr, w.ptr, bPtr, out.ptr, g, act);
  else if (winogradEligible(g)) winogradForward(rt, x.ptr, w.ptr, bPtr, out.ptr, g, act);
  else conv2dForward(rt, x.ptr, w.ptr, bPtr, out.ptr, g, act);
}

/**
 * gx (N, C, H, W) = the transposed convolution of gy (N, O, OH, OW) with w: for a 3x3 stride-1 conv
 * a conv of gy with w flipped and transposed, through Winograd where winogradEligible takes it;
 * else one GEMM per stride phase (gemm.ts).
 */
export function conv2dGradInputWasm(rt: WasmRuntimeImpl, gy: ConvBlock, w: ConvBlock, gx: ConvBlock, g: ConvGeometry) {
  // the conv of gy that gives gx (its padding 2 - p is only a conv's for p <= 2: winogradApplies(g))
  const gi = winogradApplies(g) ? winogradGradInputGeometry(g) : null;
  if (gi && winogradF4Eligible(gi)) winogradF4GradInput(rt, gy.ptr, w.ptr, gx.ptr, g);
  else if (gi && winogradEligible(gi)) winogradGradInput(rt, gy.ptr, w.ptr, gx.ptr, g);
  else conv2dGradInput(rt, gy.ptr, w.ptr, gx.ptr, g);
}

/** gw (O, C/groups, kh, kw) = sum over the batch of gy_g (og, P) · im2col(x)^T (P, CK), as one GEMM (gemm.ts) */
export function conv2dGradWeightWasm(rt: WasmRuntimeImpl, x: ConvBlock, gy: ConvBlock, gw: ConvBlock, g: ConvGeometry) {
  // 3x3 stride-1 convs Winograd takes: F(4x4, 3x3) (winograd_grad_weight_f4.ts), else F(2x2, 3x3)
  if (winogradGradWeightF4Eligible(g)) winogradGradWeightF4(rt, x.ptr, gy.ptr, gw.ptr, g);
  else if (winogradGradWeightEligible(g)) winogradGradWeight(rt, x.ptr, gy.ptr, gw.ptr, g);
  else conv2dGradWeight(rt, x.ptr, gy.ptr, gw.ptr, g);
}
