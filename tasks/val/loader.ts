// Ultralytics' val dataloader for pose, without torch: rectangular batches (BaseDataset.set_rectangle
// with rect=True, stride 32, pad 0.5), each image resized so its long side is imgsz
// (BaseDataset.load_image), letterboxed to its batch shape (LetterBox(scaleup=False)), and the
// labels taken to the original image's pixels the way DetectionValidator._prepare_batch and
// PoseValidator._prepare_batch do (via the letterboxed image and ratio_pad).
//
// Imports: ../data (images, letterbox, dataset types), nn/loss (the loss's batch type).

import { InputError } from '../../engine/errors.js';
import { readImage, type RgbImage } from '../data/image.js';
import { letterbox, scaleBoxes, scaleCoords, toCHWFloat, type RatioPad } from '../data/letterbox.js';
import { resizeBilinear } from '../data/resize.js';
import type { PoseSample } from '../data/dataset.js';
import type { BatchTargets } from '../../nn/loss/targets.js';

/** Images in batch order and the (height, width) every batch is letterboxed to. */
// Ultralytics' set_rectangle lives with the dataset code; val uses the same plan.
export { rectBatches, type RectPlan } from '../data/loader.js';

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
  /** the same labels in letterboxed-image pixels, for the val_batch plots */
  lbBoxes: Float32Array;
  lbKpts: Float32Array;
}

export interface ValBatch {
  shape: [number, number]; // (H, W) of every image in the batch
  images: ValImage[];
  letterboxed: RgbImage[];
  /** (B, 3, H, W) in [0, 1] */
  input: Float32Array;
}

/** load_image: resize (INTER_LINEAR) so the long side is imgsz, each side ceil'ed and capped at imgsz. */
export function loadResized(file: string, imgsz: number): { img: RgbImage; ori: [number, number] } {
  const im = readImage(file);
  const h0 = im.height,
    w0 = im.width;
  const r = imgsz / Math.max(h0, w0);
  if (r === 1) return { img: im, ori: [h0, w0] };
  const w = Math.min(Math.ceil(w0 * r), imgsz),
    h = Math.min(Math.ceil(h0 * r), imgsz);
  return { img: resizeBilinear(im, w, h), ori: [h0, w0] };
}

/**
 * Loads, resizes and letterboxes the samples of one batch, and maps their labels. An image that
 * fails to decode (InputError) goes to `onSkip` and is left out of the batch when `onSkip` is given.
 */
export function loadValBatch(
  samples: PoseSample[],
  shape: [number, number],
  imgsz: number,
  kptShape: [number, number],
  onSkip?: (e: InputError) => void,
): ValBatch {
  const [H, W] = shape;
  const nk = kptShape[0];
  const images: ValImage[] = [];
  const letterboxed: RgbImage[] = [];
  const input = new Float32Array(samples.length * 3 * H * W);
  for (const s of samples) {
    const b = images.length;
    let loaded: ReturnType<typeof loadResized>;
    try {
      loaded = loadResized(s.imFile, imgsz);
    } catch (e) {
      if (!onSkip || !(e instanceof InputError)) throw e;
      onSkip(e);
      continue;
    }
    const { img, ori } = loaded;
    const lb = letterbox(img, { newShape: shape, scaleup: false, auto: false, center: true });
    if (lb.image.width !== W || lb.image.height !== H)
      throw new Error(`${s.imFile}: letterboxed to ${lb.image.width}x${lb.image.height}, expected ${W}x${H}`);
    letterboxed.push(lb.image);
    input.set(toCHWFloat(lb.image), b * 3 * H * W);
    // Ultralytics' ratio_pad: (resized / original per side, letterbox padding); only the height
    // ratio is used as the gain when mapping back.
    const ratioPad: RatioPad = { ratio: [img.height / ori[0], img.width / ori[1]], pad: lb.pad };
    const [left, top] = lb.pad;
    const r = lb.ratio[0];
    const { cls, bboxes, keypoints } = s.labels;
    const n = cls.length;
    // LetterBox._update_labels: normalized -> resized-image pixels -> letterbox scale -> padding.
    const lbBoxes = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) {
      const [cx, cy, w, h] = bboxes.subarray(i * 4, i * 4 + 4);
      lbBoxes[i * 4] = (cx - w / 2) * img.width * r + left;
      lbBoxes[i * 4 + 1] = (cy - h / 2) * img.height * r + top;
      lbBoxes[i * 4 + 2] = (cx + w / 2) * img.width * r + left;
      lbBoxes[i * 4 + 3] = (cy + h / 2) * img.height * r + top;
    }
    const lbKpts = new Float32Array(n * nk * 3);
    for (let q = 0; q < n * nk; q++) {
      lbKpts[q * 3] = keypoints[q * 3] * img.width * r + left;
      lbKpts[q * 3 + 1] = keypoints[q * 3 + 1] * img.height * r + top;
      lbKpts[q * 3 + 2] = keypoints[q * 3 + 2];
    }
    // _prepare_batch: letterboxed pixels -> original pixels (scale_boxes / scale_coords, clipped).
    const boxes = scaleBoxes(shape, lbBoxes.slice(), ori, { ratioPad });
    const kpts = scaleCoords(shape, lbKpts.slice(), ori, { ratioPad, stride: 3 });
    images.push({ imFile: s.imFile, ori, ratioPad, cls, boxes, kpts, lbBoxes, lbKpts });
  }
  return { shape, images, letterboxed, input: input.subarray(0, images.length * 3 * H * W) };
}

/** The targets of a val batch in the collate layout the loss takes (normalized to the letterboxed input). */
export function valBatchTargets(batch: ValBatch): BatchTargets {
  const [H, W] = batch.shape;
  const batchIdx: number[] = [],
    cls: number[] = [],
    bboxes: number[] = [],
    keypoints: number[] = [];
  batch.images.forEach((im, b) => {
    const n = im.cls.length,
      per = im.lbKpts.length / Math.max(n, 1);
    for (let i = 0; i < n; i++) {
      const [x1, y1, x2, y2] = im.lbBoxes.subarray(i * 4, i * 4 + 4);
      batchIdx.push(b);
      cls.push(im.cls[i]);
      bboxes.push((x1 + x2) / 2 / W, (y1 + y2) / 2 / H, (x2 - x1) / W, (y2 - y1) / H);
      for (let q = 0; q < per; q += 3)
        keypoints.push(im.lbKpts[i * per + q] / W, im.lbKpts[i * per + q + 1] / H, im.lbKpts[i * per + q + 2]);
    }
  });
  return { batchIdx, cls, bboxes, keypoints };
}
