// Val's plots as PNG, drawn with tasks/plot/canvas.ts: Ultralytics' PR / F1 / P / R curves
// (plot_pr_curve, plot_mc_curve) for box and pose, the confusion matrix heatmap (raw and
// column-normalized), and val_batch{i}_labels / _pred mosaics (plot_images).
//
// Imports: ../data/image, ../data/resize, ../data/loader (types), ../plot, ../predict/nms (types), ./metrics,
// ./confusion, ./prepare_batch (types).

import { basename, join } from 'node:path';
import { writeImage, type RgbImage } from '../data/image.js';
import { resizeBilinear } from '../data/resize.js';
import { drawLine, drawText, fillRect, strokeRect, textSize, type RGB } from '../plot/canvas.js';
import { boxLabel, classColor, drawKeypoints } from '../plot/annotator.js';
import type { Detections } from '../predict/nms.js';
import type { ConfusionMatrix } from './confusion.js';
import type { ValImage } from './prepare_batch.js';
import type { PoseBatch } from '../data/loader.js';
import { smooth, type Metric, type PoseMetrics } from './metrics.js';

const WHITE: RGB = [255, 255, 255],
  BLACK: RGB = [0, 0, 0],
  GREY: RGB = [128, 128, 128],
  BLUE: RGB = [0, 0, 255];
/** matplotlib's tab10 cycle, for per-class lines. */
const TAB10: RGB[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

const blank = (width: number, height: number, v = 255): RgbImage => ({
  width,
  height,
  data: new Uint8Array(width * height * 3).fill(v),
});

/** Text turned 90° counter-clockwise (a y-axis label), its top-left corner at (x, y). */
function drawTextVertical(img: RgbImage, x: number, y: number, text: string, color: RGB, scale: number): void {
  const [tw, th] = textSize(text, scale);
  const tmp = blank(tw, th);
  drawText(tmp, 0, 0, text, BLACK, scale);
  for (let v = 0; v < th; v++)
    for (let u = 0; u < tw; u++) {
      if (tmp.data[(v * tw + u) * 3] > 127) continue;
      fillRect(img, x + v, y + tw - 1 - u, x + v, y + tw - 1 - u, color);
    }
}

export interface Series {
  y: ArrayLike<number>;
  color: RGB;
  width: number;
  label?: string;
}

/**
 * A line chart on [0, 1] x [0, 1]: axes with ticks every 0.2, a title, axis labels, and a legend
 * to the right of the plot (as matplotlib's bbox_to_anchor=(1.04, 1)). Returns the image.
 */
export function lineChart(
  x: ArrayLike<number>,
  series: Series[],
  o: { title: string; xlabel: string; ylabel: string; width?: number; height?: number },
): RgbImage {
  const W = o.width ?? 900,
    H = o.height ?? 600;
  const img = blank(W, H);
  const s = 2; // font pixel size
  const legendW = Math.max(0, ...series.filter((q) => q.label).map((q) => textSize(q.label!, s)[0] + 40));
  const L = 80,
    T = 40,
    R = W - legendW - 20,
    B = H - 60;
  const px = (v: number) => L + v * (R - L),
    py = (v: number) => B - v * (B - T);
  for (let k = 0; k <= 5; k++) {
    const v = k / 5,
      t = v.toFixed(1);
    const [tw, th] = textSize(t, s);
    drawLine(img, px(v), B, px(v), B + 5, BLACK, 1);
    drawText(img, px(v) - tw / 2, B + 9, t, BLACK, s);
    drawLine(img, L - 5, py(v), L, py(v), BLACK, 1);
    drawText(img, L - 9 - tw, py(v) - th / 2, t, BLACK, s);
  }
  for (const q of series) {
    for (let i = 1; i < x.length; i++) {
      const clampY = (v: number) => py(Math.min(Math.max(v, 0), 1));
      drawLine(img, px(x[i - 1]), clampY(q.y[i - 1]), px(x[i]), clampY(q.y[i]), q.color, q.width);
    }
  }
  strokeRect(img, L, T, R, B, BLACK, 1);
  const [tw] = textSize(o.title, s);
  drawText(img, (L + R) / 2 - tw / 2, T - 24, o.title, BLACK, s);
  const [xw] = textSize(o.xlabel, s);
  drawText(img, (L + R) / 2 - xw / 2, B + 32, o.xlabel, BLACK, s);
  const [yw] = textSize(o.ylabel, s);
  drawTextVertical(img, 14, (T + B) / 2 - yw / 2, o.ylabel, BLACK, s);
  let ly = T;
  for (const q of series.filter((q) => q.label)) {
    drawLine(img, R + 20, ly + 7, R + 44, ly + 7, q.color, Math.max(q.width, 2));
    drawText(img, R + 50, ly, q.label!, BLACK, s);
    ly += 22;
  }
  return img;
}

/** Box and pose: {prefix}PR_curve.png, F1_curve, P_curve, R_curve, as ap_per_class plots them. */
export function plotCurves(metrics: PoseMetrics, names: Record<number, string>, saveDir: string): void {
  for (const [prefix, m] of [
    ['Box', metrics.box],
    ['Pose', metrics.pose],
  ] as [string, Metric][]) {
    const c = m.curves;
    if (!c) continue; // no true positives: Ultralytics computes (and plots) nothing
    const perClass = c.uniqueClasses.length < 21;
    const color = (i: number) => (perClass ? TAB10[i % 10] : GREY);
    const ap50 = new Map(c.uniqueClasses.map((k, i) => [k, c.ap[i][0]]));
    const meanOf = (rows: Float64Array[]) =>
      Float64Array.from(c.px, (_, k) => rows.reduce((acc, r) => acc + r[k], 0) / rows.length);
    // Precision-recall at IoU 0.5: classes with predictions, their mean, legend mAP@0.5.
    const pr: Series[] = c.precValues.map((y, i) => ({
      y,
      color: color(i),
      width: 1,
      label: perClass ? `${names[c.precClasses[i]]} ${ap50.get(c.precClasses[i])!.toFixed(3)}` : undefined,
    }));
    if (c.precValues.length)
      pr.push({ y: meanOf(c.precValues), color: BLUE, width: 3, label: `all classes ${m.map50.toFixed(3)} mAP@0.5` });
    writeImage(
      join(saveDir, `${prefix}PR_curve.png`),
      lineChart(c.px, pr, { title: 'Precision-Recall Curve', xlabel: 'Recall', ylabel: 'Precision' }),
    );
    // Metric vs confidence: per class, and the mean smoothed with a 0.05 box filter.
    for (const [rows, ylabel, file] of [
      [c.f1Curve, 'F1', 'F1_curve'],
      [c.pCurve, 'Precision', 'P_curve'],
      [c.rCurve, 'Recall', 'R_curve'],
    ] as const) {
      const series: Series[] = rows.map((y, i) => ({
        y,
        color: color(i),
        width: 1,
        label: perClass ? names[c.uniqueClasses[i]] : undefined,
      }));
      const y = smooth(meanOf(rows), 0.05);
      let best = 0;
      for (let k = 1; k < y.length; k++) if (y[k] > y[best]) best = k;
      series.push({ y, color: BLUE, width: 3, label: `all classes ${y[best].toFixed(2)} at ${c.px[best].toFixed(3)}` });
      writeImage(
        join(saveDir, `${prefix}${file}.png`),
        lineChart(c.px, series, { title: `${ylabel}-Confidence Curve`, xlabel: 'Confidence', ylabel }),
      );
    }
  }
}

/** matplotlib's "Blues" colormap, 9 stops. */
const BLUES: RGB[] = [
  [247, 251, 255],
  [222, 235, 247],
  [198, 219, 239],
  [158, 202, 225],
  [107, 174, 214],
  [66, 146, 198],
  [33, 113, 181],
  [8, 81, 156],
  [8, 48, 107],
];
export function blues(t: number): RGB {
  const u = Math.min(Math.max(t, 0), 1) * (BLUES.length - 1);
  const i = Math.min(Math.floor(u), BLUES.length - 2),
    f = u - i;
  return BLUES[i].map((v, k) => Math.round(v + (BLUES[i + 1][k] - v) * f)) as unknown as RGB;
}

/** confusion_matrix.png and confusion_matrix_normalized.png (columns sum to 1; < 0.005 left blank). */
export function plotConfusion(cm: ConfusionMatrix, names: Record<number, string>, saveDir: string): void {
  const k = cm.nc + 1;
  const labels = [...Array.from({ length: cm.nc }, (_, i) => names[i] ?? String(i)), 'background'];
  for (const normalize of [true, false]) {
    const colSum = Array.from({ length: k }, (_, c) => labels.reduce((s, _l, r) => s + cm.matrix[r * k + c], 0));
    const val = (r: number, c: number) => cm.matrix[r * k + c] / (normalize ? colSum[c] + 1e-9 : 1);
    let vmax = 0;
    for (let r = 0; r < k; r++) for (let c = 0; c < k; c++) if (val(r, c) >= 0.005) vmax = Math.max(vmax, val(r, c));
    const s = 2,
      cell = Math.max(24, Math.min(90, Math.floor(720 / k)));
    const labelW = Math.max(...labels.map((l) => textSize(l, s)[0])) + 16;
    const L = labelW + 40,
      T = 60,
      size = cell * k;
    const title = `Confusion Matrix${normalize ? ' Normalized' : ''}`;
    const barX = L + size + 24,
      barW = 20; // the colour bar seaborn's heatmap draws beside the matrix
    const img = blank(
      Math.max(barX + barW + 90, L + size / 2 + textSize(title, s)[0] / 2 + 20),
      T + size + labelW + 50,
    );
    for (let y = 0; y < size; y++) fillRect(img, barX, T + y, barX + barW, T + y, blues(1 - y / Math.max(1, size - 1)));
    strokeRect(img, barX, T, barX + barW, T + size, BLACK, 1);
    for (let q = 0; q <= 4; q++) {
      const y = Math.round(T + size - (q / 4) * size),
        v = (q / 4) * vmax;
      fillRect(img, barX + barW, y, barX + barW + 4, y, BLACK);
      const txt = normalize || vmax < 10 ? v.toFixed(2) : v.toFixed(0);
      drawText(img, barX + barW + 8, y - textSize(txt, 1)[1] / 2, txt, BLACK, 1);
    }
    for (let r = 0; r < k; r++)
      for (let c = 0; c < k; c++) {
        const v = val(r, c);
        if (!(v >= 0.005)) continue; // NaN in Ultralytics: not drawn, not annotated
        const color = blues(vmax ? v / vmax : 0);
        fillRect(img, L + c * cell, T + r * cell, L + (c + 1) * cell - 1, T + (r + 1) * cell - 1, color);
        if (cm.nc < 30) {
          const t = normalize ? v.toFixed(2) : v.toFixed(0);
          const [tw, th] = textSize(t, cell >= 48 ? 2 : 1);
          drawText(
            img,
            L + c * cell + (cell - tw) / 2,
            T + r * cell + (cell - th) / 2,
            t,
            v / (vmax || 1) > 0.5 ? WHITE : BLACK,
            cell >= 48 ? 2 : 1,
          );
        }
      }
    strokeRect(img, L, T, L + size, T + size, BLACK, 1);
    labels.forEach((l, i) => {
      const [tw, th] = textSize(l, s);
      drawText(img, L - 8 - tw, T + i * cell + (cell - th) / 2, l, BLACK, s); // rows: predicted
      drawTextVertical(img, L + i * cell + (cell - th) / 2, T + size + 8, l, BLACK, s); // columns: true
    });
    drawText(img, L + size / 2 - textSize(title, s)[0] / 2, 20, title, BLACK, s);
    drawText(img, L + size / 2 - textSize('True', s)[0] / 2, T + size + labelW + 20, 'True', BLACK, s);
    drawTextVertical(img, 8, T + size / 2 - textSize('Predicted', s)[0] / 2, 'Predicted', BLACK, s);
    writeImage(join(saveDir, `${title.toLowerCase().replace(/ /g, '_')}.png`), img);
  }
}

/** One mosaic tile's annotations, in tile pixels: boxes (n, 4) xyxy, classes, confidences or null, keypoints (n, K, dims). */
interface TileAnnotations {
  boxes: ArrayLike<number>;
  cls: ArrayLike<number>;
  conf: ArrayLike<number> | null;
  kpts: Float32Array; // (n, K, kptDims)
  kptDims: number; // 3 for labels (x, y, visibility); the model's dims for predictions
}

/**
 * plot_images: up to 16 letterboxed images in a ceil(sqrt(n)) grid (filled column by column),
 * scaled down to fit 1920 px, white tile borders, file names, boxes with class (and conf > 0.25
 * for predictions) and keypoints.
 */
function mosaic(
  batch: PoseBatch,
  tiles: TileAnnotations[],
  names: Record<number, string>,
  kptShape: [number, number],
): RgbImage {
  const letterboxed = batchImages(batch, 16);
  const bs = letterboxed.length;
  const ns = Math.ceil(Math.sqrt(bs));
  let [, , h, w] = batch.shape;
  let img = blank(ns * w, ns * h);
  for (let i = 0; i < bs; i++) {
    const x0 = w * Math.floor(i / ns),
      y0 = h * (i % ns),
      src = letterboxed[i];
    for (let y = 0; y < h; y++)
      img.data.set(src.data.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * img.width + x0) * 3);
  }
  const scale = 1920 / ns / Math.max(h, w);
  if (scale < 1) {
    ((h = Math.ceil(scale * h)), (w = Math.ceil(scale * w)));
    img = resizeBilinear(img, w * ns, h * ns);
  }
  const k = Math.min(scale, 1);
  const fs = Math.floor((h + w) * ns * 0.01);
  const lw = Math.max(1, Math.round(fs / 10)),
    ts = Math.max(1, Math.round(fs / 10));
  for (let i = 0; i < bs; i++) {
    const x0 = w * Math.floor(i / ns),
      y0 = h * (i % ns);
    strokeRect(img, x0, y0, x0 + w, y0 + h, WHITE, 2);
    drawText(img, x0 + 5, y0 + 5, basename(batch.imFiles[i]).slice(0, 40), [220, 220, 220], ts);
    const t = tiles[i];
    for (let j = 0; j < t.cls.length; j++) {
      if (t.conf && !(t.conf[j] > 0.25)) continue;
      const b = [0, 1, 2, 3].map((q) => t.boxes[j * 4 + q] * k + (q % 2 ? y0 : x0));
      const c = t.cls[j];
      boxLabel(img, b, t.conf ? `${names[c] ?? c} ${t.conf[j].toFixed(1)}` : `${names[c] ?? c}`, classColor(c), lw);
    }
    for (let j = 0; j < t.cls.length; j++) {
      if (t.conf && !(t.conf[j] > 0.25)) continue;
      const d = t.kptDims,
        per = kptShape[0] * d;
      const kp = t.kpts.slice(j * per, (j + 1) * per);
      for (let q = 0; q < kptShape[0]; q++) {
        kp[q * d] = kp[q * d] * k + x0;
        kp[q * d + 1] = kp[q * d + 1] * k + y0;
      }
      drawKeypoints(img, kp, [kptShape[0], d]);
    }
  }
  return img;
}

/** val_batch{i}_labels.jpg (ground truth) and val_batch{i}_pred.jpg (detections), as Ultralytics names them. */
export function plotValBatch(
  batch: PoseBatch,
  images: ValImage[],
  dets: Detections[],
  names: Record<number, string>,
  kptShape: [number, number],
  saveDir: string,
  bi: number,
): void {
  const labels: TileAnnotations[] = images.map((im) => ({
    boxes: im.lbBoxes,
    cls: im.cls,
    conf: null,
    kpts: im.lbKpts,
    kptDims: 3,
  }));
  const per = kptShape[0] * kptShape[1];
  const preds: TileAnnotations[] = dets.map((d) => {
    const rows = Array.from({ length: d.n }, (_, i) => d.data.subarray(i * d.cols, (i + 1) * d.cols));
    return {
      boxes: rows.flatMap((r) => Array.from(r.subarray(0, 4))),
      cls: rows.map((r) => r[5]),
      conf: rows.map((r) => r[4]),
      kpts: Float32Array.from(rows.flatMap((r) => Array.from(r.subarray(6, 6 + per)))),
      kptDims: kptShape[1],
    };
  });
  writeImage(join(saveDir, `val_batch${bi}_labels.jpg`), mosaic(batch, labels, names, kptShape));
  writeImage(join(saveDir, `val_batch${bi}_pred.jpg`), mosaic(batch, preds, names, kptShape));
}

/**
 * train_batch{ni}.jpg (plot_training_samples): the augmented batch as the model sees it, with its
 * labels (normalized xywh boxes and keypoints, scaled to the tile) and skeletons.
 */
export function plotTrainBatch(
  batch: PoseBatch,
  names: Record<number, string>,
  kptShape: [number, number],
  file: string,
): void {
  const [B, , H, W] = batch.shape;
  const K = kptShape[0];
  const tiles: TileAnnotations[] = Array.from({ length: Math.min(B, 16) }, (_, b) => {
    const idx = [...batch.batchIdx.keys()].filter((j) => batch.batchIdx[j] === b);
    return {
      boxes: idx.flatMap((j) => {
        const [cx, cy, w, h] = batch.bboxes.subarray(j * 4, j * 4 + 4);
        return [(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H];
      }),
      cls: idx.map((j) => batch.cls[j]),
      conf: null,
      kpts: Float32Array.from(
        idx.flatMap((j) =>
          Array.from(
            { length: K * 3 },
            (_, q) => batch.keypoints[j * K * 3 + q] * (q % 3 === 0 ? W : q % 3 === 1 ? H : 1),
          ),
        ),
      ),
      kptDims: 3,
    };
  });
  writeImage(file, mosaic(batch, tiles, names, kptShape));
}

/** The first `max` images of a batch back as HWC uint8 (the input holds uint8 / 255 in float32, so this is exact). */
function batchImages(batch: PoseBatch, max: number): RgbImage[] {
  const [B, , H, W] = batch.shape;
  const out: RgbImage[] = [];
  for (let b = 0; b < Math.min(B, max); b++) {
    const data = new Uint8Array(H * W * 3),
      base = b * 3 * H * W;
    for (let i = 0; i < H * W; i++)
      for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.round(batch.images[base + c * H * W + i] * 255);
    out.push({ width: W, height: H, data });
  }
  return out;
}
