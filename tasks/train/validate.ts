// Validation during training (BaseTrainer.validate + the validator's training branch): the EMA
// model in eval mode runs through PoseValidator, and the same forward pass gives the val losses
// (val/box_loss ...), averaged over the val batches as Ultralytics does.
//
// Imports: engine, models, nn/loss, ../val.

import { noGrad, tidyAsync, type Device, type Tensor } from '../../engine/index.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import type { PoseEvalOutput, PoseTrainOutput } from '../../nn/head.js';
import { V8PoseLoss, type BatchTargets } from '../../nn/loss/v8_pose_loss.js';
import type { ValBatch } from '../val/loader.js';
import { PoseValidator, type ValModel } from '../val/validator.js';
import { METRIC_KEYS, labelLossItems } from './results.js';

/** A ValModel that keeps the raw head maps of its last predict() for the val loss. */
class EvalWithRaw implements ValModel {
  raw: PoseTrainOutput | null = null;
  constructor(readonly model: PoseModel) {}
  get stride() {
    return this.model.stride;
  }
  get names() {
    return this.model.names;
  }
  get kptShape() {
    return this.model.kptShape;
  }
  predict(x: Tensor): Tensor {
    this.release();
    const [pred, raw] = noGrad(() => this.model.forward(x) as PoseEvalOutput);
    this.raw = raw;
    return pred;
  }
  release() {
    if (!this.raw) return;
    this.raw[0].forEach((f) => f.dispose());
    this.raw[1].dispose();
    this.raw = null;
  }
}

/** The targets of a val batch in the collate layout the loss takes (normalized to the letterboxed input). */
export function valBatchTargets(batch: ValBatch): BatchTargets {
  const [H, W] = batch.shape;
  const batchIdx: number[] = [], cls: number[] = [], bboxes: number[] = [], keypoints: number[] = [];
  batch.images.forEach((im, b) => {
    const n = im.cls.length, per = im.lbKpts.length / Math.max(n, 1);
    for (let i = 0; i < n; i++) {
      const [x1, y1, x2, y2] = im.lbBoxes.subarray(i * 4, i * 4 + 4);
      batchIdx.push(b);
      cls.push(im.cls[i]);
      bboxes.push((x1 + x2) / 2 / W, (y1 + y2) / 2 / H, (x2 - x1) / W, (y2 - y1) / H);
      for (let q = 0; q < per; q += 3) keypoints.push(im.lbKpts[i * per + q] / W, im.lbKpts[i * per + q + 1] / H, im.lbKpts[i * per + q + 2]);
    }
  });
  return { batchIdx, cls, bboxes, keypoints };
}

export interface EpochValidation {
  /** metrics/precision(B) ... metrics/mAP50-95(P), then val/box_loss ... val/dfl_loss */
  metrics: Record<string, number>;
  fitness: number;
}

/**
 * Validates `ema` (eval mode) on the validator's data: the metrics, their fitness and the mean val
 * losses. Ultralytics computes the val loss on the same eval-mode raw maps.
 */
export async function validateEpoch(validator: PoseValidator, ema: PoseModel, loss: V8PoseLoss, device: Device): Promise<EpochValidation> {
  const wrapped = new EvalWithRaw(ema.eval());
  const sums = new Float64Array(5);
  let batches = 0;
  const onBatch = async (batch: ValBatch) => {
    const raw = wrapped.raw;
    if (!raw) return;
    // the loss's temporaries are freed with the scope; only the five numbers come back
    const items = await tidyAsync(() => noGrad(async () => (await loss.forward(raw, valBatchTargets(batch))).items.data()));
    wrapped.release();
    for (let k = 0; k < 5; k++) sums[k] += items[k];
    batches++;
  };
  try {
    const r = await validator.run(wrapped, device, { training: true, onBatch });
    const metrics: Record<string, number> = {};
    for (const k of METRIC_KEYS) metrics[k] = r.resultsDict[k] ?? 0;
    Object.assign(metrics, labelLossItems(Array.from(sums, (s) => s / Math.max(batches, 1)), 'val'));
    return { metrics, fitness: r.metrics.fitness };
  } finally {
    wrapped.release();
  }
}
