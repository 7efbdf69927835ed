// The Pose head: Ultralytics' Detect (box branch cv2, class branch cv3, DFL) plus the keypoint
// branch cv4, with anchor generation and box/keypoint decoding (ultralytics/nn/modules/head.py and
// ultralytics/utils/tal.py, version 8.2). Shapes: nl levels, level i is (B, C_i, h_i, w_i),
// A = sum of h_i * w_i anchors ordered level by level, row-major inside a level.
import {
  Tensor,
  add,
  concat,
  div,
  keep,
  mul,
  narrow,
  reshape,
  sigmoid,
  split,
  sub,
  tensor,
  chunk,
  type Device,
} from '../engine/index.js';
import { Module, ModuleList, Sequential } from './module.js';
import { Conv2d } from './layers.js';
import { Conv, DFL } from './blocks.js';
import { makeAnchors } from './anchors.js';
import { anchors } from '../engine/ops/anchors.js';

export { makeAnchors };

/** Distances (left, top, right, bottom) from anchor points to a box: (B, 4, A) + (1, 2, A) -> (B, 4, A), xywh or xyxy. */
export function dist2bbox(distance: Tensor, anchorPoints: Tensor, xywh = true, dim = 1): Tensor {
  const [lt, rb] = chunk(distance, 2, dim);
  const x1y1 = sub(anchorPoints, lt);
  const x2y2 = add(anchorPoints, rb);
  if (xywh) return concat([div(add(x1y1, x2y2), 2), sub(x2y2, x1y1)], dim);
  return concat([x1y1, x2y2], dim);
}

/** Conv(x, c, 3) -> Conv(c, c, 3) -> Conv2d(c, out, 1): one branch of one level. */
function branch(x: number, c: number, out: number, device?: Device) {
  return new Sequential(
    new Conv(x, c, 3, 1, { device }),
    new Conv(c, c, 3, 1, { device }),
    new Conv2d(c, out, 1, { device }),
  );
}

export type PoseTrainOutput = [feats: Tensor[], kpt: Tensor];
export type PoseEvalOutput = [pred: Tensor, raw: PoseTrainOutput];

export class Pose extends Module {
  readonly regMax = 16;
  readonly nl: number;
  /** outputs per anchor of the detect part: 4 * regMax + nc */
  readonly no: number;
  /** keypoint outputs per anchor: K * ndim */
  readonly nk: number;
  /** stride of each level, set when the model is built (8, 16, 32[, 64]) */
  stride: number[];
  private anchorCache: { key: string; points: Tensor; strides: Tensor } | null = null;

  constructor(
    readonly nc: number,
    readonly kptShape: [number, number],
    ch: number[],
    device?: Device,
  ) {
    super();
    this.nl = ch.length;
    this.no = nc + this.regMax * 4;
    this.nk = kptShape[0] * kptShape[1];
    this.stride = new Array(this.nl).fill(0);
    const c2 = Math.max(16, Math.floor(ch[0] / 4), this.regMax * 4);
    const c3 = Math.max(ch[0], Math.min(nc, 100));
    const c4 = Math.max(Math.floor(ch[0] / 4), this.nk);
    this.registerModule('cv2', new ModuleList(ch.map((x) => branch(x, c2, 4 * this.regMax, device))));
    this.registerModule('cv3', new ModuleList(ch.map((x) => branch(x, c3, nc, device))));
    this.registerModule('dfl', new DFL(this.regMax, device));
    this.registerModule('cv4', new ModuleList(ch.map((x) => branch(x, c4, this.nk, device))));
  }

  private branches(name: 'cv2' | 'cv3' | 'cv4') {
    return this.child(name) as ModuleList<Sequential>;
  }

  /**
   * Detect.bias_init: box logits start at 1.0; class logits at log(5 / nc / (640 / s)^2), the prior
   * of ~5 objects per 640 image spread over the level's cells. Needs the strides.
   */
  biasInit() {
    const cv2 = this.branches('cv2'),
      cv3 = this.branches('cv3');
    for (let i = 0; i < this.nl; i++) {
      const box = cv2.at(i).at(2) as Conv2d,
        cls = cv3.at(i).at(2) as Conv2d;
      box.registerParameter(
        'bias',
        tensor(new Float32Array(box.outChannels).fill(1.0), [box.outChannels], { device: box.weight.device }),
      );
      const prior = Math.log(5 / this.nc / (640 / this.stride[i]) ** 2);
      cls.registerParameter(
        'bias',
        tensor(new Float32Array(cls.outChannels).fill(prior), [cls.outChannels], { device: cls.weight.device }),
      );
    }
  }

  /**
   * Train mode: [per-level maps (B, no, h_i, w_i), raw keypoints (B, nk, A)], what the loss takes.
   * Eval mode: [(B, 4 + nc + nk, A) decoded boxes xywh in pixels, class scores, keypoints; the raw pair].
   */
  override forward(xs: Tensor[]): PoseTrainOutput | PoseEvalOutput {
    const bs = xs[0].shape[0];
    const cv2 = this.branches('cv2'),
      cv3 = this.branches('cv3'),
      cv4 = this.branches('cv4');
    const kpt = concat(
      xs.map((x, i) => reshape(cv4.at(i).forward(x), [bs, this.nk, -1])),
      2,
    ); // (B, nk, A)
    const feats = xs.map((x, i) => concat([cv2.at(i).forward(x), cv3.at(i).forward(x)], 1)); // (B, no, h_i, w_i)
    if (this.training) return [feats, kpt];
    const y = this.inference(feats); // (B, 4 + nc, A)
    return [concat([y, this.kptsDecode(kpt)], 1), [feats, kpt]];
  }

  /**
   * Anchor points (2, A) and strides (1, A) for these feature maps (the engine's `anchors` op),
   * cached while shapes stay the same; never cached on the meta device, where each trace records them.
   */
  anchors(feats: Tensor[]): { points: Tensor; strides: Tensor } {
    const sizes = feats.map((f) => [f.shape[2], f.shape[3]] as [number, number]);
    const device = feats[0].device;
    const key = `${device.type}:${sizes.join(';')}:${this.stride.join(',')}`;
    if (this.anchorCache?.key !== key || device.type === 'meta') {
      this.anchorCache?.points.dispose();
      this.anchorCache?.strides.dispose();
      const [points, strides] = anchors(feats, this.stride);
      this.anchorCache = { key, points: keep(points), strides: keep(strides) };
    }
    return this.anchorCache;
  }

  /** Detect._inference: DFL-decoded boxes (xywh, pixels) and sigmoid class scores, (B, 4 + nc, A). */
  inference(feats: Tensor[]): Tensor {
    const bs = feats[0].shape[0];
    const { points, strides } = this.anchors(feats); // (2, A), (1, A)
    const xCat = concat(
      feats.map((f) => reshape(f, [bs, this.no, -1])),
      2,
    ); // (B, no, A)
    const [box, cls] = split(xCat, [this.regMax * 4, this.nc], 1); // (B, 64, A), (B, nc, A)
    const dbox = mul(dist2bbox(this.child('dfl')!.forward(box), points, true, 1), strides); // (B, 4, A)
    return concat([dbox, sigmoid(cls)], 1);
  }

  /**
   * Pose.kpts_decode: x, y = (raw * 2 + (anchor - 0.5)) * stride; visibility = sigmoid(raw).
   * (B, nk, A) -> (B, nk, A), keypoint-major (x0, y0, v0, x1, ...) as Ultralytics.
   */
  kptsDecode(kpts: Tensor): Tensor {
    const [K, ndim] = this.kptShape;
    const bs = kpts.shape[0],
      A = kpts.shape[2];
    const y = reshape(kpts, [bs, K, ndim, A]);
    const { points, strides } = this.anchors0(); // (2, A), (1, A)
    const grid = sub(points, 0.5); // grid cell index
    const xy = mul(add(mul(narrow(y, 2, 0, 2), 2.0), grid), strides); // (B, K, 2, A)
    const parts = ndim === 3 ? concat([xy, sigmoid(narrow(y, 2, 2, 1))], 2) : xy;
    return reshape(parts, [bs, this.nk, A]);
  }

  /** The anchors of the last inference (kptsDecode runs right after inference, as in Ultralytics). */
  private anchors0() {
    if (!this.anchorCache) throw new Error('Pose.kptsDecode: no anchors yet (run inference on the feature maps first)');
    return this.anchorCache;
  }
}
