// TaskAlignedAssigner (Ultralytics 8.2 utils/tal.py): picks, for each ground-truth box, the anchors
// whose predictions align best with it, and builds the training targets of every anchor.
//
// It runs on the host, on plain Float32Arrays. The assigner is under no_grad in Ultralytics and its
// result is a handful of discrete decisions (top-k, argmax) plus targets; on the host those
// decisions can follow torch's CPU kernels exactly (torch.topk's tie order, argmax's first index),
// which a GPU kernel could only approximate. The price is one readback per step of the predicted
// scores (B, A, nc) and boxes (B, A, 4) and one upload of the targets: about 100 KB for a batch
// of 16 at 640 (A = 8400, nc = 1), small next to the network's forward and backward.
//
// Shapes: B images, A anchors, M = the most boxes in one image (padded rows have maskGt = 0).
import { ciouHost } from './bbox.js';
import { torchTopkIndices } from './topk_host.js';

export interface AssignerInput {
  B: number;
  A: number;
  M: number;
  nc: number;
  /** (B, A, nc) predicted class scores after sigmoid */
  pdScores: Float32Array;
  /** (B, A, 4) predicted boxes, xyxy in pixels */
  pdBboxes: Float32Array;
  /** (A, 2) anchor centres in pixels */
  anchors: Float32Array;
  /** (B, M) class of each ground-truth box */
  gtLabels: Float32Array;
  /** (B, M, 4) ground-truth boxes, xyxy in pixels */
  gtBboxes: Float32Array;
  /** (B, M) 1 for a real box, 0 for padding */
  maskGt: Uint8Array;
}

export interface Assignment {
  /** (B, A) class index of each anchor's target (0 for background, as Ultralytics) */
  targetLabels: Int32Array;
  /** (B, A, 4) xyxy pixels: the box of target_gt_idx (also for background anchors) */
  targetBboxes: Float32Array;
  /** (B, A, nc) one-hot class × normalized alignment metric; 0 for background */
  targetScores: Float32Array;
  /** (B, A) 1 for foreground anchors */
  fgMask: Uint8Array;
  /** (B, A) index in 0..M-1 of the box each anchor is assigned to (0 for background) */
  targetGtIdx: Int32Array;
}

export interface AssignerOptions {
  topk?: number;
  alpha?: number;
  beta?: number;
  eps?: number;
}

export class TaskAlignedAssigner {
  readonly topk: number;
  readonly alpha: number;
  readonly beta: number;
  readonly eps: number;

  constructor(
    readonly nc: number,
    opts: AssignerOptions = {},
  ) {
    this.topk = opts.topk ?? 10;
    this.alpha = opts.alpha ?? 0.5;
    this.beta = opts.beta ?? 6.0;
    this.eps = opts.eps ?? 1e-9;
  }

  assign(inp: AssignerInput): Assignment {
    const { B, A, M, nc } = inp;
    if (nc !== this.nc) throw new Error(`TaskAlignedAssigner: built for ${this.nc} classes, got scores with ${nc}`);
    const out: Assignment = {
      targetLabels: new Int32Array(B * A),
      targetBboxes: new Float32Array(B * A * 4),
      targetScores: new Float32Array(B * A * nc),
      fgMask: new Uint8Array(B * A),
      targetGtIdx: new Int32Array(B * A),
    };
    if (M === 0) return out; // no boxes anywhere in the batch: everything is background
    for (let b = 0; b < B; b++) this.assignImage(inp, b, out);
    return out;
  }

  /** One image: its M gt rows against its A anchors, written into `out` at image b. */
  private assignImage(inp: AssignerInput, b: number, out: Assignment) {
    const { A, M, nc, anchors } = inp;
    const gt = inp.gtBboxes.subarray(b * M * 4, (b + 1) * M * 4);
    const pd = inp.pdBboxes.subarray(b * A * 4, (b + 1) * A * 4);
    const overlaps = new Float32Array(M * A); // (M, A) CIoU clamped at 0, only for anchors inside real boxes
    const align = new Float32Array(M * A); // (M, A) score^alpha * overlap^beta
    const inGts = new Uint8Array(M * A); // (M, A) anchor centre strictly inside a real box
    const maskPos = new Uint8Array(M * A); // (M, A) candidate: top-k and inside
    const k = Math.min(this.topk, A);

    for (let j = 0; j < M; j++) {
      if (!inp.maskGt[b * M + j]) continue; // padded rows pick nothing (their top-k indices are masked to 0)
      const label = inp.gtLabels[b * M + j];
      const x1 = gt[4 * j],
        y1 = gt[4 * j + 1],
        x2 = gt[4 * j + 2],
        y2 = gt[4 * j + 3];
      for (let a = 0; a < A; a++) {
        const px = anchors[2 * a],
          py = anchors[2 * a + 1];
        // select_candidates_in_gts: the smallest of the four float32 margins must exceed eps
        const m = Math.min(Math.fround(px - x1), Math.fround(py - y1), Math.fround(x2 - px), Math.fround(y2 - py));
        if (!(m > Math.fround(this.eps))) continue;
        inGts[j * A + a] = 1;
        const ov = Math.max(ciouHost(gt, 4 * j, pd, 4 * a), 0);
        overlaps[j * A + a] = ov;
        const score = inp.pdScores[(b * A + a) * nc + label];
        align[j * A + a] = Math.fround(powf(score, this.alpha)) * Math.fround(powf(overlaps[j * A + a], this.beta));
      }
      // top-k over all anchors of this row (zeros included, with torch's tie order), kept if inside
      for (const a of torchTopkIndices(align.subarray(j * A, (j + 1) * A), k)) maskPos[j * A + a] = inGts[j * A + a];
    }

    // select_highest_overlaps: an anchor claimed by several boxes keeps only the box it overlaps most
    // (argmax over all M rows of `overlaps`, first index on ties, as torch.argmax).
    for (let a = 0; a < A; a++) {
      let count = 0;
      for (let j = 0; j < M; j++) count += maskPos[j * A + a];
      if (count <= 1) continue;
      let best = 0;
      for (let j = 1; j < M; j++) if (overlaps[j * A + a] > overlaps[best * A + a]) best = j;
      for (let j = 0; j < M; j++) maskPos[j * A + a] = j === best ? 1 : 0;
    }

    // Normalization per box: the largest metric among its positives maps to its largest overlap.
    const posAlign = new Float32Array(M),
      posOverlap = new Float32Array(M);
    for (let j = 0; j < M; j++)
      for (let a = 0; a < A; a++)
        if (maskPos[j * A + a]) {
          posAlign[j] = Math.max(posAlign[j], align[j * A + a]);
          posOverlap[j] = Math.max(posOverlap[j], overlaps[j * A + a]);
        }

    for (let a = 0; a < A; a++) {
      const o = b * A + a;
      let idx = 0; // argmax of the (one-hot or all-zero) column: the assigned box, or 0
      for (let j = 0; j < M; j++)
        if (maskPos[j * A + a]) {
          idx = j;
          break;
        }
      const fg = maskPos[idx * A + a] === 1;
      const label = Math.max(inp.gtLabels[b * M + idx], 0);
      out.targetGtIdx[o] = idx;
      out.fgMask[o] = fg ? 1 : 0;
      out.targetLabels[o] = label;
      out.targetBboxes.set(gt.subarray(4 * idx, 4 * idx + 4), 4 * o);
      if (fg) {
        // align * pos_overlap / (pos_align + eps), in float32 steps as torch
        const norm = Math.fround(
          Math.fround(align[idx * A + a] * posOverlap[idx]) / Math.fround(posAlign[idx] + this.eps),
        );
        out.targetScores[o * nc + label] = norm;
      }
    }
  }
}

/** torch's float pow: sqrt for 0.5, x*x for 2, otherwise pow, each rounded to float32. */
function powf(x: number, e: number): number {
  if (e === 0.5) return Math.sqrt(x);
  if (e === 2) return x * x;
  return Math.pow(x, e);
}
