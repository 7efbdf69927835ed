// Val's NMS and the mapping of detections back to the original image.
// PoseValidator.postprocess calls non_max_suppression with multi_label=True: for one class that is
// predict's NMS (tasks/predict/nms.ts); for several, every (anchor, class) pair with score > conf
// becomes a candidate, as torch.where(cls > conf) lists them.
//
// Imports: ../predict/nms, ../data/letterbox.

import { nms, nonMaxSuppression, type Detections } from '../predict/nms.js';
import { scaleBoxes, scaleCoords, type RatioPad } from '../data/letterbox.js';

export interface ValNmsOptions {
  conf: number;
  iou: number;
  maxDet: number;
  nc: number;
  maxNms?: number;
  maxWh?: number;
  /** one NMS over all classes (single_cls) */
  agnostic?: boolean;
}

const f32 = Math.fround;

/** pred (B, 4 + nc + nm, A) row-major -> per image rows (x1, y1, x2, y2, conf, cls, extras...). */
export function valNms(pred: Float32Array, shape: readonly number[], o: ValNmsOptions): Detections[] {
  if (o.nc <= 1) return nonMaxSuppression(pred, shape, { conf: o.conf, iou: o.iou, maxDet: o.maxDet, nc: o.nc });
  const [bs, ch, na] = shape;
  const { nc, maxNms = 30000, maxWh = 7680 } = o;
  const nm = ch - 4 - nc;
  const cols = 6 + nm;
  const out: Detections[] = [];
  for (let b = 0; b < bs; b++) {
    const at = (c: number, a: number) => pred[(b * ch + c) * na + a];
    let cand: [number, number][] = []; // (anchor, class), row-major
    for (let a = 0; a < na; a++) for (let c = 0; c < nc; c++) if (at(4 + c, a) > o.conf) cand.push([a, c]);
    if (cand.length > maxNms) cand = cand.map((p, k) => [p, k] as const).sort((p, q) => at(4 + q[0][1], q[0][0]) - at(4 + p[0][1], p[0][0]) || p[1] - q[1]).slice(0, maxNms).map((p) => p[0]);
    const n = cand.length;
    const rows = new Float32Array(n * cols), shifted = new Float32Array(n * 4), scores = new Float32Array(n);
    cand.forEach(([a, c], k) => {
      const x = at(0, a), y = at(1, a), hw = f32(at(2, a) / 2), hh = f32(at(3, a) / 2);
      const r = rows.subarray(k * cols, (k + 1) * cols);
      r.set([x - hw, y - hh, x + hw, y + hh, at(4 + c, a), c]);
      for (let m = 0; m < nm; m++) r[6 + m] = at(4 + nc + m, a);
      const off = o.agnostic ? 0 : f32(c * maxWh);
      for (let q = 0; q < 4; q++) shifted[k * 4 + q] = r[q] + off;
      scores[k] = r[4];
    });
    const keep = nms(shifted, scores, o.iou).subarray(0, o.maxDet);
    const data = new Float32Array(keep.length * cols);
    keep.forEach((k, i) => data.set(rows.subarray(k * cols, (k + 1) * cols), i * cols));
    out.push({ n: keep.length, cols, data });
  }
  return out;
}

/** One image's detections in original pixels: boxes (n, 4) xyxy, conf, cls, keypoints (n, K, dims). */
export interface NativeDetections {
  n: number;
  boxes: Float32Array;
  conf: Float32Array;
  cls: Float32Array;
  kpts: Float32Array;
}

/** _prepare_pred: scale_boxes and scale_coords from the letterboxed input to the original image. */
export function toNative(det: Detections, inputShape: [number, number], ori: [number, number], ratioPad: RatioPad, kptShape: [number, number]): NativeDetections {
  const { n, cols, data } = det;
  const per = kptShape[0] * kptShape[1];
  const boxes = new Float32Array(n * 4), conf = new Float32Array(n), cls = new Float32Array(n), kpts = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    boxes.set(data.subarray(i * cols, i * cols + 4), i * 4);
    conf[i] = data[i * cols + 4];
    cls[i] = data[i * cols + 5];
    kpts.set(data.subarray(i * cols + 6, i * cols + 6 + per), i * per);
  }
  scaleBoxes(inputShape, boxes, ori, { ratioPad });
  scaleCoords(inputShape, kpts, ori, { ratioPad, stride: kptShape[1] });
  return { n, boxes, conf, cls, kpts };
}
