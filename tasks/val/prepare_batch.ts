// Ultralytics' DetectionValidator._prepare_batch + PoseValidator._prepare_batch: each image's labels,
// taken from the collated val batch (normalized to the letterboxed input, as PoseDataset's val mode
// builds it), to letterboxed pixels and then through ratio_pad to the original image's pixels
// (scale_boxes / scale_coords, clipped), where the detections are matched. The letterboxed-pixel
// labels stay for the val_batch plots and save_hybrid. float32 step by step, as torch.
//
// Imports: ../data (the batch type, scale_boxes / scale_coords).

import type { PoseBatch } from '../data/loader.js';
import { scaleBoxes, scaleCoords, type RatioPad } from '../data/letterbox.js';

const f = Math.fround;

/** One image of a val batch with its labels. */
export interface ValImage {
  imFile: string;
  /** original (height, width) */
  ori: [number, number];
  /** letterbox -> original: gain = resized height / original height, pad = (left, top) */
  ratioPad: RatioPad;
  cls: Float32Array; // (n)
  /** (n, 4) xyxy in original pixels, clipped */
  boxes: Float32Array;
  /** (n, K, 3) x, y in original pixels (clipped) and visibility */
  kpts: Float32Array;
  /** the same labels in letterboxed-image pixels (xyxy; x, y, visibility) */
  lbBoxes: Float32Array;
  lbKpts: Float32Array;
}

/** The images of a val batch (B, 3, H, W) with their labels in letterboxed and original pixels. */
export function prepareBatch(batch: PoseBatch, nkpt: number): ValImage[] {
  const [B, , H, W] = batch.shape;
  const per = nkpt * 3;
  const first = new Array<number>(B + 1).fill(0); // objects of image b: first[b] .. first[b + 1] - 1
  for (const b of batch.batchIdx) first[b + 1]++;
  for (let b = 0; b < B; b++) first[b + 1] += first[b];
  return batch.imFiles.map((imFile, b) => {
    const [o, n] = [first[b], first[b + 1] - first[b]];
    // xywh2xyxy(bbox) * imgsz[[1, 0, 1, 0]]
    const lbBoxes = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) {
      const [cx, cy, w, h] = batch.bboxes.subarray((o + i) * 4, (o + i) * 4 + 4);
      const [dw, dh] = [f(w / 2), f(h / 2)];
      lbBoxes.set([f(f(cx - dw) * W), f(f(cy - dh) * H), f(f(cx + dw) * W), f(f(cy + dh) * H)], i * 4);
    }
    // kpts[..., 0] *= w; kpts[..., 1] *= h
    const lbKpts = batch.keypoints.slice(o * per, (o + n) * per);
    for (let q = 0; q < lbKpts.length; q += 3) {
      lbKpts[q] = f(lbKpts[q] * W);
      lbKpts[q + 1] = f(lbKpts[q + 1] * H);
    }
    const ori = batch.oriShapes[b];
    const ratioPad = batch.ratioPad[b];
    return {
      imFile,
      ori,
      ratioPad,
      cls: batch.cls.slice(o, o + n),
      boxes: scaleBoxes([H, W], lbBoxes.slice(), ori, { ratioPad }),
      kpts: scaleCoords([H, W], lbKpts.slice(), ori, { ratioPad, stride: 3 }),
      lbBoxes,
      lbKpts,
    };
  });
}
