// cv2.resize for 8-bit interleaved images, reproduced bit for bit (OpenCV 4.x, imgproc/resize.cpp,
// the non-IPP path that Debian's and pip's OpenCV builds take for INTER_LINEAR on uint8):
//
// - INTER_LINEAR maps destination pixel centres to the source with (d + 0.5) * scale - 0.5,
//   computed in double and then rounded to float32 (OpenCV stores it in a float).
// - Weights are fixed point, INTER_RESIZE_COEF_BITS = 11: each of (1 - f, f) is rounded to
//   2048ths separately (round half to even). Past the left/right edge the source column is
//   clamped and its weight forced to (2048, 0); rows are clamped but keep their computed weights.
// - Horizontal pass: exact int sums S = a0 * p0 + a1 * p1 (up to 255 * 2048).
// - Vertical pass: OpenCV's 8-bit kernel drops 4 bits before multiplying by the 16-bit row
//   weights, keeps the high 16 bits of each product and rounds the last 2 bits:
//     ((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16) + 2) >> 2
//   (same result from its SIMD and scalar code), which is not always round(S / 2^22).
// - Exact 2x downscale in both directions is switched to INTER_AREA by OpenCV: the mean of each
//   2x2 block, (a + b + c + d + 2) >> 2.
// - Same size: plain copy.
//
// Works on any channel count (channels = data.length / (width * height)). No project imports.

import type { Pixels } from './exif.js';
import { roundHalfEven } from '../../engine/math.js'; // OpenCV's saturate_cast<short>(float) / cvRound

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

/** Per destination index along one axis: source index and the two fixed-point weights. */
interface AxisTable {
  index: Int32Array; // first source index (not yet clamped for rows)
  w0: Int32Array;
  w1: Int32Array;
}

/**
 * The coefficient tables of cv::hal::resize for INTER_LINEAR. `clampWeights` is true for the x
 * axis (where OpenCV resets f to 0 outside the image) and false for y (rows are clamped later).
 */
function linearTable(srcSize: number, dstSize: number, clampWeights: boolean): AxisTable {
  const invScale = dstSize / srcSize;
  const scale = 1 / invScale; // OpenCV derives the scale from the inverse, keep its rounding
  const t: AxisTable = { index: new Int32Array(dstSize), w0: new Int32Array(dstSize), w1: new Int32Array(dstSize) };
  for (let d = 0; d < dstSize; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (clampWeights && s < 0) {
      f = 0;
      s = 0;
    }
    if (clampWeights && s >= srcSize - 1) {
      f = 0;
      s = srcSize - 1;
    }
    t.index[d] = s;
    t.w0[d] = roundHalfEven(Math.fround(1 - f) * COEF_SCALE);
    t.w1[d] = roundHalfEven(f * COEF_SCALE);
  }
  return t;
}

/** cv2.resize(img, (dstW, dstH), interpolation=cv2.INTER_LINEAR) on uint8 data. */
export function resizeBilinear<T extends Pixels>(img: T, dstW: number, dstH: number): T {
  const { width: sw, height: sh, data } = img;
  if (!(dstW >= 1 && dstH >= 1) || !Number.isInteger(dstW) || !Number.isInteger(dstH)) {
    throw new Error(`resizeBilinear: bad target size ${dstW}x${dstH}`);
  }
  if (dstW === sw && dstH === sh) return { ...img, data: new Uint8Array(data) }; // a copy, even of a Buffer
  const c = data.length / (sw * sh);
  const scaleX = 1 / (dstW / sw);
  const scaleY = 1 / (dstH / sh);
  if (Math.abs(scaleX - 2) < Number.EPSILON && Math.abs(scaleY - 2) < Number.EPSILON) {
    return { ...img, width: dstW, height: dstH, data: halve(data, sw, dstW, dstH, c) };
  }

  const xt = linearTable(sw, dstW, true);
  const yt = linearTable(sh, dstH, false);
  const rowLen = dstW * c;
  // Source column offsets (in elements) and weights, expanded per channel.
  const xo = new Int32Array(rowLen);
  const a0 = new Int32Array(rowLen);
  const a1 = new Int32Array(rowLen);
  for (let dx = 0; dx < dstW; dx++) {
    for (let k = 0; k < c; k++) {
      const i = dx * c + k;
      xo[i] = xt.index[dx] * c + k;
      a0[i] = xt.w0[dx];
      a1[i] = xt.w1[dx];
    }
  }
  // Horizontal pass of one source row, cached because consecutive output rows share rows.
  const cache = new Map<number, Int32Array>();
  const hrow = (sy: number): Int32Array => {
    let row = cache.get(sy);
    if (row) return row;
    row = new Int32Array(rowLen);
    const base = sy * sw * c;
    for (let i = 0; i < rowLen; i++) {
      const p = base + xo[i];
      // At the right edge a1 is 0 and p + c may be past the row: skip the read.
      row[i] = a1[i] === 0 ? data[p] * a0[i] : data[p] * a0[i] + data[p + c] * a1[i];
    }
    if (cache.size >= 4) cache.delete(cache.keys().next().value as number);
    cache.set(sy, row);
    return row;
  };

  const out = new Uint8Array(dstH * rowLen);
  for (let dy = 0; dy < dstH; dy++) {
    const sy = yt.index[dy];
    const r0 = hrow(Math.min(Math.max(sy, 0), sh - 1));
    const r1 = hrow(Math.min(Math.max(sy + 1, 0), sh - 1));
    const b0 = yt.w0[dy];
    const b1 = yt.w1[dy];
    const o = dy * rowLen;
    for (let i = 0; i < rowLen; i++) {
      const v = (((b0 * (r0[i] >> 4)) >> 16) + ((b1 * (r1[i] >> 4)) >> 16) + 2) >> 2;
      out[o + i] = v > 255 ? 255 : v; // OpenCV's SIMD pack saturates
    }
  }
  return { ...img, width: dstW, height: dstH, data: out };
}

/** OpenCV's INTER_AREA fast path for an exact 2x2 reduction. */
function halve(data: Uint8Array, sw: number, dw: number, dh: number, c: number): Uint8Array {
  const out = new Uint8Array(dw * dh * c);
  const stride = sw * c;
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      for (let k = 0; k < c; k++) {
        const p = 2 * y * stride + 2 * x * c + k;
        out[(y * dw + x) * c + k] = (data[p] + data[p + c] + data[p + stride] + data[p + stride + c] + 2) >> 2;
      }
    }
  }
  return out;
}

/** cv2.resize(..., interpolation=cv2.INTER_NEAREST): source index floor(d * src / dst). */
export function resizeNearest<T extends Pixels>(img: T, dstW: number, dstH: number): T {
  const { width: sw, height: sh, data } = img;
  const c = data.length / (sw * sh);
  const fx = 1 / (dstW / sw);
  const fy = 1 / (dstH / sh);
  const xo = new Int32Array(dstW);
  for (let x = 0; x < dstW; x++) xo[x] = Math.min(Math.floor(x * fx), sw - 1) * c;
  const out = new Uint8Array(dstW * dstH * c);
  for (let y = 0; y < dstH; y++) {
    const sy = Math.min(Math.floor(y * fy), sh - 1);
    const base = sy * sw * c;
    for (let x = 0; x < dstW; x++) {
      const d = (y * dstW + x) * c;
      for (let k = 0; k < c; k++) out[d + k] = data[base + xo[x] + k];
    }
  }
  return { ...img, width: dstW, height: dstH, data: out };
}
