// BboxLoss (Ultralytics 8.2 utils/loss.py): CIoU loss and Distribution Focal Loss on the
// foreground anchors, each weighted by the anchor's target score and divided by the sum of all
// target scores. Everything here lives in grid units (pixels / the anchor's stride).
import { Tensor, div, gather, logSoftmax, mean, mul, neg, reshape, sub, sum, add, tensor } from '../../engine/index.js';
import { bboxCiou, bboxToDistHost } from './bbox.js';

export interface FgBoxTargets {
  /** N foreground anchors */
  n: number;
  /** (N, 2) anchor centres, grid units */
  anchors: Float32Array;
  /** (N, 4) target boxes, xyxy in grid units */
  boxes: Float32Array;
  /** (N) target_scores summed over classes */
  weight: Float32Array;
}

export class BboxLoss {
  constructor(readonly regMax = 16) {}

  /**
   * predDist (N, 4*regMax) raw DFL logits and predBoxes (N, 4) decoded xyxy boxes of the
   * foreground anchors; both carry the gradient. Returns the two 0-d losses (before gains).
   */
  forward(predDist: Tensor, predBoxes: Tensor, t: FgBoxTargets, targetScoresSum: number): { iou: Tensor; dfl: Tensor } {
    const { n } = t,
      R = this.regMax;
    if (predDist.shape[0] !== n || predDist.shape[1] !== 4 * R || predBoxes.shape[0] !== n || predBoxes.shape[1] !== 4)
      throw new Error(
        `BboxLoss: expects predDist (N, ${4 * R}) and predBoxes (N, 4) for N = ${n}, got [${predDist.shape}] and [${predBoxes.shape}]`,
      );
    const opts = { dtype: predDist.dtype, device: predDist.device };
    const weight = tensor(t.weight, [n, 1], opts); // (N, 1)

    const ciou = bboxCiou(predBoxes, tensor(t.boxes, [n, 4], opts), 1); // (N, 1)
    const iou = div(sum(mul(sub(1, ciou), weight)), targetScoresSum);

    // DFL: each side's target distance d lies between bins l = floor(d) and l + 1; the loss is the
    // cross-entropy to both bins weighted by closeness, (l + 1 - d) and (d - l).
    const ltrb = new Float32Array(4 * n);
    for (let i = 0; i < n; i++) bboxToDistHost(t.anchors[2 * i], t.anchors[2 * i + 1], t.boxes, 4 * i, R, ltrb, 4 * i);
    const left = new Int32Array(4 * n),
      right = new Int32Array(4 * n),
      wl = new Float32Array(4 * n),
      wr = new Float32Array(4 * n);
    for (let i = 0; i < 4 * n; i++) {
      left[i] = Math.trunc(ltrb[i]);
      right[i] = left[i] + 1;
      wl[i] = right[i] - ltrb[i];
      wr[i] = 1 - wl[i];
    }
    const logp = logSoftmax(reshape(predDist, [4 * n, R]), 1); // (4N, R)
    const pick = (idx: Int32Array) =>
      neg(gather(logp, 1, tensor(idx, [4 * n, 1], { dtype: 'i32', device: opts.device }))); // (4N, 1)
    const perSide = add(mul(pick(left), tensor(wl, [4 * n, 1], opts)), mul(pick(right), tensor(wr, [4 * n, 1], opts)));
    const perAnchor = mean(reshape(perSide, [n, 4]), 1, true); // (N, 1)
    const dfl = div(sum(mul(perAnchor, weight)), targetScoresSum);
    return { iou, dfl };
  }
}
