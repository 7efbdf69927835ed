// Ultralytics' LetterBox (ultralytics/data/augment.py) and the two functions that undo it for
// predictions, ops.scale_boxes and ops.scale_coords, on plain arrays. Numbers follow Python:
// round() is round-half-to-even, shapes are (height, width), and box/keypoint arithmetic is done in
// float32 as torch does on the CPU (x - pad and x / gain, each rounded to float32).
//
// Imports only ./resize.ts and ./image.ts types.

import type { RgbImage } from './image.js';
import { resizeBilinear } from './resize.js';
import { pyRound } from '../../engine/math.js';

export interface LetterBoxOptions {
  /** Target (height, width), or one number for a square. Default 640. */
  newShape?: number | [number, number];
  /** Pad only up to the next multiple of `stride` (minimum rectangle; predict on native models). */
  auto?: boolean;
  /** Stretch to newShape without keeping the aspect ratio (no padding). */
  scaleFill?: boolean;
  /** Allow enlarging; false only shrinks (val). Default true. */
  scaleup?: boolean;
  /** Split the padding between both sides; false puts it all right/bottom. Default true. */
  center?: boolean;
  stride?: number;
  /** Border colour, all channels. Ultralytics uses 114. */
  padValue?: number;
}

export interface LetterBoxResult {
  image: RgbImage;
  /** Scale factors (width, height); equal unless scaleFill. */
  ratio: [number, number];
  /** Integer padding added on the left and top: Ultralytics' ratio_pad[1] = (left, top). */
  pad: [number, number];
  /** Padding per side before rounding (Ultralytics' dw, dh after halving when centred). */
  dw: number;
  dh: number;
}

/** LetterBox()(image=img): resize with cv2.INTER_LINEAR (only if the size changes), then pad. */
export function letterbox(img: RgbImage, opts: LetterBoxOptions = {}): LetterBoxResult {
  const { auto = false, scaleFill = false, scaleup = true, center = true, stride = 32, padValue = 114 } = opts;
  const shape = opts.newShape ?? 640;
  const [newH, newW] = typeof shape === 'number' ? [shape, shape] : shape;
  const { width: w, height: h } = img;

  let r = Math.min(newH / h, newW / w);
  if (!scaleup) r = Math.min(r, 1.0);
  let ratio: [number, number] = [r, r];
  // At least one pixel: a 4000x3 image at 640 would round to 0 rows, which cv2.resize refuses.
  let unpadW = Math.max(1, pyRound(w * r));
  let unpadH = Math.max(1, pyRound(h * r));
  let dw = newW - unpadW;
  let dh = newH - unpadH;
  if (auto) {
    dw = ((dw % stride) + stride) % stride; // np.mod: result has the sign of the divisor
    dh = ((dh % stride) + stride) % stride;
  } else if (scaleFill) {
    dw = 0;
    dh = 0;
    unpadW = newW;
    unpadH = newH;
    ratio = [newW / w, newH / h];
  }
  if (center) {
    dw /= 2;
    dh /= 2;
  }

  const resized = unpadW !== w || unpadH !== h ? resizeBilinear(img, unpadW, unpadH) : img;
  const top = center ? pyRound(dh - 0.1) : 0;
  const bottom = pyRound(dh + 0.1);
  const left = center ? pyRound(dw - 0.1) : 0;
  const right = pyRound(dw + 0.1);
  const image = copyMakeBorder(resized, top, bottom, left, right, padValue);
  return { image, ratio, pad: [left, top], dw, dh };
}

/** cv2.copyMakeBorder(..., BORDER_CONSTANT, value=(v, v, v)) for an RGB image. */
function copyMakeBorder(img: RgbImage, top: number, bottom: number, left: number, right: number, value: number): RgbImage {
  const width = img.width + left + right;
  const height = img.height + top + bottom;
  const data = new Uint8Array(width * height * 3).fill(value);
  const rowBytes = img.width * 3;
  for (let y = 0; y < img.height; y++) {
    data.set(img.data.subarray(y * rowBytes, (y + 1) * rowBytes), ((y + top) * width + left) * 3);
  }
  return { width, height, data };
}

/** (H, W, 3) uint8 RGB -> (3, H, W) float32 in [0, 1], the tensor layout the model takes. */
export function toCHWFloat(img: RgbImage): Float32Array {
  const { width: w, height: h, data } = img;
  const plane = w * h;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    // Ultralytics: torch.from_numpy(uint8).float() / 255, i.e. float32 v / 255.
    out[i] = data[3 * i] / 255;
    out[plane + i] = data[3 * i + 1] / 255;
    out[2 * plane + i] = data[3 * i + 2] / 255;
  }
  return out;
}

/** How a letterboxed image relates to the original: Ultralytics' ratio_pad. */
export interface RatioPad {
  ratio: [number, number]; // only ratio[0] is used as the gain, as in Ultralytics
  pad: [number, number]; // (left, top)
}

export interface ScaleOptions {
  ratioPad?: RatioPad;
  /** Subtract the letterbox padding (default true). */
  padding?: boolean;
  /** Values per row: 4+ for boxes (xyxy first), 2 or 3 for keypoints (x, y[, visibility]). */
  stride?: number;
}

type Shape = [number, number]; // (height, width)
const f32 = Math.fround;

function gainAndPad(img1: Shape, img0: Shape, ratioPad: RatioPad | undefined, roundPad: boolean): [number, number, number] {
  if (ratioPad) return [ratioPad.ratio[0], ratioPad.pad[0], ratioPad.pad[1]];
  const gain = Math.min(img1[0] / img0[0], img1[1] / img0[1]);
  const padX = (img1[1] - img0[1] * gain) / 2;
  const padY = (img1[0] - img0[0] * gain) / 2;
  return roundPad ? [gain, pyRound(padX - 0.1), pyRound(padY - 0.1)] : [gain, padX, padY];
}

const clip = (v: number, hi: number): number => f32(Math.min(Math.max(v, 0), hi));

/**
 * ops.scale_boxes: xyxy boxes from the letterboxed image (img1Shape) back to the original
 * (img0Shape), clipped to it. Rows of `stride` values (default 4); edits `boxes` in place.
 * With `xywh`, only x/y get the padding and nothing is clipped, as in Ultralytics.
 */
export function scaleBoxes(img1Shape: Shape, boxes: Float32Array, img0Shape: Shape, opts: ScaleOptions & { xywh?: boolean } = {}): Float32Array {
  const { padding = true, stride = 4, xywh = false } = opts;
  const [gain, padX, padY] = gainAndPad(img1Shape, img0Shape, opts.ratioPad, true);
  const g = f32(gain);
  const px = f32(padX);
  const py = f32(padY);
  for (let i = 0; i + 4 <= boxes.length; i += stride) {
    for (let k = 0; k < 4; k++) {
      let v = boxes[i + k];
      if (padding && (k < 2 || !xywh)) v = f32(v - (k % 2 === 0 ? px : py));
      v = f32(v / g);
      boxes[i + k] = xywh ? v : clip(v, k % 2 === 0 ? img0Shape[1] : img0Shape[0]);
    }
  }
  return boxes;
}

/**
 * ops.scale_coords: keypoints (x, y[, visibility]) back to the original image, clipped; with
 * `normalize`, divided by the original width/height. Only x and y change; edits in place.
 */
export function scaleCoords(img1Shape: Shape, coords: Float32Array, img0Shape: Shape, opts: ScaleOptions & { normalize?: boolean } = {}): Float32Array {
  const { padding = true, stride = 3, normalize = false } = opts;
  const [gain, padX, padY] = gainAndPad(img1Shape, img0Shape, opts.ratioPad, false);
  const g = f32(gain);
  const pad = [f32(padX), f32(padY)];
  const size = [img0Shape[1], img0Shape[0]];
  for (let i = 0; i + 2 <= coords.length; i += stride) {
    for (let k = 0; k < 2; k++) {
      let v = coords[i + k];
      if (padding) v = f32(v - pad[k]);
      v = clip(f32(v / g), size[k]);
      coords[i + k] = normalize ? f32(v / size[k]) : v;
    }
  }
  return coords;
}
