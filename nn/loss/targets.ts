// Host-side target preparation for v8PoseLoss: the batch's boxes padded per image (Ultralytics'
// v8DetectionLoss.preprocess), and the per-foreground-anchor targets that the box, DFL and keypoint
// losses need (what Ultralytics gathers with fg_mask / target_gt_idx). Arithmetic is done in
// float32 steps where Ultralytics does float32 tensor math, so the targets match to the bit.
import type { Assignment } from './tal.js';
import { xywhToXyxy } from './bbox.js';
import type { FgBoxTargets } from './bbox_loss.js';
import type { FgKeypointTargets } from './keypoint_loss.js';

/** The targets of one batch, one row per object, as the dataloader collates them. */
export interface BatchTargets {
  /** (n) image of each object, 0..B-1 */
  batchIdx: ArrayLike<number>;
  /** (n) class of each object */
  cls: ArrayLike<number>;
  /** (n, 4) boxes, normalized xywh */
  bboxes: ArrayLike<number>;
  /** (n, K, ndim) keypoints, normalized x, y (and visibility 0/1/2) */
  keypoints: ArrayLike<number>;
}

/** Per image, its objects in order of appearance, padded to M rows. */
export interface GtTargets {
  M: number;
  /** (B, M) */
  labels: Float32Array;
  /** (B, M, 4) xyxy pixels */
  boxes: Float32Array;
  /** (B, M) 1 for a real row: box coordinates sum > 0, as Ultralytics' mask_gt */
  mask: Uint8Array;
  /** (B, M) the batch row behind each slot, -1 for padding */
  row: Int32Array;
  /** (n, K, ndim) the batch keypoints, normalized */
  kpts: Float32Array;
}

export function buildTargets(batch: BatchTargets, B: number, kptValues: number, imgW: number, imgH: number): GtTargets {
  const n = batch.batchIdx.length;
  if (batch.cls.length !== n || batch.bboxes.length !== 4 * n || batch.keypoints.length !== kptValues * n)
    throw new Error(
      `V8PoseLoss: batch arrays disagree: ${n} batchIdx, ${batch.cls.length} cls, ${batch.bboxes.length / 4} bboxes, ` +
        `${batch.keypoints.length / kptValues} keypoint sets of ${kptValues} values`,
    );
  const perImage: number[][] = Array.from({ length: B }, () => []);
  for (let i = 0; i < n; i++) {
    const b = batch.batchIdx[i];
    if (!Number.isInteger(b) || b < 0 || b >= B)
      throw new Error(`V8PoseLoss: batchIdx ${b} at row ${i} is outside 0..${B - 1}`);
    perImage[b].push(i);
  }
  const M = Math.max(0, ...perImage.map((r) => r.length));
  const px = xywhToXyxy(batch.bboxes, n, imgW, imgH);
  const t: GtTargets = {
    M,
    labels: new Float32Array(B * M),
    boxes: new Float32Array(B * M * 4),
    mask: new Uint8Array(B * M),
    row: new Int32Array(B * M).fill(-1),
    kpts: Float32Array.from(batch.keypoints),
  };
  perImage.forEach((rows, b) =>
    rows.forEach((i, j) => {
      const s = b * M + j;
      t.row[s] = i;
      t.labels[s] = batch.cls[i];
      t.boxes.set(px.subarray(4 * i, 4 * i + 4), 4 * s);
    }),
  );
  for (let s = 0; s < B * M; s++) {
    const f = Math.fround,
      o = 4 * s;
    t.mask[s] = f(f(f(t.boxes[o] + t.boxes[o + 1]) + t.boxes[o + 2]) + t.boxes[o + 3]) > 0 ? 1 : 0;
  }
  return t;
}

export type FgTargets = FgBoxTargets & FgKeypointTargets & { index: Int32Array };

/**
 * The N foreground anchors in batch order (flat index b·A + a) with their targets in grid units:
 * anchor centres, boxes, weights (target score sums), keypoints (of the assigned object, zeros
 * when it is a padding slot) and box areas.
 */
export function fgTargets(
  asg: Assignment,
  gt: GtTargets,
  anc: { points: Float32Array; strides: Float32Array },
  B: number,
  A: number,
  kptShape: [number, number],
  imgW: number,
  imgH: number,
): FgTargets {
  const [K, ndim] = kptShape,
    nc = asg.targetScores.length / (B * A);
  const f = Math.fround;
  const index: number[] = [];
  for (let o = 0; o < B * A; o++) if (asg.fgMask[o]) index.push(o);
  const n = index.length;
  const t: FgTargets = {
    n,
    index: Int32Array.from(index),
    anchors: new Float32Array(2 * n),
    boxes: new Float32Array(4 * n),
    weight: new Float32Array(n),
    kpts: new Float32Array(n * K * ndim),
    area: new Float32Array(n),
  };
  index.forEach((o, i) => {
    const b = Math.floor(o / A),
      a = o % A,
      s = anc.strides[a];
    t.anchors[2 * i] = anc.points[2 * a];
    t.anchors[2 * i + 1] = anc.points[2 * a + 1];
    for (let c = 0; c < 4; c++) t.boxes[4 * i + c] = asg.targetBboxes[4 * o + c] / s;
    let w = 0;
    for (let c = 0; c < nc; c++) w = f(w + asg.targetScores[o * nc + c]);
    t.weight[i] = w;
    t.area[i] = f(f(t.boxes[4 * i + 2] - t.boxes[4 * i]) * f(t.boxes[4 * i + 3] - t.boxes[4 * i + 1]));
    const row = gt.row[b * gt.M + asg.targetGtIdx[o]];
    if (row < 0) return;
    for (let k = 0; k < K; k++) {
      const src = (row * K + k) * ndim,
        dst = (i * K + k) * ndim;
      // pixels (x·w, y·h) then grid units; Ultralytics divides the visibility by the stride too
      t.kpts[dst] = f(gt.kpts[src] * imgW) / s;
      t.kpts[dst + 1] = f(gt.kpts[src + 1] * imgH) / s;
      if (ndim === 3) t.kpts[dst + 2] = gt.kpts[src + 2] / s;
    }
  });
  return t;
}
