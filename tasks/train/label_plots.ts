// labels.jpg and labels_correlogram.jpg, drawn before training as Ultralytics' plot_labels does:
// the instances per class, up to 1000 boxes drawn from the image centre (their sizes and shapes),
// and the joint distributions of the normalized box centre x, y, width and height (2-D histograms
// on matplotlib's Blues, 1-D histograms on the correlogram's diagonal).
//
// Imports: ../data (types, writeImage), ../plot/canvas, ../plot/annotator (class colours), ../val/plots (Blues).

import { writeImage, type RgbImage } from '../data/image.js';
import type { LabelEntry } from '../data/labels.js';
import { drawText, fillRect, strokeRect, textSize, type RGB } from '../plot/canvas.js';
import { classColor } from '../plot/annotator.js';
import { blues } from '../val/plots.js';

const BLACK: RGB = [0, 0, 0],
  BAR: RGB = [31, 119, 180];
const blank = (w: number, h: number): RgbImage => ({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(255) });
const VARS = ['x', 'y', 'width', 'height'];

/** Every training label as (cls, x, y, w, h), normalized. */
function table(labels: LabelEntry[]): { cls: number[]; cols: number[][] } {
  const cls: number[] = [],
    cols: number[][] = [[], [], [], []];
  for (const l of labels)
    for (let i = 0; i < l.cls.length; i++) {
      cls.push(l.cls[i]);
      for (let c = 0; c < 4; c++) cols[c].push(l.bboxes[i * 4 + c]);
    }
  return { cls, cols };
}

/** A panel's frame with its axis names; returns the plotting area [x0, y0, size]. */
function frame(
  img: RgbImage,
  px: number,
  py: number,
  size: number,
  xlabel: string,
  ylabel: string,
): [number, number, number] {
  const m = 30,
    s = size - m - 8;
  strokeRect(img, px + m, py + 8, px + m + s, py + 8 + s, BLACK, 1);
  drawText(img, px + m + s / 2 - textSize(xlabel, 1)[0] / 2, py + size - 16, xlabel, BLACK, 1);
  drawText(img, px + 2, py + 8 + s / 2, ylabel.slice(0, 4), BLACK, 1);
  return [px + m, py + 8, s];
}

function hist2d(img: RgbImage, area: [number, number, number], xs: number[], ys: number[], bins = 50) {
  const [x0, y0, s] = area,
    counts = new Float64Array(bins * bins);
  xs.forEach((x, i) => {
    counts[
      Math.min(bins - 1, Math.floor(Math.min(Math.max(ys[i], 0), 1) * bins)) * bins +
        Math.min(bins - 1, Math.floor(Math.min(Math.max(x, 0), 1) * bins))
    ]++;
  });
  const max = Math.max(1, ...counts),
    cw = s / bins;
  for (let r = 0; r < bins; r++)
    for (let c = 0; c < bins; c++) {
      const v = counts[r * bins + c];
      if (v)
        fillRect(
          img,
          Math.round(x0 + c * cw),
          Math.round(y0 + s - (r + 1) * cw),
          Math.round(x0 + (c + 1) * cw) - 1,
          Math.round(y0 + s - r * cw) - 1,
          blues(0.25 + 0.75 * (v / max)),
        );
    }
}

function hist1d(img: RgbImage, area: [number, number, number], v: number[], bins = 50) {
  const [x0, y0, s] = area,
    counts = new Array(bins).fill(0);
  for (const x of v) counts[Math.min(bins - 1, Math.floor(Math.min(Math.max(x, 0), 1) * bins))]++;
  const max = Math.max(1, ...counts),
    cw = s / bins;
  counts.forEach((n, i) => {
    if (n)
      fillRect(
        img,
        Math.round(x0 + i * cw),
        Math.round(y0 + s - (n / max) * s),
        Math.round(x0 + (i + 1) * cw) - 1,
        y0 + s - 1,
        blues(0.6),
      );
  });
}

/** labels.jpg: class counts, boxes from the centre, x-y and width-height histograms (2 x 2 panels). */
export function plotLabels(labels: LabelEntry[], names: Record<number, string>, file: string): RgbImage {
  const { cls, cols } = table(labels);
  const P = 400,
    img = blank(2 * P, 2 * P);
  const nc = Math.max(Object.keys(names).length, 1);
  // instances per class
  const a = frame(img, 0, 0, P, 'classes', 'instances');
  const counts = new Array(nc).fill(0);
  for (const c of cls) counts[c]++;
  const max = Math.max(1, ...counts),
    bw = a[2] / nc;
  counts.forEach((n, c) => {
    if (n)
      fillRect(
        img,
        Math.round(a[0] + c * bw + bw * 0.1),
        Math.round(a[1] + a[2] - (n / max) * (a[2] - 16)),
        Math.round(a[0] + (c + 0.9) * bw),
        a[1] + a[2] - 1,
        BAR,
      );
    if (nc <= 30)
      drawText(
        img,
        a[0] + c * bw + 2,
        a[1] + a[2] + 2,
        (names[c] ?? String(c)).slice(0, Math.max(1, Math.floor(bw / 6))),
        BLACK,
        1,
      );
    drawText(img, a[0] + c * bw + 2, Math.round(a[1] + a[2] - (n / max) * (a[2] - 16)) - 10, String(n), BLACK, 1);
  });
  // boxes drawn from the centre (up to 1000), class coloured
  const b = frame(img, P, 0, P, '', '');
  for (let i = 0; i < Math.min(cls.length, 1000); i++) {
    const w = cols[2][i] * b[2],
      h = cols[3][i] * b[2],
      cx = b[0] + b[2] / 2,
      cy = b[1] + b[2] / 2;
    strokeRect(
      img,
      Math.round(cx - w / 2),
      Math.round(cy - h / 2),
      Math.round(cx + w / 2),
      Math.round(cy + h / 2),
      classColor(cls[i]),
      1,
    );
  }
  hist2d(img, frame(img, 0, P, P, 'x', 'y'), cols[0], cols[1]);
  hist2d(img, frame(img, P, P, P, 'width', 'height'), cols[2], cols[3]);
  writeImage(file, img);
  return img;
}

/** labels_correlogram.jpg: seaborn's pairplot of x, y, width, height (histograms on the diagonal). */
export function plotCorrelogram(labels: LabelEntry[], file: string): RgbImage {
  const { cols } = table(labels);
  const P = 200,
    img = blank(4 * P, 4 * P);
  for (let r = 0; r < 4; r++)
    for (let c = 0; c < 4; c++) {
      const area = frame(img, c * P, r * P, P, r === 3 ? VARS[c] : '', c === 0 ? VARS[r] : '');
      if (r === c) hist1d(img, area, cols[c]);
      else hist2d(img, area, cols[c], cols[r], 25);
    }
  writeImage(file, img);
  return img;
}
