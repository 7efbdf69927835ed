// Validation during training (BaseTrainer.validate + the validator's training branch): the EMA
// model in eval mode runs through PoseValidator with the trainer's criterion, so the same forward
// pass gives the metrics and the val losses (val/box_loss ...), averaged over the val batches as
// Ultralytics does.
//
// Imports: engine, models, nn/loss, ../val.

import type { Device } from '../../engine/index.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import type { V8PoseLoss } from '../../nn/loss/v8_pose_loss.js';
import type { PoseValidator } from '../val/validator.js';
import { METRIC_KEYS, labelLossItems } from './results.js';

export interface EpochValidation {
  /** metrics/precision(B) ... metrics/mAP50-95(P), then val/box_loss ... val/dfl_loss */
  metrics: Record<string, number>;
  fitness: number;
}

/**
 * Validates `ema` (eval mode) on the validator's data: the metrics, their fitness and the mean val
 * losses. Ultralytics computes the val loss on the same eval-mode raw maps.
 */
export async function validateEpoch(
  validator: PoseValidator,
  ema: PoseModel,
  loss: V8PoseLoss,
  device: Device,
): Promise<EpochValidation> {
  const r = await validator.run(ema.eval(), device, { training: true, criterion: loss });
  const metrics: Record<string, number> = {};
  for (const k of METRIC_KEYS) metrics[k] = r.resultsDict[k] ?? 0;
  Object.assign(metrics, labelLossItems(r.loss!, 'val'));
  return { metrics, fitness: r.metrics.fitness };
}
