// KeypointLoss (Ultralytics 8.2 utils/loss.py) and the keypoint-visibility BCE of v8PoseLoss, on the
// foreground anchors. Distances are in grid units; the box area gives the OKS scale.
import { Tensor, add, div, exp, mul, narrow, neg, reshape, sub, sum, tensor } from '../../engine/index.js';
import { bceWithLogits } from './bce.js';

/** COCO keypoint OKS sigmas (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles); the loss and val's OKS share them. */
export const OKS_SIGMA: readonly number[] = [
  0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89,
].map((s) => s / 10);

/** Ultralytics' sigmas: COCO's for the 17-keypoint person skeleton, else 1/K for every keypoint. */
export function keypointSigmas(kptShape: readonly [number, number]): number[] {
  const [K, ndim] = kptShape;
  return K === 17 && ndim === 3 ? [...OKS_SIGMA] : new Array<number>(K).fill(1 / K);
}

export interface FgKeypointTargets {
  n: number;
  /** (N, K, ndim) target keypoints in grid units (visibility divided by the stride too, as Ultralytics; only != 0 matters) */
  kpts: Float32Array;
  /** (N) target box area in grid units² */
  area: Float32Array;
}

export class KeypointLoss {
  readonly sigmas: number[];

  /** OKS sigmas for COCO's 17-keypoint skeleton, else 1/K for every keypoint (Ultralytics' rule). */
  constructor(
    readonly kptShape: [number, number],
    sigmas?: number[],
  ) {
    const K = kptShape[0];
    this.sigmas = sigmas ?? keypointSigmas(kptShape);
    if (this.sigmas.length !== K) throw new Error(`KeypointLoss: ${this.sigmas.length} sigmas for ${K} keypoints`);
  }

  /**
   * pred (N, K, ndim): decoded keypoints of the foreground anchors (x, y in grid units, raw
   * visibility logit). Returns 0-d losses (before gains): location
   *   mean over (N, K) of  K / visible(n) · (1 - exp(-d² / ((2σ)² · 2 · (area + 1e-9)))) · visible
   * and visibility: mean BCE-with-logits of the visibility logit against visible (0/1), or null
   * when ndim is 2.
   */
  forward(pred: Tensor, t: FgKeypointTargets): { loc: Tensor; vis: Tensor | null } {
    const [K, ndim] = this.kptShape,
      n = t.n;
    if (pred.ndim !== 3 || pred.shape[0] !== n || pred.shape[1] !== K || pred.shape[2] !== ndim)
      throw new Error(`KeypointLoss: expects pred (N = ${n}, ${K}, ${ndim}), got [${pred.shape}]`);
    const opts = { dtype: pred.dtype, device: pred.device };
    const gx = new Float32Array(n * K),
      gy = new Float32Array(n * K),
      visible = new Float32Array(n * K);
    const scale = new Float32Array(n * K),
      denom = new Float32Array(n * K);
    for (let i = 0; i < n; i++) {
      let count = 0;
      for (let k = 0; k < K; k++) {
        const o = (i * K + k) * ndim;
        gx[i * K + k] = t.kpts[o];
        gy[i * K + k] = t.kpts[o + 1];
        visible[i * K + k] = ndim === 3 ? (t.kpts[o + 2] !== 0 ? 1 : 0) : 1;
        count += visible[i * K + k];
        denom[i * K + k] = (2 * this.sigmas[k]) ** 2 * (t.area[i] + 1e-9) * 2;
      }
      // kpt_loss_factor = K / (visible count + 1e-9), folded with the visibility mask
      for (let k = 0; k < K; k++) scale[i * K + k] = (K / (count + 1e-9)) * visible[i * K + k];
    }
    const col = (c: number) => reshape(narrow(pred, 2, c, 1), [n, K]); // (N, K)
    const dx = sub(col(0), tensor(gx, [n, K], opts)),
      dy = sub(col(1), tensor(gy, [n, K], opts));
    const e = div(add(mul(dx, dx), mul(dy, dy)), tensor(denom, [n, K], opts));
    const oks = sub(1, exp(neg(e))); // (N, K)
    const loc = div(sum(mul(oks, tensor(scale, [n, K], opts))), n * K);
    const vis = ndim === 3 ? div(sum(bceWithLogits(col(2), tensor(visible, [n, K], opts))), n * K) : null;
    return { loc, vis };
  }
}
