// Ultralytics' RandomHSV on uint8 RGB: cv2.cvtColor(BGR2HSV) -> one lookup table per channel ->
// cv2.cvtColor(HSV2BGR), with OpenCV's 8-bit conversions reproduced exactly (OpenCV 4.x
// imgproc/color_hsv): hue in [0, 180), saturation and value in [0, 255].
//
// - RGB -> HSV (RGB2HSV_b): integer arithmetic with 12-bit fixed-point reciprocal tables,
//     v = max, s = round(diff * 255 / v), h = round(sector offset * 180 / (6 * diff)) (+180 if < 0).
// - HSV -> RGB (HSV2RGB_b): float32 math on h * (6/180), s / 255, v / 255, then x * 255 to an
//   integer: truncated in OpenCV's SIMD blocks, rounded in the scalar tail of a row (see hsvToRgb).
//   Every float operation is rounded to float32 here (Math.fround) as in OpenCV.
//
// Imports: ./image.ts types only.

import type { RgbImage } from './image.js';

const HSV_SHIFT = 12;

/** cvRound / saturate_cast<int>(double): round half to even. */
function cvRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// sdiv[v] = 255 * 2^12 / v and hdiv[d] = 180 * 2^12 / (6 d), rounded (OpenCV's static tables).
const SDIV = new Int32Array(256);
const HDIV = new Int32Array(256);
for (let i = 1; i < 256; i++) {
  SDIV[i] = cvRound((255 << HSV_SHIFT) / i);
  HDIV[i] = cvRound((180 << HSV_SHIFT) / (6 * i));
}

/** cv2.cvtColor(img, COLOR_RGB2HSV) for 3-channel uint8 data (HWC in, HWC out: H, S, V). */
export function rgbToHsv(rgb: Uint8Array, out: Uint8Array = new Uint8Array(rgb.length)): Uint8Array {
  const half = 1 << (HSV_SHIFT - 1);
  for (let i = 0; i < rgb.length; i += 3) {
    const r = rgb[i], g = rgb[i + 1], b = rgb[i + 2];
    const v = Math.max(r, g, b);
    const diff = v - Math.min(r, g, b);
    const s = (diff * SDIV[v] + half) >> HSV_SHIFT;
    // the sector offset: from red (g - b), green (b - r + 2 diff) or blue (r - g + 4 diff); red wins ties
    let h = v === r ? g - b : v === g ? b - r + 2 * diff : r - g + 4 * diff;
    h = (h * HDIV[diff] + half) >> HSV_SHIFT;
    if (h < 0) h += 180;
    out[i] = h;
    out[i + 1] = s;
    out[i + 2] = v;
  }
  return out;
}

const f = Math.fround;
const HSCALE = f(6 / 180);
const INV255 = f(1 / 255);
// which of (v, p, q, t) goes to (b, g, r) in each of the six hue sectors (OpenCV's sector_data)
const SECTOR = [[1, 3, 0], [1, 0, 2], [3, 0, 1], [0, 2, 1], [0, 1, 3], [2, 1, 0]];

/**
 * Pixels per SIMD step of OpenCV's HSV2RGB_b: 4 float32 vectors, 8 lanes each on AVX2 builds (the
 * x86 dispatch pip's and Debian's OpenCV pick on current CPUs).
 */
export const HSV2RGB_SIMD_PIXELS = 32;

/**
 * cv2.cvtColor(hsv, COLOR_HSV2RGB) for 3-channel uint8 data, hue in [0, 180), row by row.
 * OpenCV converts each row in SIMD blocks of HSV2RGB_SIMD_PIXELS, which truncate x * 255 to an
 * integer, and finishes the row's remaining pixels with scalar code, which rounds it. Rows of a
 * multiple of 32 pixels (every training image: imgsz is a multiple of the stride) are all truncated.
 */
export function hsvToRgb(hsv: Uint8Array, width: number, out: Uint8Array = new Uint8Array(hsv.length)): Uint8Array {
  const tab = new Float32Array(4);
  const simdEnd = Math.floor(width / HSV2RGB_SIMD_PIXELS) * HSV2RGB_SIMD_PIXELS;
  for (let i = 0, x = 0; i < hsv.length; i += 3, x = x + 1 === width ? 0 : x + 1) {
    let h = f(hsv[i] * HSCALE);
    const s = f(hsv[i + 1] * INV255), v = f(hsv[i + 2] * INV255);
    let sector = Math.floor(h);
    h = f(h - sector);
    if (sector >= 6) (sector = 0), (h = 0);
    const simd = x < simdEnd;
    // GCC contracts `1 - s * x` into one fused multiply-add (a single rounding) in OpenCV's AVX2
    // build: for both terms in the SIMD blocks, only for q in the scalar tail (found by testing
    // every (h, s, v) against cv2 4.6; see test/data/augment.test.ts).
    tab[0] = v;
    tab[1] = f(v * f(1 - s));
    tab[2] = f(v * f(1 - s * h));
    const h1 = f(1 - h);
    tab[3] = f(v * (simd ? f(1 - s * h1) : f(1 - f(s * h1))));
    const sec = SECTOR[sector];
    const r = f(tab[sec[2]] * 255), g = f(tab[sec[1]] * 255), b = f(tab[sec[0]] * 255);
    // values lie in [0, 255.0001]: clamp above
    out[i] = Math.min(255, simd ? Math.trunc(r) : cvRound(r));
    out[i + 1] = Math.min(255, simd ? Math.trunc(g) : cvRound(g));
    out[i + 2] = Math.min(255, simd ? Math.trunc(b) : cvRound(b));
  }
  return out;
}

/**
 * The three lookup tables of RandomHSV for gains r = 1 + U(-1, 1) * (hgain, sgain, vgain), in
 * float64 as numpy: hue (x * r0) % 180, saturation and value clip(x * r, 0, 255), truncated to uint8.
 */
export function hsvLuts(r: [number, number, number]): [Uint8Array, Uint8Array, Uint8Array] {
  const hue = new Uint8Array(256), sat = new Uint8Array(256), val = new Uint8Array(256);
  for (let x = 0; x < 256; x++) {
    hue[x] = Math.trunc((x * r[0]) % 180);
    sat[x] = Math.trunc(Math.min(Math.max(x * r[1], 0), 255));
    val[x] = Math.trunc(Math.min(Math.max(x * r[2], 0), 255));
  }
  return [hue, sat, val];
}

/** Applies the three LUTs in HSV space, in place: RGB -> HSV -> LUT -> RGB. */
export function applyHsvLuts(img: RgbImage, luts: [Uint8Array, Uint8Array, Uint8Array]): void {
  const hsv = rgbToHsv(img.data);
  const [lh, ls, lv] = luts;
  for (let i = 0; i < hsv.length; i += 3) {
    hsv[i] = lh[hsv[i]];
    hsv[i + 1] = ls[hsv[i + 1]];
    hsv[i + 2] = lv[hsv[i + 2]];
  }
  hsvToRgb(hsv, img.width, img.data);
}

/**
 * RandomHSV(hgain, sgain, vgain): draws the three gains (np.random.uniform(-1, 1, 3)) from `rand`
 * and recolours the image in place. Nothing is drawn when all gains are 0.
 */
export function randomHSV(img: RgbImage, hgain: number, sgain: number, vgain: number, rand: () => number): void {
  if (!hgain && !sgain && !vgain) return;
  const r: [number, number, number] = [hgain, sgain, vgain].map((g) => (rand() * 2 - 1) * g + 1) as [number, number, number];
  applyHsvLuts(img, hsvLuts(r));
}
