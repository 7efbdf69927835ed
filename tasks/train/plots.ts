// results.png as Ultralytics' plot_results(pose=True) draws it: a 2 x 9 grid, one panel per
// results.csv column (losses, metrics, val losses), each with the values (line and dots) and a
// gaussian-smoothed dotted line (scipy's gaussian_filter1d, sigma 3). Several runs can share the
// figure (bench/train_coco8.ts compares ours with Ultralytics' reference curve this way).
//
// Imports: ../data/image, ../plot/canvas, ./results.

import { writeImage, type RgbImage } from '../data/image.js';
import { drawLine, drawText, fillCircle, strokeRect, textSize, type RGB } from '../plot/canvas.js';
import { readResults } from './results.js';

/** Column indices Ultralytics plots for pose, in panel order (row-major over the 2 x 9 grid). */
export const POSE_PANELS = [1, 2, 3, 4, 5, 6, 7, 10, 11, 14, 15, 16, 17, 18, 8, 9, 12, 13];

/** matplotlib's default colour cycle: per run, its values take one colour and the smoothed line the next. */
const CYCLE: RGB[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
];
const BLACK: RGB = [0, 0, 0],
  GREY: RGB = [210, 210, 210];

export interface Run {
  file: string;
  label: string;
}

/** Draws the runs' results.csv files into one PNG at `out`; returns the image. */
export function plotResults(runs: Run[], out: string, opts: { panelW?: number; panelH?: number } = {}): RgbImage {
  const pw = opts.panelW ?? 300,
    ph = opts.panelH ?? 320,
    cols = 9,
    rows = 2;
  const img: RgbImage = {
    width: pw * cols,
    height: ph * rows,
    data: new Uint8Array(pw * cols * ph * rows * 3).fill(255),
  };
  const loaded = runs.map((r) => ({ ...r, ...readResults(r.file) }));
  const columns = loaded[0]?.columns ?? [];
  POSE_PANELS.forEach((j, i) => {
    const name = columns[j];
    if (!name) return;
    const x0 = (i % cols) * pw,
      y0 = Math.floor(i / cols) * ph;
    const series = loaded.flatMap((r, k) => {
      const x = r.data[r.columns[0]],
        y = r.data[name] ?? [];
      return [
        { x, y, color: CYCLE[(2 * k) % CYCLE.length], dots: true, label: r.label },
        { x, y: gaussianFilter1d(y, 3), color: CYCLE[(2 * k + 1) % CYCLE.length], dots: false, label: 'smooth' },
      ];
    });
    drawPanel(img, x0, y0, pw, ph, name, series, i === 1);
  });
  writeImage(out, img);
  return img;
}

interface PanelSeries {
  x: number[];
  y: number[];
  color: RGB;
  /** values: a solid line with dots; smoothed: a dotted line */
  dots: boolean;
  label: string;
}

function drawPanel(
  img: RgbImage,
  x0: number,
  y0: number,
  w: number,
  h: number,
  title: string,
  series: PanelSeries[],
  legend: boolean,
) {
  const L = x0 + 52,
    R = x0 + w - 10,
    T = y0 + 30,
    B = y0 + h - 30;
  const xs = series.flatMap((s) => s.x).filter(Number.isFinite),
    ys = series.flatMap((s) => s.y).filter(Number.isFinite);
  const [tw] = textSize(title, 2);
  drawText(img, (L + R) / 2 - tw / 2, y0 + 8, title, BLACK, 2);
  strokeRect(img, L, T, R, B, BLACK, 1);
  if (!xs.length || !ys.length) return;
  let [xmin, xmax] = [Math.min(...xs), Math.max(...xs)],
    [ymin, ymax] = [Math.min(...ys), Math.max(...ys)];
  if (xmax - xmin < 1e-9) ((xmin -= 1), (xmax += 1));
  // a flat curve (smoothing leaves ~1e-17 wiggles) gets a range around its value, as matplotlib does
  if (ymax - ymin <= 1e-9 * Math.max(Math.abs(ymax), 1e-12))
    ((ymin -= Math.abs(ymin) * 0.05 || 0.05), (ymax += Math.abs(ymax) * 0.05 || 0.05));
  const padY = (ymax - ymin) * 0.05,
    padX = (xmax - xmin) * 0.05;
  ((ymin -= padY), (ymax += padY), (xmin -= padX), (xmax += padX));
  const px = (v: number) => L + ((v - xmin) / (xmax - xmin)) * (R - L);
  const py = (v: number) => B - ((v - ymin) / (ymax - ymin)) * (B - T);
  const yt = niceTicks(ymin, ymax, 5);
  for (const t of yt) {
    drawLine(img, L + 1, py(t), R - 1, py(t), GREY, 1);
    const s = tickLabel(t, yt[1] - yt[0]);
    const [sw, sh] = textSize(s, 1);
    drawText(img, L - 5 - sw, py(t) - sh / 2, s, BLACK, 1);
  }
  const xt = niceTicks(xmin, xmax, 5);
  for (const t of xt) {
    drawLine(img, px(t), B, px(t), B + 4, BLACK, 1);
    const s = tickLabel(t, xt[1] - xt[0]);
    const [sw] = textSize(s, 1);
    drawText(img, px(t) - sw / 2, B + 8, s, BLACK, 1);
  }
  for (const s of series) {
    const pts = s.x
      .map((xv, i) => [px(xv), py(s.y[i])] as const)
      .filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
    if (s.dots) {
      for (let i = 1; i < pts.length; i++)
        drawLine(img, pts[i - 1][0], pts[i - 1][1], pts[i][0], pts[i][1], s.color, 2);
      if (pts.length <= 60) for (const [a, b] of pts) fillCircle(img, a, b, 2.5, s.color);
    } else dottedPolyline(img, pts, s.color);
  }
  if (legend) {
    let ly = T + 6;
    for (const s of series) {
      drawLine(img, R - 120, ly + 3, R - 100, ly + 3, s.color, 2);
      drawText(img, R - 95, ly, s.label, BLACK, 1);
      ly += 12;
    }
  }
}

/** A polyline drawn as dots every 5 pixels of path length (matplotlib's ':' style). */
function dottedPolyline(img: RgbImage, pts: (readonly [number, number])[], color: RGB) {
  let carry = 0;
  for (let i = 1; i < pts.length; i++) {
    const [ax, ay] = pts[i - 1],
      [bx, by] = pts[i];
    const len = Math.hypot(bx - ax, by - ay);
    for (let d = carry; d < len; d += 5)
      fillCircle(img, ax + ((bx - ax) * d) / len, ay + ((by - ay) * d) / len, 1, color);
    carry = len > 0 ? (carry - len) % 5 : carry;
    if (carry < 0) carry += 5;
  }
}

/** About `n` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n: number): number[] {
  const raw = (hi - lo) / n,
    mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  if (!(step > 0) || !Number.isFinite(step)) return out;
  for (let k = Math.ceil(lo / step); k <= Math.floor(hi / step + 1e-9) && out.length < 50; k++) out.push(k * step);
  return out;
}

/** A tick value with as many decimals as the tick step needs. */
function tickLabel(t: number, step: number): string {
  if (Math.abs(t) >= 1e5 || (Math.abs(t) < 1e-3 && t !== 0))
    return t.toExponential(
      Number.isFinite(step) && step > 0
        ? Math.max(0, Math.min(3, Math.ceil(Math.log10(Math.abs(t) / step) - 1e-9)))
        : 1,
    );
  const decimals =
    Number.isFinite(step) && step > 0
      ? Math.max(
          0,
          Math.min(
            8,
            Math.ceil(-Math.log10(step) - 1e-9) +
              (Math.abs(step / 10 ** Math.floor(Math.log10(step)) - 2.5) < 1e-9 ? 1 : 0),
          ),
        )
      : 2;
  return t.toFixed(decimals);
}

/** scipy.ndimage.gaussian_filter1d(y, sigma) with its defaults: mode 'reflect', truncate 4.0. */
export function gaussianFilter1d(y: ArrayLike<number>, sigma: number): number[] {
  const r = Math.floor(4 * sigma + 0.5);
  const w = Array.from({ length: 2 * r + 1 }, (_, k) => Math.exp(-0.5 * ((k - r) / sigma) ** 2));
  const sum = w.reduce((a, b) => a + b, 0);
  const n = y.length;
  // 'reflect' (d c b a | a b c d | d c b a): index -1 -> 0, n -> n - 1, periodic with period 2n.
  const at = (i: number) => {
    const p = 2 * n;
    let m = ((i % p) + p) % p;
    if (m >= n) m = p - 1 - m;
    return y[m];
  };
  return Array.from({ length: n }, (_, i) => {
    let acc = 0;
    for (let k = -r; k <= r; k++) acc += w[k + r] * at(i + k);
    return acc / sum;
  });
}
