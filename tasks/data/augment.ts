// Ultralytics' training augmentation for pose (ultralytics/data/augment.py, 8.2), on host arrays:
// Mosaic (4 images), RandomPerspective (the affine with box re-derivation, keypoint visibility and
// box_candidates), MixUp, RandomFlip with flip_idx, and LetterBox with its label update. RandomHSV is
// in ./hsv.ts, cv2.warpAffine in ./warp.ts, the label arithmetic in ./instances.ts. The order of the
// pipeline and of the random draws lives in ./loader.ts.
//
// Every random number comes from a `rand()` in [0, 1) passed in (Python's random.random()), so a
// seeded generator gives the same images on every run.
//
// Imports: ./image.ts, ./letterbox.ts, ./warp.ts, ./instances.ts, ./labels.ts types.

import type { RgbImage } from './image.js';
import { concatInstances, clipInstances, convertBoxes, affineInPlace, flipLR, flipUD, fromNormalized, removeZeroArea, selectInstances, count, type Instances } from './instances.js';
import type { PoseLabels } from './labels.js';
import { letterbox } from './letterbox.js';
import { warpAffine, warpPerspective } from './warp.js';

export type Rand = () => number;
const f = Math.fround;
/** Python's random.uniform(a, b). */
export const uniform = (rand: Rand, a: number, b: number): number => a + (b - a) * rand();

/** The augmentation hyperparameters of Ultralytics' default.yaml, by their Ultralytics names. */
export interface AugmentHyp {
  hsv_h: number;
  hsv_s: number;
  hsv_v: number;
  degrees: number;
  translate: number;
  scale: number;
  shear: number;
  perspective: number;
  flipud: number;
  fliplr: number;
  mosaic: number;
  mixup: number;
  copy_paste: number;
  /** probability of handing the model BGR instead of RGB (Format, training only) */
  bgr: number;
  /** mosaic (and mixup) off for the last this many epochs */
  close_mosaic: number;
}

export const DEFAULT_HYP: Readonly<AugmentHyp> = Object.freeze({
  hsv_h: 0.015, hsv_s: 0.7, hsv_v: 0.4, degrees: 0.0, translate: 0.1, scale: 0.5, shear: 0.0, perspective: 0.0,
  flipud: 0.0, fliplr: 0.5, bgr: 0.0, mosaic: 1.0, mixup: 0.0, copy_paste: 0.0, close_mosaic: 10,
});

const PROBABILITIES = new Set(['flipud', 'fliplr', 'bgr', 'mosaic', 'mixup', 'copy_paste']);

/**
 * The hyperparameters with `key=value` overrides applied (other keys are ignored: they belong to
 * the trainer). Throws naming the key for a non-number, a probability outside [0, 1], a negative
 * gain, or copy_paste > 0 (it needs segments, which pose labels do not have).
 */
export function augmentHyp(overrides: Record<string, unknown> = {}): AugmentHyp {
  const hyp = { ...DEFAULT_HYP };
  for (const key of Object.keys(DEFAULT_HYP) as (keyof AugmentHyp)[]) {
    if (!(key in overrides) || overrides[key] == null) continue;
    const v = overrides[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${key}=${JSON.stringify(v)}: expected a number`);
    if (PROBABILITIES.has(key) && (v < 0 || v > 1)) throw new Error(`${key}=${v}: a probability must be in [0, 1]`);
    if (key === 'close_mosaic' && !(Number.isInteger(v) && v >= 0)) throw new Error(`close_mosaic=${v}: expected a whole number of epochs >= 0`);
    if (v < 0 && key !== 'perspective') throw new Error(`${key}=${v}: must not be negative`);
    hyp[key] = v;
  }
  // copy_paste is accepted and unused: Ultralytics' CopyPaste only pastes segments, which pose labels lack
  return hyp;
}

/** One decoded image (already resized so its long side is imgsz) and its normalized labels. */
export interface LoadedImage {
  img: RgbImage;
  labels: PoseLabels;
}

/** An image during augmentation and its labels in that image's pixels. */
export interface Sample {
  img: RgbImage;
  ins: Instances;
}

/** Mosaic's border: (-imgsz // 2, -imgsz // 2), the (y, x) margin RandomPerspective crops away. */
export const mosaicBorder = (imgsz: number): [number, number] => [Math.floor(-imgsz / 2), Math.floor(-imgsz / 2)];

/**
 * Mosaic._mosaic4: four images around a random centre of a 2s x 2s canvas (grey 114), their labels
 * shifted with them, clipped to the canvas, zero-area boxes dropped. parts[0] is the sample itself.
 */
export function mosaic4(parts: LoadedImage[], imgsz: number, nkpt: number, rand: Rand): Sample {
  const s = imgsz, S = 2 * s;
  const border = mosaicBorder(s);
  const [yc, xc] = border.map((b) => Math.trunc(uniform(rand, -b, S + b)));
  const data = new Uint8Array(S * S * 3).fill(114);
  const placed: Instances[] = [];
  parts.forEach(({ img, labels }, i) => {
    const { width: w, height: h } = img;
    let a: number[], b: number[]; // (x1, y1, x2, y2) on the canvas and in the image
    if (i === 0) {
      a = [Math.max(xc - w, 0), Math.max(yc - h, 0), xc, yc];
      b = [w - (a[2] - a[0]), h - (a[3] - a[1]), w, h];
    } else if (i === 1) {
      a = [xc, Math.max(yc - h, 0), Math.min(xc + w, S), yc];
      b = [0, h - (a[3] - a[1]), Math.min(w, a[2] - a[0]), h];
    } else if (i === 2) {
      a = [Math.max(xc - w, 0), yc, xc, Math.min(S, yc + h)];
      b = [w - (a[2] - a[0]), 0, w, Math.min(a[3] - a[1], h)];
    } else {
      a = [xc, yc, Math.min(xc + w, S), Math.min(S, yc + h)];
      b = [0, 0, Math.min(w, a[2] - a[0]), Math.min(a[3] - a[1], h)];
    }
    const rowBytes = (a[2] - a[0]) * 3;
    for (let y = 0; y < a[3] - a[1]; y++) {
      const from = ((b[1] + y) * w + b[0]) * 3;
      data.set(img.data.subarray(from, from + rowBytes), ((a[1] + y) * S + a[0]) * 3);
    }
    const ins = fromNormalized(labels, w, h, nkpt);
    affineInPlace(ins, 1, 1, a[0] - b[0], a[1] - b[1]); // add_padding(padw, padh)
    placed.push(ins);
  });
  const ins = concatInstances(placed);
  clipInstances(ins, S, S);
  return { img: { width: S, height: S, data }, ins: removeZeroArea(ins) };
}

/** 3x3 float32 matrices, row-major, multiplied as numpy does in float32 (each step rounded). */
function matmul3(A: number[], B: number[]): number[] {
  const C = new Array<number>(9);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) C[i * 3 + j] = f(f(f(A[i * 3] * B[j]) + f(A[i * 3 + 1] * B[3 + j])) + f(A[i * 3 + 2] * B[6 + j]));
  return C;
}

export interface AffineDraw {
  /** float32 3x3, row-major: source pixel -> output pixel */
  M: number[];
  /** the scale factor drawn (for box_candidates) */
  scale: number;
  /** output (width, height) */
  size: [number, number];
}

/** The random numbers behind one affine: perspective (x, y), angle (deg), scale, shear (x, y) (deg), translation fractions (x, y). */
export interface AffineDraws {
  perspective: [number, number];
  degrees: number;
  scale: number;
  shear: [number, number];
  translate: [number, number];
}

/**
 * RandomPerspective.affine_transform's draws, in its order: perspective x, y; angle; scale;
 * shear x, y; translate x, y (8 numbers, whatever the hyperparameters).
 */
export function drawAffine(hyp: AugmentHyp, rand: Rand): AffineDraws {
  const u = (lo: number, hi: number) => uniform(rand, lo, hi);
  const perspective: [number, number] = [u(-hyp.perspective, hyp.perspective), u(-hyp.perspective, hyp.perspective)];
  const degrees = u(-hyp.degrees, hyp.degrees);
  const scale = u(1 - hyp.scale, 1 + hyp.scale);
  const shear: [number, number] = [u(-hyp.shear, hyp.shear), u(-hyp.shear, hyp.shear)];
  const translate: [number, number] = [u(0.5 - hyp.translate, 0.5 + hyp.translate), u(0.5 - hyp.translate, 0.5 + hyp.translate)];
  return { perspective, degrees, scale, shear, translate };
}

/**
 * The matrix M = T @ S @ R @ P @ C (float32) for an image of w x h and a (y, x) border: centre,
 * perspective, rotate and scale, shear, then translate within the output of size w + 2 border_x by
 * h + 2 border_y.
 */
export function affineMatrix(w: number, h: number, border: [number, number], d: AffineDraws): AffineDraw {
  const size: [number, number] = [w + border[1] * 2, h + border[0] * 2];
  const C = [1, 0, f(-w / 2), 0, 1, f(-h / 2), 0, 0, 1];
  const P = [1, 0, 0, 0, 1, 0, f(d.perspective[0]), f(d.perspective[1]), 1];
  // cv2.getRotationMatrix2D(angle, center=(0, 0), scale) in double, stored as float32
  const a = (d.degrees * Math.PI) / 180, s = d.scale;
  const R = [f(s * Math.cos(a)), f(s * Math.sin(a)), 0, f(-s * Math.sin(a)), f(s * Math.cos(a)), 0, 0, 0, 1];
  const S = [1, f(Math.tan((d.shear[0] * Math.PI) / 180)), 0, f(Math.tan((d.shear[1] * Math.PI) / 180)), 1, 0, 0, 0, 1];
  const T = [1, 0, f(d.translate[0] * size[0]), 0, 1, f(d.translate[1] * size[1]), 0, 0, 1];
  return { M: matmul3(matmul3(matmul3(matmul3(T, S), R), P), C), scale: s, size };
}

/** Points (x, y, 1) @ M.T in float32; divided by the third coordinate when `divide` (perspective). */
export function transformPoints(xy: Float32Array, M: number[], divide: boolean): Float32Array {
  const out = new Float32Array(xy.length);
  for (let i = 0; i < xy.length; i += 2) {
    const x = xy[i], y = xy[i + 1];
    const X = f(f(f(x * M[0]) + f(y * M[1])) + M[2]);
    const Y = f(f(f(x * M[3]) + f(y * M[4])) + M[5]);
    const Z = divide ? f(f(f(x * M[6]) + f(y * M[7])) + M[8]) : 1;
    out[i] = divide ? f(X / Z) : X;
    out[i + 1] = divide ? f(Y / Z) : Y;
  }
  return out;
}

/**
 * box_candidates: a transformed box (box2) survives if it is wider and taller than wh_thr pixels,
 * keeps more than area_thr of the area of the original box scaled by the drawn scale (box1), and its
 * aspect ratio stays below ar_thr. Boxes are (n, 4) xyxy.
 */
export function boxCandidates(box1: Float32Array, box2: Float32Array, whThr = 2, arThr = 100, areaThr = 0.1, eps = 1e-16): boolean[] {
  const e = f(eps);
  return Array.from({ length: box1.length / 4 }, (_, i) => {
    const w1 = f(box1[i * 4 + 2] - box1[i * 4]), h1 = f(box1[i * 4 + 3] - box1[i * 4 + 1]);
    const w2 = f(box2[i * 4 + 2] - box2[i * 4]), h2 = f(box2[i * 4 + 3] - box2[i * 4 + 1]);
    const ar = Math.max(f(w2 / f(h2 + e)), f(h2 / f(w2 + e)));
    return w2 > whThr && h2 > whThr && f(f(w2 * h2) / f(f(w1 * h1) + e)) > areaThr && ar < arThr;
  });
}

/**
 * RandomPerspective.__call__ on a sample whose labels are in pixels: warp the image to
 * (w + 2 border_x, h + 2 border_y), move boxes (by their 4 corners) and keypoints with it, hide
 * keypoints that leave the image, clip, and keep the boxes that pass box_candidates.
 */
export function randomPerspective(sample: Sample, hyp: AugmentHyp, border: [number, number], rand: Rand): Sample {
  const { img, ins } = sample;
  convertBoxes(ins, 'xyxy');
  const { M, scale, size } = affineMatrix(img.width, img.height, border, drawAffine(hyp, rand));
  const identity = M.every((v, i) => v === (i % 4 === 0 ? 1 : 0));
  let out = img;
  if (border[0] !== 0 || border[1] !== 0 || !identity)
    out = hyp.perspective ? warpPerspective(img, M, size[0], size[1], 114) : warpAffine(img, [M[0], M[1], M[2], M[3], M[4], M[5]], size[0], size[1], 114);

  const n = count(ins), divide = !!hyp.perspective;
  // apply_bboxes: the 4 corners x1y1, x2y2, x1y2, x2y1 of each box, then their min/max
  const corners = new Float32Array(n * 8);
  for (let i = 0; i < n; i++) {
    const [x1, y1, x2, y2] = ins.bboxes.subarray(i * 4, i * 4 + 4);
    corners.set([x1, y1, x2, y2, x1, y2, x2, y1], i * 8);
  }
  const c = transformPoints(corners, M, divide);
  const bboxes = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const xs = [c[i * 8], c[i * 8 + 2], c[i * 8 + 4], c[i * 8 + 6]], ys = [c[i * 8 + 1], c[i * 8 + 3], c[i * 8 + 5], c[i * 8 + 7]];
    bboxes.set([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)], i * 4);
  }
  // apply_keypoints: always divided by the third coordinate; outside the output -> visibility 0
  const K = ins.nkpt, kp = new Float32Array(ins.keypoints.length);
  const xy = new Float32Array(n * K * 2);
  for (let q = 0; q < n * K; q++) xy.set([ins.keypoints[q * 3], ins.keypoints[q * 3 + 1]], q * 2);
  const t = transformPoints(xy, M, true);
  for (let q = 0; q < n * K; q++) {
    const x = t[q * 2], y = t[q * 2 + 1];
    kp.set([x, y, x < 0 || y < 0 || x > size[0] || y > size[1] ? 0 : ins.keypoints[q * 3 + 2]], q * 3);
  }
  const moved: Instances = { cls: ins.cls, bboxes, keypoints: kp, nkpt: K, format: 'xyxy' };
  clipInstances(moved, size[0], size[1]);
  // box_candidates compares with the original boxes scaled by s (instances.scale(s, s, bbox_only=True))
  const s32 = f(scale);
  const keep = boxCandidates(ins.bboxes.map((v) => f(v * s32)), moved.bboxes);
  return { img: out, ins: selectInstances(moved, keep) };
}

/**
 * LetterBox()(labels): resize (only if needed) and pad to newShape (h, w), labels scaled by the
 * ratio and shifted by the unrounded padding (dw, dh) as _update_labels does.
 */
export function letterboxSample(loaded: LoadedImage, newShape: [number, number], nkpt: number, scaleup: boolean): Sample & { pad: [number, number] } {
  const r = letterbox(loaded.img, { newShape, scaleup, auto: false, center: true });
  const ins = fromNormalized(loaded.labels, loaded.img.width, loaded.img.height, nkpt);
  affineInPlace(ins, r.ratio[0], r.ratio[1], r.dw, r.dh);
  return { img: r.image, ins, pad: r.pad };
}

/** RandomFlip: draws once; with probability p flips the image and labels (keypoints reordered by flipIdx for left-right). */
export function randomFlip(sample: Sample, p: number, direction: 'horizontal' | 'vertical', flipIdx: number[] | undefined, rand: Rand): Sample {
  convertBoxes(sample.ins, 'xywh');
  if (!(rand() < p)) return sample;
  const { width: w, height: h, data } = sample.img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const from = direction === 'horizontal' ? (y * w + (w - 1 - x)) * 3 : ((h - 1 - y) * w + x) * 3;
      out.set(data.subarray(from, from + 3), (y * w + x) * 3);
    }
  if (direction === 'horizontal') flipLR(sample.ins, w, flipIdx);
  else flipUD(sample.ins, h);
  return { img: { width: w, height: h, data: out }, ins: sample.ins };
}

/** MixUp._mix_transform: img = uint8(a * r + b * (1 - r)), labels of both. */
export function mixup(a: Sample, b: Sample, r: number): Sample {
  const out = new Uint8Array(a.img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.trunc(a.img.data[i] * r + b.img.data[i] * (1 - r));
  return { img: { ...a.img, data: out }, ins: concatInstances([a.ins, b.ins]) };
}

/** np.random.beta(alpha, beta) from uniform draws: X / (X + Y) with X, Y gamma (Marsaglia-Tsang). */
export function betaSample(alpha: number, beta: number, rand: Rand): number {
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const gamma = (k: number) => {
    const d = k - 1 / 3, c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const z = normal(), v = (1 + c * z) ** 3;
      if (v > 0 && Math.log(1 - rand()) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  const x = gamma(alpha);
  return x / (x + gamma(beta));
}
