// Box geometry for the loss and the assigner (Ultralytics 8.2 utils/metrics.py bbox_iou with CIoU,
// utils/tal.py bbox2dist, utils/ops.py xywh2xyxy), in two forms:
//  - on engine tensors, differentiable, for the box loss;
//  - on plain numbers, for the assigner, which runs on the host without gradients.
// Both follow Ultralytics' formula term by term, eps = 1e-7 included, so they agree to rounding.
import { Tensor, add, atan, clamp, div, maximum, minimum, mul, narrow, noGrad, sub } from '../../engine/index.js';

const EPS = 1e-7;
const FOUR_OVER_PI2 = 4 / Math.PI ** 2;

/**
 * Complete IoU of xyxy boxes whose 4 coordinates lie along `axis` (any other shape, broadcast):
 *   CIoU = IoU - (ρ² / c² + v·α),  v = 4/π² (atan(w2/h2) - atan(w1/h1))²,  α = v / (v - IoU + 1 + eps)
 * where ρ is the distance between the centres and c the diagonal of the enclosing box. As in
 * Ultralytics, α is a constant for the gradient (computed without grad), and eps is added to
 * both heights. Returns the boxes' shape with size 1 along `axis`.
 */
export function bboxCiou(box1: Tensor, box2: Tensor, axis = -1): Tensor {
  const ax = axis < 0 ? axis + box1.ndim : axis;
  if (box1.shape[ax] !== 4 || box2.shape[box2.ndim - box1.ndim + ax] !== 4)
    throw new Error(
      `bboxCiou: boxes need 4 coordinates along axis ${axis}, got shapes [${box1.shape}] and [${box2.shape}]`,
    );
  const col = (b: Tensor, i: number) => narrow(b, ax - box1.ndim + b.ndim, i, 1);
  const [ax1, ay1, ax2, ay2] = [0, 1, 2, 3].map((i) => col(box1, i));
  const [bx1, by1, bx2, by2] = [0, 1, 2, 3].map((i) => col(box2, i));
  const w1 = sub(ax2, ax1),
    h1 = add(sub(ay2, ay1), EPS);
  const w2 = sub(bx2, bx1),
    h2 = add(sub(by2, by1), EPS);
  const iw = clamp(sub(minimum(ax2, bx2), maximum(ax1, bx1)), 0);
  const ih = clamp(sub(minimum(ay2, by2), maximum(ay1, by1)), 0);
  const inter = mul(iw, ih);
  const union = add(sub(add(mul(w1, h1), mul(w2, h2)), inter), EPS);
  const iou = div(inter, union);
  // enclosing box diagonal² and centre distance²
  const cw = sub(maximum(ax2, bx2), minimum(ax1, bx1));
  const ch = sub(maximum(ay2, by2), minimum(ay1, by1));
  const c2 = add(add(mul(cw, cw), mul(ch, ch)), EPS);
  const dx = sub(sub(add(bx1, bx2), ax1), ax2),
    dy = sub(sub(add(by1, by2), ay1), ay2);
  const rho2 = div(add(mul(dx, dx), mul(dy, dy)), 4);
  const dAtan = sub(atan(div(w2, h2)), atan(div(w1, h1)));
  const v = mul(mul(dAtan, dAtan), FOUR_OVER_PI2);
  const alpha = noGrad(() => div(v.detach(), add(sub(v.detach(), iou.detach()), 1 + EPS)));
  return sub(iou, add(div(rho2, c2), mul(v, alpha)));
}

/** The same CIoU for one pair of xyxy boxes given as numbers (the assigner's overlaps). */
export function ciouHost(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number): number {
  const ax1 = a[ai],
    ay1 = a[ai + 1],
    ax2 = a[ai + 2],
    ay2 = a[ai + 3];
  const bx1 = b[bi],
    by1 = b[bi + 1],
    bx2 = b[bi + 2],
    by2 = b[bi + 3];
  const w1 = ax2 - ax1,
    h1 = ay2 - ay1 + EPS;
  const w2 = bx2 - bx1,
    h2 = by2 - by1 + EPS;
  const inter =
    Math.max(Math.min(ax2, bx2) - Math.max(ax1, bx1), 0) * Math.max(Math.min(ay2, by2) - Math.max(ay1, by1), 0);
  const union = w1 * h1 + w2 * h2 - inter + EPS;
  const iou = inter / union;
  const cw = Math.max(ax2, bx2) - Math.min(ax1, bx1);
  const ch = Math.max(ay2, by2) - Math.min(ay1, by1);
  const c2 = cw * cw + ch * ch + EPS;
  const rho2 = ((bx1 + bx2 - ax1 - ax2) ** 2 + (by1 + by2 - ay1 - ay2) ** 2) / 4;
  const v = FOUR_OVER_PI2 * (Math.atan(w2 / h2) - Math.atan(w1 / h1)) ** 2;
  const alpha = v / (v - iou + (1 + EPS));
  return iou - (rho2 / c2 + v * alpha);
}

/** Normalized or pixel xywh → xyxy, n boxes of 4 numbers each, scaled by (sx, sy). */
export function xywhToXyxy(xywh: ArrayLike<number>, n: number, sx = 1, sy = 1): Float32Array {
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    // Ultralytics scales first (in float32), then takes half sizes
    const x = Math.fround(xywh[4 * i] * sx),
      y = Math.fround(xywh[4 * i + 1] * sy);
    const hw = Math.fround(xywh[4 * i + 2] * sx) / 2,
      hh = Math.fround(xywh[4 * i + 3] * sy) / 2;
    out[4 * i] = x - hw;
    out[4 * i + 1] = y - hh;
    out[4 * i + 2] = x + hw;
    out[4 * i + 3] = y + hh;
  }
  return out;
}

/**
 * bbox2dist for one anchor: distances (left, top, right, bottom) from the anchor point to the xyxy
 * box at `b[bi..bi+3]`, clamped to [0, regMax - 1 - 0.01] as the DFL targets (Ultralytics clamps
 * to reg_max - 0.01 with reg_max = 15 in bbox2dist, then again in DFLoss: the same bound).
 */
export function bboxToDistHost(
  px: number,
  py: number,
  b: ArrayLike<number>,
  bi: number,
  regMax: number,
  out: Float32Array,
  oi: number,
) {
  const hi = Math.fround(regMax - 1 - 0.01);
  const d = [px - b[bi], py - b[bi + 1], b[bi + 2] - px, b[bi + 3] - py];
  for (let s = 0; s < 4; s++) out[oi + s] = Math.min(Math.max(Math.fround(d[s]), 0), hi);
}
