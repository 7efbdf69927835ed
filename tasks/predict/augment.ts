// augment=True (test-time augmentation) in predict and val, as Ultralytics 8.2.82's
// DetectionModel._predict_augment, which PoseModel inherits unchanged:
//   for (scale, flip) in (1, none), (0.83, left-right), (0.67, none):
//     x_i = scale_img(flip(x), scale, gs = max stride)   bilinear resize to (int(h*s), int(w*s)),
//                                                       then padded right/bottom to ceil(h*s/gs)*gs with 0.447
//     y_i = model(x_i)                                  (B, 4 + nc + nk, A_i)
//     _descale_pred: the box rows x, y, w, h divided by the scale; x -> W - x when flipped
//   _clip_augmented: the full-scale output loses its last A/21 columns (the P5 anchors), the 0.67 one
//   its first 16 * A/21 (the P3 anchors); the three are concatenated along the anchors.
// Only the four box rows are de-scaled and de-flipped: the class scores and, for pose, the keypoint
// rows pass through as they are, so keypoints of the 0.83 (flipped) and 0.67 passes stay in those
// passes' scaled, mirrored pixels. That is what 8.2.82 does and it is reproduced here as is (NMS
// then picks whichever pass's box wins, keypoints included).
//
// Imports: engine, ../train/multi_scale (F.interpolate bilinear).

import { tensor, type Tensor } from '../../engine/index.js';
import { interpolateBilinear } from '../train/multi_scale.js';

export interface AugmentableModel {
  predict(x: Tensor): Tensor;
  stride: number[];
}

const SCALES = [1, 0.83, 0.67];
const FLIPS = [null, 3, null] as const; // 3: flip along the width (torch dim 3)

/** x.flip(3) on a (B, C, H, W) array. */
function flipW(x: Float32Array, [B, C, H, W]: number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < B * C * H; r++) for (let j = 0; j < W; j++) out[r * W + j] = x[r * W + W - 1 - j];
  return out;
}

/** torch_utils.scale_img(img, ratio, same_shape=False, gs): resize, then pad to a gs multiple with 0.447. */
export function scaleImg(
  x: Float32Array,
  shape: number[],
  ratio: number,
  gs: number,
): { x: Float32Array; shape: number[] } {
  if (ratio === 1) return { x, shape };
  const [B, C, h, w] = shape;
  const s: [number, number] = [Math.trunc(h * ratio), Math.trunc(w * ratio)];
  const r = interpolateBilinear(x, shape, s);
  const H = Math.ceil((h * ratio) / gs) * gs,
    W = Math.ceil((w * ratio) / gs) * gs;
  const out = new Float32Array(B * C * H * W).fill(0.447);
  for (let p = 0; p < B * C; p++)
    for (let i = 0; i < s[0]; i++)
      out.set(r.subarray((p * s[0] + i) * s[1], (p * s[0] + i + 1) * s[1]), (p * H + i) * W);
  return { x: out, shape: [B, C, H, W] };
}

/** DetectionModel._predict_augment on `x` (B, 3, H, W): the merged output (B, C, A'), on x's device. */
export async function predictAugment(model: AugmentableModel, x: Tensor): Promise<Tensor> {
  if (!('layerInfo' in model))
    throw new Error(
      'augment=True: test-time augmentation runs the network at other sizes; an exported model has a fixed graph (use the .pt)',
    );
  const shape = [...x.shape];
  const [B, , , W0] = shape;
  const host = (await x.data()) as Float32Array;
  const gs = Math.trunc(Math.max(...model.stride));
  const ys: { d: Float32Array; C: number; A: number }[] = [];
  for (let k = 0; k < SCALES.length; k++) {
    const si = SCALES[k],
      fi = FLIPS[k];
    const xi = scaleImg(fi ? flipW(host, shape) : host, shape, si, gs);
    const t = tensor(xi.x, xi.shape, { device: x.device });
    let d: Float32Array, C: number, A: number;
    try {
      const y = model.predict(t);
      try {
        d = (await y.data()) as Float32Array;
        [, C, A] = y.shape;
      } finally {
        y.dispose();
      }
    } finally {
      t.dispose();
    }
    // _descale_pred: p[:, :4] /= scale (float32), then x = img_size[1] - x for the left-right flip
    const sf = Math.fround(si);
    for (let b = 0; b < B; b++)
      for (let r = 0; r < 4; r++)
        for (let a = 0; a < A; a++) {
          const o = (b * C + r) * A + a;
          let v = si === 1 ? d[o] : Math.fround(d[o] / sf);
          if (r === 0 && fi === 3) v = Math.fround(W0 - v);
          d[o] = v;
        }
    ys.push({ d, C, A });
  }
  // _clip_augmented with nl = 3 detection layers: g = 1 + 4 + 16
  const nl = model.stride.length;
  const g = Array.from({ length: nl }, (_, i) => 4 ** i).reduce((s, v) => s + v, 0);
  const cut0 = Math.floor(ys[0].A / g); // large objects: the last layer's anchors of the full scale
  const cut2 = Math.floor(ys[2].A / g) * 4 ** (nl - 1); // small objects: the first layer's anchors of the smallest
  const ranges = [
    [0, cut0 ? ys[0].A - cut0 : 0], // y[0][..., :-0] is empty in Python too
    [0, ys[1].A],
    [cut2, ys[2].A],
  ];
  const C = ys[0].C;
  const At = ranges.reduce((s, [a, e]) => s + e - a, 0);
  const out = new Float32Array(B * C * At);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++) {
      let o = (b * C + c) * At;
      ys.forEach(({ d, A }, k) => {
        const [a, e] = ranges[k];
        out.set(d.subarray((b * C + c) * A + a, (b * C + c) * A + e), o);
        o += e - a;
      });
    }
  return tensor(out, [B, C, At], { device: x.device });
}
