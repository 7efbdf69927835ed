// Drawing on an RGB image in place: box outlines, filled rectangles, anti-aliased filled circles
// and thick lines, and text in the 5x7 bitmap font. Enough to draw Ultralytics-style annotations
// without a graphics library. Coordinates are pixels, (0, 0) the top-left pixel's centre, as in
// OpenCV; everything is clipped to the image.
//
// Imports: ../data/image (the RgbImage type), ./font.

import type { RgbImage } from '../data/image.js';
import { CELL_W, GLYPH_H, GLYPH_W, glyphPixel } from './font.js';

export type RGB = readonly [number, number, number];

/** Mixes `color` into pixel (x, y) with weight `a` in [0, 1]. */
export function blendPixel(img: RgbImage, x: number, y: number, color: RGB, a = 1): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height || a <= 0) return;
  const o = (y * img.width + x) * 3;
  if (a >= 1) {
    img.data[o] = color[0];
    img.data[o + 1] = color[1];
    img.data[o + 2] = color[2];
    return;
  }
  for (let k = 0; k < 3; k++) img.data[o + k] = Math.round(img.data[o + k] * (1 - a) + color[k] * a);
}

/** Fills the rectangle with corners (x1, y1) and (x2, y2), both inclusive (cv2 thickness -1). */
export function fillRect(img: RgbImage, x1: number, y1: number, x2: number, y2: number, color: RGB): void {
  const xa = Math.max(0, Math.round(Math.min(x1, x2)));
  const xb = Math.min(img.width - 1, Math.round(Math.max(x1, x2)));
  const ya = Math.max(0, Math.round(Math.min(y1, y2)));
  const yb = Math.min(img.height - 1, Math.round(Math.max(y1, y2)));
  for (let y = ya; y <= yb; y++) for (let x = xa; x <= xb; x++) blendPixel(img, x, y, color);
}

/** A box outline `thickness` pixels wide, centred on the edges as cv2.rectangle draws it. */
export function strokeRect(
  img: RgbImage,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  color: RGB,
  thickness = 1,
): void {
  const lo = Math.floor(thickness / 2);
  const hi = thickness - 1 - lo;
  fillRect(img, x1 - lo, y1 - lo, x2 + hi, y1 + hi, color); // top
  fillRect(img, x1 - lo, y2 - lo, x2 + hi, y2 + hi, color); // bottom
  fillRect(img, x1 - lo, y1 - lo, x1 + hi, y2 + hi, color); // left
  fillRect(img, x2 - lo, y1 - lo, x2 + hi, y2 + hi, color); // right
}

/** A filled circle with an anti-aliased edge (coverage from the distance to the rim). */
export function fillCircle(img: RgbImage, cx: number, cy: number, radius: number, color: RGB): void {
  const r = Math.max(radius, 0.5);
  for (let y = Math.floor(cy - r - 1); y <= Math.ceil(cy + r + 1); y++) {
    for (let x = Math.floor(cx - r - 1); x <= Math.ceil(cx + r + 1); x++) {
      const d = Math.hypot(x - cx, y - cy);
      blendPixel(img, x, y, color, Math.min(1, Math.max(0, r + 0.5 - d)));
    }
  }
}

/** A line `thickness` pixels wide with round ends and anti-aliased edges. */
export function drawLine(
  img: RgbImage,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  color: RGB,
  thickness = 1,
): void {
  const half = Math.max(thickness, 1) / 2;
  const dx = x2 - x1,
    dy = y2 - y1;
  const len2 = dx * dx + dy * dy;
  const pad = half + 1;
  const xa = Math.max(0, Math.floor(Math.min(x1, x2) - pad)),
    xb = Math.min(img.width - 1, Math.ceil(Math.max(x1, x2) + pad));
  const ya = Math.max(0, Math.floor(Math.min(y1, y2) - pad)),
    yb = Math.min(img.height - 1, Math.ceil(Math.max(y1, y2) + pad));
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      // distance from the pixel centre to the segment
      const t = len2 === 0 ? 0 : Math.min(1, Math.max(0, ((x - x1) * dx + (y - y1) * dy) / len2));
      const d = Math.hypot(x - (x1 + t * dx), y - (y1 + t * dy));
      blendPixel(img, x, y, color, Math.min(1, Math.max(0, half + 0.5 - d)));
    }
  }
}

/** Width and height in pixels of `text` drawn at integer `scale` (each font pixel = scale x scale). */
export function textSize(text: string, scale: number): [number, number] {
  const s = Math.max(1, Math.round(scale));
  return [text.length ? (text.length * CELL_W - (CELL_W - GLYPH_W)) * s : 0, GLYPH_H * s];
}

/** Draws `text` with its top-left corner at (x, y). */
export function drawText(img: RgbImage, x: number, y: number, text: string, color: RGB, scale = 1): void {
  const s = Math.max(1, Math.round(scale));
  const x0 = Math.round(x),
    y0 = Math.round(y);
  for (let i = 0; i < text.length; i++) {
    for (let col = 0; col < GLYPH_W; col++) {
      for (let row = 0; row < GLYPH_H; row++) {
        if (!glyphPixel(text[i], col, row)) continue;
        const px = x0 + (i * CELL_W + col) * s,
          py = y0 + row * s;
        for (let v = 0; v < s; v++) for (let u = 0; u < s; u++) blendPixel(img, px + u, py + v, color);
      }
    }
  }
}
