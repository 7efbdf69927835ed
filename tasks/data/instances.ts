// The labels of one image while it is augmented: Ultralytics' `Instances` for pose (boxes +
// keypoints, no segments), kept in pixels with xyxy boxes from loading to Format. Arithmetic is
// float32 step by step (every value is stored in a Float32Array and every intermediate goes through
// Math.fround), because Ultralytics does it on float32 numpy arrays and the numbers should agree.
//
// Imports: ./labels.ts types only.

import type { PoseLabels } from './labels.js';

const f = Math.fround;

export interface Instances {
  cls: Float32Array; // (n)
  bboxes: Float32Array; // (n, 4) pixels, xyxy or xywh (centre, size) as `format` says
  keypoints: Float32Array; // (n, K, 3) x, y pixels and visibility
  nkpt: number; // K
  format: 'xyxy' | 'xywh';
}

/** convert_bbox: xyxy <-> xywh in place (ops.xyxy2xywh / xywh2xyxy in float32). */
export function convertBoxes(ins: Instances, format: 'xyxy' | 'xywh'): void {
  if (ins.format === format) return;
  const b = ins.bboxes;
  for (let i = 0; i < b.length; i += 4) {
    const [p, q, r, s] = b.subarray(i, i + 4);
    if (format === 'xywh') b.set([f(f(p + r) / 2), f(f(q + s) / 2), f(r - p), f(s - q)], i);
    else b.set([f(p - f(r / 2)), f(q - f(s / 2)), f(p + f(r / 2)), f(q + f(s / 2))], i);
  }
  ins.format = format;
}

export const count = (ins: Instances): number => ins.cls.length;

/** Normalized xywh labels -> pixel xyxy of a w x h image (convert_bbox('xyxy') then denormalize). */
export function fromNormalized(labels: PoseLabels, w: number, h: number, nkpt: number): Instances {
  const n = labels.cls.length;
  const b = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const [cx, cy, bw, bh] = labels.bboxes.subarray(i * 4, i * 4 + 4);
    const hw = f(bw / 2), hh = f(bh / 2);
    b[i * 4] = f(f(cx - hw) * w);
    b[i * 4 + 1] = f(f(cy - hh) * h);
    b[i * 4 + 2] = f(f(cx + hw) * w);
    b[i * 4 + 3] = f(f(cy + hh) * h);
  }
  const k = Float32Array.from(labels.keypoints);
  for (let q = 0; q < k.length; q += 3) {
    k[q] = f(k[q] * w);
    k[q + 1] = f(k[q + 1] * h);
  }
  return { cls: Float32Array.from(labels.cls), bboxes: b, keypoints: k, nkpt, format: 'xyxy' };
}

/** add_padding / scale on boxes and keypoints: x -> x * sx + px, y -> y * sy + py (two roundings). */
export function affineInPlace(ins: Instances, sx: number, sy: number, px: number, py: number): void {
  const [fsx, fsy, fpx, fpy] = [f(sx), f(sy), f(px), f(py)];
  const b = ins.bboxes, k = ins.keypoints;
  for (let i = 0; i < b.length; i += 2) {
    b[i] = f(f(b[i] * fsx) + fpx);
    b[i + 1] = f(f(b[i + 1] * fsy) + fpy);
  }
  for (let q = 0; q < k.length; q += 3) {
    k[q] = f(f(k[q] * fsx) + fpx);
    k[q + 1] = f(f(k[q + 1] * fsy) + fpy);
  }
}

/** Instances.clip (Ultralytics 8.2): boxes and keypoint coordinates clamped to [0, w] x [0, h]. */
export function clipInstances(ins: Instances, w: number, h: number): void {
  convertBoxes(ins, 'xyxy');
  const c = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  for (let i = 0; i < ins.bboxes.length; i += 2) {
    ins.bboxes[i] = c(ins.bboxes[i], w);
    ins.bboxes[i + 1] = c(ins.bboxes[i + 1], h);
  }
  for (let q = 0; q < ins.keypoints.length; q += 3) {
    ins.keypoints[q] = c(ins.keypoints[q], w);
    ins.keypoints[q + 1] = c(ins.keypoints[q + 1], h);
  }
}

/** The instances where keep[i] is true, in order. */
export function selectInstances(ins: Instances, keep: ArrayLike<boolean>): Instances {
  const idx: number[] = [];
  for (let i = 0; i < count(ins); i++) if (keep[i]) idx.push(i);
  const kk = ins.nkpt * 3;
  const out: Instances = { cls: new Float32Array(idx.length), bboxes: new Float32Array(idx.length * 4), keypoints: new Float32Array(idx.length * kk), nkpt: ins.nkpt, format: ins.format };
  idx.forEach((i, j) => {
    out.cls[j] = ins.cls[i];
    out.bboxes.set(ins.bboxes.subarray(i * 4, i * 4 + 4), j * 4);
    out.keypoints.set(ins.keypoints.subarray(i * kk, (i + 1) * kk), j * kk);
  });
  return out;
}

/** remove_zero_area_boxes: keeps boxes with (x2 - x1) * (y2 - y1) > 0. */
export function removeZeroArea(ins: Instances): Instances {
  convertBoxes(ins, 'xyxy');
  const b = ins.bboxes;
  const keep = Array.from(ins.cls, (_, i) => f(f(b[i * 4 + 2] - b[i * 4]) * f(b[i * 4 + 3] - b[i * 4 + 1])) > 0);
  return keep.every(Boolean) ? ins : selectInstances(ins, keep);
}

export function concatInstances(list: Instances[]): Instances {
  for (const x of list) convertBoxes(x, list[0].format);
  const cat = (k: 'cls' | 'bboxes' | 'keypoints') => {
    const out = new Float32Array(list.reduce((s, x) => s + x[k].length, 0));
    let o = 0;
    for (const x of list) out.set(x[k], (o += x[k].length) - x[k].length);
    return out;
  };
  return { cls: cat('cls'), bboxes: cat('bboxes'), keypoints: cat('keypoints'), nkpt: list[0].nkpt, format: list[0].format };
}

/** Left-right flip of an image w pixels wide; keypoints swap places by flipIdx (left eye <-> right eye). */
export function flipLR(ins: Instances, w: number, flipIdx?: number[]): void {
  const b = ins.bboxes;
  for (let i = 0; i < b.length; i += 4) {
    if (ins.format === 'xywh') b[i] = f(w - b[i]);
    else [b[i], b[i + 2]] = [f(w - b[i + 2]), f(w - b[i])];
  }
  const K = ins.nkpt, k = ins.keypoints;
  for (let q = 0; q < k.length; q += 3) k[q] = f(w - k[q]);
  if (!flipIdx) return;
  const row = new Float32Array(K * 3);
  for (let i = 0; i < count(ins); i++) {
    const o = i * K * 3;
    row.set(k.subarray(o, o + K * 3));
    for (let j = 0; j < K; j++) k.set(row.subarray(flipIdx[j] * 3, flipIdx[j] * 3 + 3), o + j * 3); // keypoints[:, flip_idx]
  }
}

/** Up-down flip of an image h pixels high (keypoints keep their order). */
export function flipUD(ins: Instances, h: number): void {
  const b = ins.bboxes;
  for (let i = 0; i < b.length; i += 4) {
    if (ins.format === 'xywh') b[i + 1] = f(h - b[i + 1]);
    else [b[i + 1], b[i + 3]] = [f(h - b[i + 3]), f(h - b[i + 1])];
  }
  for (let q = 1; q < ins.keypoints.length; q += 3) ins.keypoints[q] = f(h - ins.keypoints[q]);
}

/** The targets of one image as Format builds them: boxes normalized xywh, keypoints normalized x, y, v. */
export interface Targets {
  cls: Float32Array; // (n)
  bboxes: Float32Array; // (n, 4) normalized xywh
  keypoints: Float32Array; // (n, K, 3)
}

/** Format(bbox_format='xywh', normalize=True): xywh boxes * (1/w, 1/h), keypoints / (w, h). */
export function toTargets(ins: Instances, w: number, h: number): Targets {
  convertBoxes(ins, 'xywh');
  const iw = f(1 / w), ih = f(1 / h);
  const b = ins.bboxes.map((v, i) => f(v * (i % 2 ? ih : iw)));
  const k = Float32Array.from(ins.keypoints);
  for (let q = 0; q < k.length; q += 3) {
    k[q] = f(k[q] / w);
    k[q + 1] = f(k[q + 1] / h);
  }
  return { cls: Float32Array.from(ins.cls), bboxes: b, keypoints: k };
}
