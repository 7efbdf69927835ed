// v8PoseLoss (Ultralytics 8.2 utils/loss.py): the YOLOv8-pose training criterion.
//
//   loss = (7.5·box + 12·pose + 1·kobj + 0.5·cls + 1.5·dfl) × batch size
//
// box: CIoU, dfl: distribution focal loss, cls: BCE on every anchor's class logits against the
// assigner's soft targets, pose: OKS-shaped keypoint distance, kobj: BCE on keypoint visibility.
//
// Flow of one call (B images, A anchors, no = 4·regMax + nc outputs, nk = K·ndim keypoint outputs):
//   1. the head's maps are viewed as (B, no, A); the DFL-decoded boxes and class scores are read
//      back without gradients, and the TaskAlignedAssigner runs on the host (see tal.ts for why);
//   2. the host turns its result into constant targets (class scores for all anchors; boxes, DFL
//      bins, keypoints and areas for the N foreground anchors) and uploads them;
//   3. the losses are built from engine ops on the raw outputs, the foreground rows picked with
//      indexSelect, so the gradient reaches the head outputs on every device.
import {
  Tensor,
  add,
  concat,
  dfl,
  div,
  indexSelect,
  mul,
  narrow,
  noGrad,
  permute,
  reshape,
  sigmoid,
  sub,
  sum,
  tensor,
  transpose,
  zeros,
} from '../../engine/index.js';
import { makeAnchors } from '../anchors.js';
import { TaskAlignedAssigner, type Assignment } from './tal.js';
import { BboxLoss } from './bbox_loss.js';
import { KeypointLoss } from './keypoint_loss.js';
import { bceWithLogits } from './bce.js';
import { buildTargets, fgTargets, type GtTargets, type BatchTargets } from './targets.js';

export type { BatchTargets } from './targets.js';

/** Loss gains, Ultralytics' defaults (default.yaml: box 7.5, cls 0.5, dfl 1.5, pose 12.0, kobj 1.0). */
export interface PoseLossGains {
  box: number;
  cls: number;
  dfl: number;
  pose: number;
  kobj: number;
}

export interface PoseLossOptions {
  nc?: number;
  kptShape?: [number, number];
  /** stride of each head level */
  strides?: number[];
  regMax?: number;
  hyp?: Partial<PoseLossGains>;
  /** assigner candidates per box */
  topk?: number;
}

export interface PoseLossResult {
  /** 0-d: the weighted sum × batch size, with gradient */
  loss: Tensor;
  /** (5,) detached: box, pose, kobj, cls, dfl, each times its gain (Ultralytics' loss_items order) */
  items: Tensor;
  /** the assigner's decisions (host arrays), for logging and tests */
  assignment: Assignment;
}

export class V8PoseLoss {
  readonly nc: number;
  readonly kptShape: [number, number];
  readonly strides: number[];
  readonly regMax: number;
  readonly hyp: PoseLossGains;
  readonly assigner: TaskAlignedAssigner;
  readonly bboxLoss: BboxLoss;
  readonly keypointLoss: KeypointLoss;

  constructor(opts: PoseLossOptions = {}) {
    this.nc = opts.nc ?? 1;
    this.kptShape = opts.kptShape ?? [17, 3];
    this.strides = opts.strides ?? [8, 16, 32];
    this.regMax = opts.regMax ?? 16;
    this.hyp = { box: 7.5, cls: 0.5, dfl: 1.5, pose: 12.0, kobj: 1.0, ...opts.hyp };
    this.assigner = new TaskAlignedAssigner(this.nc, { topk: opts.topk ?? 10, alpha: 0.5, beta: 6.0 });
    this.bboxLoss = new BboxLoss(this.regMax);
    this.keypointLoss = new KeypointLoss(this.kptShape);
  }

  /**
   * feats: per level (B, 4·regMax + nc, h_i, w_i) raw maps; kpt: (B, K·ndim, A) raw keypoints
   * (the model's train-mode output). batch: the targets of the B images (see BatchTargets).
   * opts.assignment: reuse an earlier assignment instead of running the assigner (targets frozen).
   */
  async forward(
    [feats, kpt]: [Tensor[], Tensor],
    batch: BatchTargets,
    opts: { assignment?: Assignment } = {},
  ): Promise<PoseLossResult> {
    const { nc, regMax: R } = this;
    const [K, ndim] = this.kptShape;
    const no = 4 * R + nc;
    this.checkShapes(feats, kpt);
    const B = feats[0].shape[0],
      A = kpt.shape[2];
    const like = { dtype: kpt.dtype, device: kpt.device };

    const xcat = concat(
      feats.map((f) => reshape(f, [B, no, f.shape[2] * f.shape[3]])),
      2,
    ); // (B, no, A)
    const predDist = narrow(xcat, 1, 0, 4 * R); // (B, 4R, A)
    const predScores = narrow(xcat, 1, 4 * R, nc); // (B, nc, A)

    // 1. targets and assignment on the host
    const sizes = feats.map((f) => [f.shape[2], f.shape[3]] as [number, number]);
    const anc = makeAnchors(sizes, this.strides, 0.5); // points (A, 2) in grid units, strides (A)
    const imgH = feats[0].shape[2] * this.strides[0],
      imgW = feats[0].shape[3] * this.strides[0];
    const gt = buildTargets(batch, B, K * ndim, imgW, imgH);
    const assignment = opts.assignment ?? (await this.assign(predDist, predScores, anc, gt, B, A));

    // 2-3. constant targets uploaded, losses built from engine ops.
    // class loss on every anchor: targets (B, nc, A) laid out like the logits
    let scoreSum = 0;
    for (const v of assignment.targetScores) scoreSum += v;
    const tss = Math.max(Math.fround(scoreSum), 1);
    const targetScores = tensor(transposeLast(assignment.targetScores, B, A, nc), [B, nc, A], like);
    const cls = div(sum(bceWithLogits(predScores, targetScores)), tss);

    const fg = fgTargets(assignment, gt, anc, B, A, this.kptShape, imgW, imgH);
    const zero = () => zeros([], like);
    let box = zero(),
      dflLoss = zero(),
      pose = zero(),
      kobj = zero();
    if (fg.n > 0) {
      const index = tensor(fg.index, [fg.n], { dtype: 'i32', device: like.device });
      const rows = indexSelect(reshape(permute(xcat, [0, 2, 1]), [B * A, no]), 0, index); // (N, no)
      const distFg = narrow(rows, 1, 0, 4 * R); // (N, 4R)
      const boxesFg = decodeBoxes(distFg, tensor(fg.anchors, [fg.n, 2], like), R); // (N, 4) xyxy grid units
      ({ iou: box, dfl: dflLoss } = this.bboxLoss.forward(distFg, boxesFg, fg, tss));

      const kptFg = reshape(indexSelect(reshape(permute(kpt, [0, 2, 1]), [B * A, K * ndim]), 0, index), [
        fg.n,
        K,
        ndim,
      ]);
      const kp = this.keypointLoss.forward(decodeKeypoints(kptFg, tensor(fg.anchors, [fg.n, 1, 2], like)), fg);
      pose = kp.loc;
      if (kp.vis) kobj = kp.vis;
    }

    const h = this.hyp;
    const parts = [mul(box, h.box), mul(pose, h.pose), mul(kobj, h.kobj), mul(cls, h.cls), mul(dflLoss, h.dfl)];
    const loss = mul(
      parts.reduce((s, p) => add(s, p)),
      B,
    );
    const items = noGrad(() =>
      concat(
        parts.map((p) => reshape(p.detach(), [1])),
        0,
      ),
    );
    return { loss, items, assignment };
  }

  /**
   * Runs the assigner on what the predictions say without gradients: DFL-decoded boxes in pixels
   * and sigmoid scores, read back to the host. predDist (B, 4R, A), predScores (B, nc, A).
   */
  private async assign(
    predDist: Tensor,
    predScores: Tensor,
    anc: { points: Float32Array; strides: Float32Array },
    gt: GtTargets,
    B: number,
    A: number,
  ): Promise<Assignment> {
    const nc = this.nc;
    const [distT, scoreT] = noGrad(() => [dfl(predDist, this.regMax), sigmoid(predScores)]);
    const [dist, scores] = await Promise.all([distT.data(), scoreT.data()]);
    distT.dispose();
    scoreT.dispose();
    return this.assigner.assign({
      B,
      A,
      M: gt.M,
      nc,
      pdScores: transposeLast(scores, B, nc, A), // (B, A, nc)
      pdBboxes: decodeBoxesPx(dist, anc.points, anc.strides, B, A), // (B, A, 4) xyxy pixels
      anchors: anc.points.map((p, i) => p * anc.strides[i >> 1]), // (A, 2) pixels
      gtLabels: gt.labels,
      gtBboxes: gt.boxes,
      maskGt: gt.mask,
    });
  }

  private checkShapes(feats: Tensor[], kpt: Tensor) {
    const no = 4 * this.regMax + this.nc,
      nk = this.kptShape[0] * this.kptShape[1];
    const shapes = () => `feats ${feats.map((f) => `[${f.shape}]`).join(', ')}, kpt [${kpt.shape}]`;
    if (feats.length !== this.strides.length)
      throw new Error(`V8PoseLoss: ${feats.length} levels for ${this.strides.length} strides (${shapes()})`);
    const B = feats[0].shape[0];
    let A = 0;
    for (const f of feats) {
      if (f.ndim !== 4 || f.shape[0] !== B || f.shape[1] !== no)
        throw new Error(`V8PoseLoss: each level must be (B, ${no}, h, w) (${shapes()})`);
      A += f.shape[2] * f.shape[3];
    }
    if (kpt.ndim !== 3 || kpt.shape[0] !== B || kpt.shape[1] !== nk || kpt.shape[2] !== A)
      throw new Error(`V8PoseLoss: kpt must be (B, ${nk}, A = ${A}) (${shapes()})`);
  }
}

/** (B, R, C) → (B, C, R) on a host array. */
function transposeLast(a: ArrayLike<number>, B: number, R: number, C: number): Float32Array {
  const out = new Float32Array(B * R * C);
  for (let b = 0; b < B; b++)
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[(b * C + c) * R + r] = a[(b * R + r) * C + c];
  return out;
}

/** DFL distances (B, 4, A) → boxes (B, A, 4) xyxy in pixels, float32 steps as dist2bbox · stride. */
function decodeBoxesPx(
  dist: ArrayLike<number>,
  points: Float32Array,
  strides: Float32Array,
  B: number,
  A: number,
): Float32Array {
  const out = new Float32Array(B * A * 4);
  const f = Math.fround;
  for (let b = 0; b < B; b++)
    for (let a = 0; a < A; a++) {
      const d = (s: number) => dist[(b * 4 + s) * A + a];
      const px = points[2 * a],
        py = points[2 * a + 1],
        s = strides[a],
        o = (b * A + a) * 4;
      out[o] = f(px - d(0)) * s;
      out[o + 1] = f(py - d(1)) * s;
      out[o + 2] = f(px + d(2)) * s;
      out[o + 3] = f(py + d(3)) * s;
    }
  return out;
}

/** DFL logits (N, 4R) → boxes (N, 4) xyxy around anchors (N, 2): the expected bin per side. */
function decodeBoxes(distFg: Tensor, anchors: Tensor, R: number): Tensor {
  const n = distFg.shape[0];
  // the dfl op wants (B, 4R, A): view the N rows as one image of N anchors
  const d = transpose(reshape(dfl(transpose(reshape(distFg, [1, n, 4 * R]), 1, 2), R), [4, n]), 0, 1); // (N, 4)
  return concat([sub(anchors, narrow(d, 1, 0, 2)), add(anchors, narrow(d, 1, 2, 2))], 1);
}

/** Raw keypoints (N, K, ndim) → x, y = raw · 2 + (anchor - 0.5) in grid units; visibility stays a logit. */
function decodeKeypoints(raw: Tensor, anchors: Tensor): Tensor {
  const ndim = raw.shape[2];
  const xy = add(mul(narrow(raw, 2, 0, 2), 2), sub(anchors, 0.5)); // (N, K, 2) + (N, 1, 2)
  return ndim === 3 ? concat([xy, narrow(raw, 2, 2, 1)], 2) : xy;
}
