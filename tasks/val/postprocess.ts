// The mapping of val's detections back to the original image (PoseValidator._prepare_pred). Val's
// NMS is predict's (tasks/predict/nms.ts) with multiLabel, as PoseValidator.postprocess calls it.
//
// Imports: ../predict/nms (types), ../data/letterbox.

import type { Detections } from '../predict/nms.js';
import { scaleBoxes, scaleCoords, type RatioPad } from '../data/letterbox.js';

/** One image's detections in original pixels: boxes (n, 4) xyxy, conf, cls, keypoints (n, K, dims). */
export interface NativeDetections {
  n: number;
  boxes: Float32Array;
  conf: Float32Array;
  cls: Float32Array;
  kpts: Float32Array;
}

/** _prepare_pred: scale_boxes and scale_coords from the letterboxed input to the original image. */
export function toNative(
  det: Detections,
  inputShape: [number, number],
  ori: [number, number],
  ratioPad: RatioPad,
  kptShape: [number, number],
): NativeDetections {
  const { n, cols, data } = det;
  const per = kptShape[0] * kptShape[1];
  const boxes = new Float32Array(n * 4),
    conf = new Float32Array(n),
    cls = new Float32Array(n),
    kpts = new Float32Array(n * per);
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
