// save_hybrid=True (Ultralytics 8.2.82's DetectionValidator.preprocess + non_max_suppression(labels=)):
// each image's ground-truth boxes join its candidates after the confidence filter as rows of
// (xywh in letterboxed pixels, a one-hot class score of 1.0, zeros for the keypoints), so NMS keeps
// them and suppresses the predictions they overlap. Ultralytics warns that mAP is then wrong: the
// option exists for autolabelling (save_txt writes the hybrid labels).
//
// Here the label rows are appended as extra anchors at the end of the (B, 4 + nc + nm, A) output:
// NMS lists candidates in anchor order, so they come after the image's filtered predictions exactly
// as torch.cat((x, v)) puts them, and padding anchors (score 0) are never candidates (conf >= 0).
//
// Imports: ./prepare_batch (the batch's labels, types).

import type { ValImage } from './prepare_batch.js';

export const HYBRID_WARNING =
  "WARNING ⚠️ 'save_hybrid=True' will append ground truth to predictions for autolabelling.\n" +
  "WARNING ⚠️ 'save_hybrid=True' will cause incorrect mAP.\n";

/** pred (B, ch, A) -> (B, ch, A + max labels) with every image's labels as score-1.0 anchors. */
export function appendHybridLabels(
  pred: Float32Array,
  shape: readonly number[],
  images: Pick<ValImage, 'cls' | 'lbBoxes'>[],
  nc: number,
): { pred: Float32Array; shape: number[] } {
  const [bs, ch, na] = shape;
  const extra = Math.max(0, ...images.map((im) => im.cls.length));
  if (!extra) return { pred, shape: [...shape] };
  const A = na + extra;
  const out = new Float32Array(bs * ch * A);
  for (let b = 0; b < bs; b++) {
    for (let c = 0; c < ch; c++) out.set(pred.subarray((b * ch + c) * na, (b * ch + c + 1) * na), (b * ch + c) * A);
    const { cls, lbBoxes } = images[b];
    for (let j = 0; j < cls.length; j++) {
      const a = na + j;
      const [x1, y1, x2, y2] = lbBoxes.subarray(j * 4, j * 4 + 4);
      // batch["bboxes"] are the letterboxed labels as normalized xywh; times (w, h, w, h) gives these
      const xywh = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1];
      for (let q = 0; q < 4; q++) out[(b * ch + q) * A + a] = xywh[q];
      const k = cls[j];
      if (!(Number.isInteger(k) && k >= 0 && k < nc))
        throw new Error(`save_hybrid: label class ${k} is outside the model's ${nc} classes`);
      out[(b * ch + 4 + k) * A + a] = 1;
    }
  }
  return { pred: out, shape: [bs, ch, A] };
}
