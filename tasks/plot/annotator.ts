// Ultralytics' prediction drawing (utils/plotting.py Colors + Annotator.box_label/kpts, as
// Results.plot calls them): boxes in the class colour with a filled label 'person 0.87', then each
// person's keypoints (radius 5) and the COCO-17 skeleton (2 px) in the pose palette.
//
// Colours: Ultralytics draws on a BGR image. Box colours are passed as BGR of the hex palette, so
// they appear as the hex colour; the pose palette is passed as-is, so its triplets are BGR and are
// reversed here for our RGB images.
//
// Imports: ../data/image (types), ./canvas, ../train/args (closeMatches, for option typos).

import type { RgbImage } from '../data/image.js';
import { drawLine, drawText, fillCircle, fillRect, strokeRect, textSize, type RGB } from './canvas.js';
import { closeMatches } from '../train/args.js';

/** Ultralytics' Colors.palette (hex as RGB), indexed by class id modulo 20. */
export const PALETTE_HEX = [
  'FF3838',
  'FF9D97',
  'FF701F',
  'FFB21D',
  'CFD231',
  '48F90A',
  '92CC17',
  '3DDB86',
  '1A9334',
  '00D4BB',
  '2C99A8',
  '00C2FF',
  '344593',
  '6473FF',
  '0018EC',
  '8438FF',
  '520085',
  'CB38FF',
  'FF95C8',
  'FF37C7',
];

export function classColor(i: number): RGB {
  const h = PALETTE_HEX[((Math.trunc(i) % PALETTE_HEX.length) + PALETTE_HEX.length) % PALETTE_HEX.length];
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

/** Colors.pose_palette, as written in Ultralytics (BGR when drawn there). */
export const POSE_PALETTE_BGR: RGB[] = [
  [255, 128, 0],
  [255, 153, 51],
  [255, 178, 102],
  [230, 230, 0],
  [255, 153, 255],
  [153, 204, 255],
  [255, 102, 255],
  [255, 51, 255],
  [102, 178, 255],
  [51, 153, 255],
  [255, 153, 153],
  [255, 102, 102],
  [255, 51, 51],
  [153, 255, 153],
  [102, 255, 102],
  [51, 255, 51],
  [0, 255, 0],
  [0, 0, 255],
  [255, 0, 0],
  [255, 255, 255],
];
const poseColor = (i: number): RGB => {
  const [b, g, r] = POSE_PALETTE_BGR[i];
  return [r, g, b];
};

/** COCO-17 skeleton, 1-based keypoint indices, in Ultralytics' order. */
export const SKELETON: [number, number][] = [
  [16, 14],
  [14, 12],
  [17, 15],
  [15, 13],
  [12, 13],
  [6, 12],
  [7, 13],
  [6, 7],
  [6, 8],
  [7, 9],
  [8, 10],
  [9, 11],
  [2, 3],
  [1, 2],
  [1, 3],
  [2, 4],
  [3, 5],
  [4, 6],
  [5, 7],
];
/** Pose-palette index per limb (face green, arms blue, legs orange in RGB) and per keypoint. */
export const LIMB_COLOR_IDX = [9, 9, 9, 9, 7, 7, 7, 0, 0, 0, 0, 0, 16, 16, 16, 16, 16, 16, 16];
export const KPT_COLOR_IDX = [16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9];

/** Results.plot's keyword arguments, with Ultralytics' snake_case names (as every options object here). */
export interface PlotOptions {
  /** Show confidence in labels (default true). */
  conf?: boolean;
  /** Box line width; default max(round((h + w + 3) / 2 * 0.003), 2) as Ultralytics. */
  line_width?: number | null;
  /** Label text (default true). */
  labels?: boolean;
  /** Draw boxes (default true). */
  boxes?: boolean;
  /** Keypoint circle radius (default 5). */
  kpt_radius?: number;
  /** Draw the skeleton (default true). */
  kpt_line?: boolean;
  /** Draw on this image instead of a copy of the original. */
  img?: RgbImage;
}
const PLOT_KEYS = ['conf', 'line_width', 'labels', 'boxes', 'kpt_radius', 'kpt_line', 'img'];

/** An unknown plot option is an error naming the close match (lineWidth -> line_width), never ignored. */
function checkPlotOptions(opts: object) {
  const bad = Object.keys(opts).filter((k) => !PLOT_KEYS.includes(k));
  if (!bad.length) return;
  const hint = (k: string) => {
    const m = closeMatches(k, PLOT_KEYS, 1, 0.5);
    return m.length ? ` (did you mean '${m[0]}'?)` : '';
  };
  throw new Error(
    `Results.plot: ${bad.map((k) => `'${k}'${hint(k)}`).join(', ')} ${bad.length > 1 ? 'are' : 'is'} not a plot option; valid options are ${PLOT_KEYS.join(', ')}`,
  );
}

/** What plotResult needs from a Results (kept structural to avoid an import cycle). */
export interface PlottableResult {
  origImg: RgbImage;
  names: Record<number, string>;
  boxes: { data: Float32Array; length: number; ids?: Int32Array | null };
  keypoints: { data: Float32Array; kptShape: [number, number]; length: number } | null;
}

const pyMod = (a: number, b: number) => ((a % b) + b) % b;

/** Annotator.box_label (cv2 branch): outline, then a filled label box above (or inside) it. */
export function boxLabel(
  img: RgbImage,
  box: number[],
  label: string,
  color: RGB,
  lw: number,
  txtColor: RGB = [255, 255, 255],
): void {
  const [x1, y1, x2, y2] = box.map(Math.trunc);
  strokeRect(img, x1, y1, x2, y2, color, lw);
  if (!label) return;
  const s = Math.max(1, Math.round(lw)); // font pixel size; cv2's fontScale is lw / 3
  const [tw, th] = textSize(label, s);
  const w = tw + 2 * s;
  const outside = y1 - th >= 3;
  // a label that would run past the right edge is shifted left to stay inside (later Ultralytics does the same)
  const lx = x1 + w > img.width ? Math.max(0, img.width - w) : x1;
  fillRect(img, lx, y1, lx + w, outside ? y1 - th - 3 : y1 + th + 3, color);
  drawText(img, lx + s, outside ? y1 - 2 - th : y1 + 2, label, txtColor, s);
}

/** Annotator.kpts: one person's keypoints (nk, dims) and, for COCO-17, the skeleton. */
export function drawKeypoints(
  img: RgbImage,
  kpts: Float32Array,
  kptShape: [number, number],
  radius = 5,
  kptLine = true,
): void {
  const [nk, dims] = kptShape;
  const [h, w] = [img.height, img.width];
  const isPose = nk === 17 && (dims === 2 || dims === 3);
  const at = (k: number, c: number) => kpts[k * dims + c];
  for (let k = 0; k < nk; k++) {
    const x = at(k, 0),
      y = at(k, 1);
    if (pyMod(x, w) === 0 || pyMod(y, h) === 0) continue; // (0, 0) marks an invisible point
    if (dims === 3 && at(k, 2) < 0.5) continue;
    fillCircle(img, Math.trunc(x), Math.trunc(y), radius, isPose ? poseColor(KPT_COLOR_IDX[k]) : classColor(k));
  }
  if (!(kptLine && isPose)) return;
  SKELETON.forEach(([a, b], i) => {
    const p1 = [Math.trunc(at(a - 1, 0)), Math.trunc(at(a - 1, 1))];
    const p2 = [Math.trunc(at(b - 1, 0)), Math.trunc(at(b - 1, 1))];
    if (dims === 3 && (at(a - 1, 2) < 0.5 || at(b - 1, 2) < 0.5)) return;
    const off = (p: number[]) => pyMod(p[0], w) === 0 || pyMod(p[1], h) === 0 || p[0] < 0 || p[1] < 0;
    if (off(p1) || off(p2)) return;
    drawLine(img, p1[0], p1[1], p2[0], p2[1], poseColor(LIMB_COLOR_IDX[i]), 2);
  });
}

/** Results.plot: a copy of the original with boxes + labels, then keypoints, last detection first. */
export function plotResult(r: PlottableResult, opts: PlotOptions = {}): RgbImage {
  checkPlotOptions(opts);
  const { conf = true, labels = true, boxes = true, kpt_radius: kptRadius = 5, kpt_line: kptLine = true } = opts;
  const src = opts.img ?? r.origImg;
  const img: RgbImage = { width: src.width, height: src.height, data: opts.img ? src.data : src.data.slice() };
  const lw = opts.line_width || Math.max(Math.round(((img.height + img.width + 3) / 2) * 0.003), 2);
  if (boxes) {
    for (let i = r.boxes.length - 1; i >= 0; i--) {
      const d = r.boxes.data.subarray(i * 6, i * 6 + 6);
      const name = (r.boxes.ids ? `id:${r.boxes.ids[i]} ` : '') + (r.names[d[5]] ?? String(d[5]));
      const label = labels ? (conf ? `${name} ${d[4].toFixed(2)}` : name) : '';
      boxLabel(img, [d[0], d[1], d[2], d[3]], label, classColor(d[5]), lw);
    }
  }
  if (r.keypoints) {
    const [nk, dims] = r.keypoints.kptShape;
    const per = nk * dims;
    for (let i = r.keypoints.length - 1; i >= 0; i--) {
      drawKeypoints(img, r.keypoints.data.subarray(i * per, (i + 1) * per), r.keypoints.kptShape, kptRadius, kptLine);
    }
  }
  return img;
}
