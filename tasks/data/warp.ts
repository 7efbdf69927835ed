// cv2.warpAffine (and warpPerspective) with flags=INTER_LINEAR, borderMode=BORDER_CONSTANT on
// uint8 images, reproduced the way OpenCV 4.x (imgproc/imgwarp.cpp, before the 4.11 rewrite) does it:
//
// - M (source -> destination) is inverted in double precision.
// - Each destination pixel maps to a source position in fixed point with 10 fractional bits
//   (AB_BITS): per column a = round(M00 * x * 1024), per row round((M01 * y + M02) * 1024) + 16;
//   the sum is shifted down to 5 fractional bits (INTER_BITS): integer part and a 1/32 fraction.
// - Bilinear weights for the 1/32 fractions in 15-bit fixed point (sum 32768), the weighted sum of
//   the 2x2 neighbours rounded with (s + 16384) >> 15.
// - Neighbours outside the source take the border value; a position whose 2x2 block is entirely
//   outside gives the border value.
//
// Imports: ./exif.ts types only.

import type { Pixels } from './exif.js';

/** A 2x3 affine matrix, row-major: [m00, m01, m02, m10, m11, m12]. */
export type Affine = [number, number, number, number, number, number];

const AB_BITS = 10;
const AB_SCALE = 1 << AB_BITS;
const INTER_BITS = 5;
const INTER_TAB_SIZE = 1 << INTER_BITS;
const ROUND_DELTA = AB_SCALE / INTER_TAB_SIZE / 2; // 16
const COEF_BITS = 15;

/** cvRound / saturate_cast<int>(double): round half to even. */
function cvRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The inverse of a 2x3 affine (destination -> source), as warpAffine computes it. */
export function invertAffine(m: Affine): Affine {
  let d = m[0] * m[4] - m[1] * m[3];
  d = d !== 0 ? 1 / d : 0;
  const a11 = m[4] * d, a22 = m[0] * d, a12 = -m[1] * d, a21 = -m[3] * d;
  return [a11, a12, -a11 * m[2] - a12 * m[5], a21, a22, -a21 * m[2] - a22 * m[5]];
}

/**
 * remap with INTER_LINEAR for one destination pixel: source position X, Y in 1/32 pixels.
 * Writes cn values at out[o].
 */
function sampleBilinear(src: Uint8Array, W: number, H: number, cn: number, X: number, Y: number, out: Uint8Array, o: number, borderValue: number): void {
  const sx = X >> INTER_BITS, sy = Y >> INTER_BITS;
  if (sx >= W || sx + 1 < 0 || sy >= H || sy + 1 < 0) {
    out.fill(borderValue, o, o + cn);
    return;
  }
  const fx = X & (INTER_TAB_SIZE - 1), fy = Y & (INTER_TAB_SIZE - 1);
  // exact products of (1 - f, f) in 1/32 steps, scaled to 2^15: they sum to 32768
  const w0 = (INTER_TAB_SIZE - fy) * (INTER_TAB_SIZE - fx) * 32, w1 = (INTER_TAB_SIZE - fy) * fx * 32;
  const w2 = fy * (INTER_TAB_SIZE - fx) * 32, w3 = fy * fx * 32;
  const in0 = sx >= 0, in1 = sx + 1 < W, inY0 = sy >= 0, inY1 = sy + 1 < H;
  const row = W * cn, p = sy * row + sx * cn;
  for (let k = 0; k < cn; k++) {
    const v0 = in0 && inY0 ? src[p + k] : borderValue;
    const v1 = in1 && inY0 ? src[p + cn + k] : borderValue;
    const v2 = in0 && inY1 ? src[p + row + k] : borderValue;
    const v3 = in1 && inY1 ? src[p + row + cn + k] : borderValue;
    out[o + k] = (v0 * w0 + v1 * w1 + v2 * w2 + v3 * w3 + (1 << (COEF_BITS - 1))) >> COEF_BITS;
  }
}

/**
 * cv2.warpAffine(img, M, (dstW, dstH), borderValue=(v, v, v)) with INTER_LINEAR. Any channel count.
 * Returns a new image of dstW x dstH.
 */
export function warpAffine<T extends Pixels>(img: T, M: Affine, dstW: number, dstH: number, borderValue = 114): T {
  const { width: W, height: H, data: src } = img;
  const cn = src.length / (W * H);
  const out = new Uint8Array(dstW * dstH * cn);
  const [i00, i01, i02, i10, i11, i12] = invertAffine(M);
  const adelta = new Int32Array(dstW), bdelta = new Int32Array(dstW);
  for (let x = 0; x < dstW; x++) {
    adelta[x] = cvRound(i00 * x * AB_SCALE);
    bdelta[x] = cvRound(i10 * x * AB_SCALE);
  }
  const shift = AB_BITS - INTER_BITS, mask = INTER_TAB_SIZE - 1, half = 1 << (COEF_BITS - 1), row = W * cn;
  for (let y = 0; y < dstH; y++) {
    const X0 = cvRound((i01 * y + i02) * AB_SCALE) + ROUND_DELTA;
    const Y0 = cvRound((i11 * y + i12) * AB_SCALE) + ROUND_DELTA;
    for (let x = 0; x < dstW; x++) {
      const X = (X0 + adelta[x]) >> shift, Y = (Y0 + bdelta[x]) >> shift;
      const sx = X >> INTER_BITS, sy = Y >> INTER_BITS, o = (y * dstW + x) * cn;
      if (sx < 0 || sy < 0 || sx >= W - 1 || sy >= H - 1) {
        sampleBilinear(src, W, H, cn, X, Y, out, o, borderValue); // touches the border
        continue;
      }
      // all four neighbours inside: the same sum without the border checks
      const fx = X & mask, fy = Y & mask;
      const w0 = (32 - fy) * (32 - fx) * 32, w1 = (32 - fy) * fx * 32, w2 = fy * (32 - fx) * 32, w3 = fy * fx * 32;
      const p = sy * row + sx * cn;
      for (let k = 0; k < cn; k++)
        out[o + k] = (src[p + k] * w0 + src[p + cn + k] * w1 + src[p + row + k] * w2 + src[p + row + cn + k] * w3 + half) >> COEF_BITS;
    }
  }
  return { ...img, width: dstW, height: dstH, data: out };
}

/** cv::invert of a 3x3 (its closed form for small matrices, in double). */
function invert3(m: number[]): number[] {
  const [a, b, c, d, e, g, h, i, j] = m;
  let det = a * (e * j - g * i) - b * (d * j - g * h) + c * (d * i - e * h);
  det = det !== 0 ? 1 / det : 0;
  return [(e * j - g * i) * det, (c * i - b * j) * det, (b * g - c * e) * det, (g * h - d * j) * det, (a * j - c * h) * det,
    (c * d - a * g) * det, (d * i - e * h) * det, (b * h - a * i) * det, (a * e - b * d) * det];
}

/**
 * cv2.warpPerspective(img, M, (dstW, dstH), borderValue) with INTER_LINEAR (M is 3x3 row-major).
 * Positions are computed in double per pixel (OpenCV's 128-column blocks kept for the rounding)
 * and sampled like warpAffine.
 */
export function warpPerspective<T extends Pixels>(img: T, M: number[], dstW: number, dstH: number, borderValue = 114): T {
  const { width: W, height: H, data: src } = img;
  const cn = src.length / (W * H);
  const out = new Uint8Array(dstW * dstH * cn);
  const m = invert3(M);
  const bh0 = Math.min(32, dstH), bw0 = Math.min(Math.floor(4096 / bh0), dstW);
  const clampInt = (v: number) => cvRound(Math.max(-2147483648, Math.min(2147483647, v)));
  for (let y = 0; y < dstH; y++)
    for (let x = 0; x < dstW; x++) {
      const xb = x - (x % bw0), x1 = x - xb;
      const X0 = m[0] * xb + m[1] * y + m[2], Y0 = m[3] * xb + m[4] * y + m[5], W0 = m[6] * xb + m[7] * y + m[8];
      let w = W0 + m[6] * x1;
      w = w ? INTER_TAB_SIZE / w : 0;
      sampleBilinear(src, W, H, cn, clampInt((X0 + m[0] * x1) * w), clampInt((Y0 + m[3] * x1) * w), out, (y * dstW + x) * cn, borderValue);
    }
  return { ...img, width: dstW, height: dstH, data: out };
}
