// Small picture-composition helpers for make_figures.ts, on top of the project's own drawing code
// (tasks/plot/canvas.ts, font.ts): blank canvases, pasting, captions, side-by-side panels, bar charts.
import type { RgbImage } from '../../tasks/data/image.js';
import { resizeBilinear } from '../../tasks/data/resize.js';
import { drawText, fillRect, strokeRect, textSize, type RGB } from '../../tasks/plot/canvas.js';

export const WHITE: RGB = [255, 255, 255];
export const BLACK: RGB = [0, 0, 0];
export const GREY: RGB = [150, 150, 150];
/** One colour per pyramid level: P3 (stride 8), P4 (16), P5 (32), P6 (64). */
export const LEVEL_COLORS: RGB[] = [
  [255, 56, 56],
  [44, 153, 168],
  [255, 178, 29],
  [132, 56, 255],
];

export function blank(width: number, height: number, color: RGB = WHITE): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let k = 0; k < width * height; k++) data.set(color, k * 3);
  return { width, height, data };
}

export function copy(img: RgbImage): RgbImage {
  return { width: img.width, height: img.height, data: img.data.slice() };
}

/** Copies `src` into `dst` with its top-left corner at (x, y), clipped. */
export function paste(dst: RgbImage, src: RgbImage, x: number, y: number): void {
  for (let v = 0; v < src.height; v++) {
    const dy = y + v;
    if (dy < 0 || dy >= dst.height) continue;
    for (let u = 0; u < src.width; u++) {
      const dx = x + u;
      if (dx < 0 || dx >= dst.width) continue;
      const s = (v * src.width + u) * 3,
        d = (dy * dst.width + dx) * 3;
      dst.data[d] = src.data[s];
      dst.data[d + 1] = src.data[s + 1];
      dst.data[d + 2] = src.data[s + 2];
    }
  }
}

/** Mixes every pixel toward `color` by `a` (to dim a photo under a drawing). */
export function wash(img: RgbImage, a: number, color: RGB = WHITE): RgbImage {
  const out = copy(img);
  for (let k = 0; k < out.data.length; k++) out.data[k] = Math.round(out.data[k] * (1 - a) + color[k % 3] * a);
  return out;
}

export function scaleTo(img: RgbImage, width: number): RgbImage {
  const height = Math.max(1, Math.round((img.height * width) / img.width));
  return resizeBilinear(img, width, height);
}

/** `img` with `lines` of text in a white band above it (font pixel size `s`). */
export function caption(img: RgbImage, lines: string | string[], s = 2): RgbImage {
  s = Math.max(1, Math.round(s));
  const ls = Array.isArray(lines) ? lines : [lines];
  const lh = (7 + 4) * s;
  const width = Math.max(img.width, ...ls.map((l) => textSize(l, s)[0] + 4 * s));
  const out = blank(width, img.height + ls.length * lh + 2 * s);
  ls.forEach((l, k) => drawText(out, 2 * s, s + k * lh + 2 * s, l, BLACK, s));
  paste(out, img, 0, ls.length * lh + 2 * s);
  return out;
}

/** Images side by side (top-aligned) on white with `gap` pixels between and around them. */
export function hstack(imgs: RgbImage[], gap = 12): RgbImage {
  const width = imgs.reduce((s, i) => s + i.width, 0) + gap * (imgs.length + 1);
  const height = Math.max(...imgs.map((i) => i.height)) + 2 * gap;
  const out = blank(width, height);
  let x = gap;
  for (const i of imgs) {
    paste(out, i, x, gap);
    x += i.width + gap;
  }
  return out;
}

export function vstack(imgs: RgbImage[], gap = 12): RgbImage {
  const width = Math.max(...imgs.map((i) => i.width)) + 2 * gap;
  const height = imgs.reduce((s, i) => s + i.height, 0) + gap * (imgs.length + 1);
  const out = blank(width, height);
  let y = gap;
  for (const i of imgs) {
    paste(out, i, gap, y);
    y += i.height + gap;
  }
  return out;
}

/** A bar chart of `values` (>= 0), one bar per value, with the index under every other bar and a marker at `mark` (in bar units). */
export function barChart(
  values: ArrayLike<number>,
  opts: { width?: number; height?: number; color?: RGB; mark?: number; max?: number } = {},
): RgbImage {
  const { width = 260, height = 150, color = [44, 153, 168] } = opts;
  const n = values.length;
  const img = blank(width, height);
  const left = 6,
    bottom = 14,
    top = 6;
  const plotH = height - bottom - top,
    bw = (width - 2 * left) / n;
  const max = opts.max ?? Math.max(...Array.from(values), 1e-9);
  for (let i = 0; i < n; i++) {
    const h = Math.round((values[i] / max) * plotH);
    fillRect(img, left + i * bw + 1, top + plotH - h, left + (i + 1) * bw - 2, top + plotH, color);
    if (i % 2 === 0) drawText(img, left + i * bw + bw / 2 - (i >= 10 ? 5 : 2), height - 10, String(i), BLACK, 1);
  }
  fillRect(img, left, top + plotH + 1, width - left, top + plotH + 1, BLACK);
  if (opts.mark !== undefined) {
    const x = left + (opts.mark + 0.5) * bw;
    for (let y = top; y <= top + plotH; y += 4) fillRect(img, Math.round(x) - 1, y, Math.round(x), y + 1, BLACK);
  }
  strokeRect(img, 0, 0, width - 1, height - 1, GREY, 1);
  return img;
}
