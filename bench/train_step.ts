// The P2 training step both bench/train_step_p2.ts and bench/train_step_ab.ts time: the bundled
// coco8-pose batch and one full step (train-mode forward, v8PoseLoss, backward, gradient clipping
// at 10, SGD with Ultralytics' three parameter groups at batch 8 / nbs 64).
import * as E from '../engine/index.js';
import { loadPoseModel, type PoseModel } from '../models/index.js';
import { V8PoseLoss } from '../nn/loss/v8_pose_loss.js';
import { clipGradNorm } from '../nn/optim.js';
import { loadDatasetYaml } from '../tasks/data/dataset.js';
import { PoseDataset, type PoseBatch } from '../tasks/data/loader.js';
import { buildOptimizer } from '../tasks/train/optimizer.js';

export const IMGSZ = 320,
  BATCH = 8;

/** All 8 coco8-pose images (train + val folders) as one batch, letterboxed to 320, no augmentation. */
export function coco8Batch(): PoseBatch {
  const cfg = loadDatasetYaml('data/coco8-pose/coco8-pose.yaml');
  cfg.train = [cfg.train, cfg.val].flat().filter((s): s is string => typeof s === 'string');
  const ds = PoseDataset.fromConfig(cfg, 'train', {
    imgsz: IMGSZ,
    batch: BATCH,
    augment: false,
    rect: false,
    shuffle: false,
    labelCache: false,
    log: () => {},
    progress: { write: () => {} },
  });
  const b = ds.batches(0).next().value as PoseBatch;
  if (!b || b.shape[0] !== BATCH)
    throw new Error(`coco8-pose: expected one batch of ${BATCH} images, got ${b?.shape[0]}`);
  return b;
}

/** The model from `weights` on `device` in train mode and `step()`, which runs one step on `batch` and returns its loss items. */
export function trainStep(
  device: E.Device,
  weights: string,
  batch: PoseBatch,
): { model: PoseModel; step: () => Promise<number[]> } {
  const model = loadPoseModel(weights, { device }).train();
  const loss = new V8PoseLoss({ nc: 1, kptShape: [17, 3] });
  const { optimizer } = buildOptimizer(model, {
    name: 'SGD',
    lr: 0.01,
    momentum: 0.937,
    decay: 5e-4,
    iterations: 1,
    nc: 1,
    warmupBiasLr: 0.1,
  });
  const params = model.parameters().filter((p) => p.requiresGrad);
  const step = async () => {
    const items = await E.tidyAsync(async () => {
      const x = E.tensor(batch.images, batch.shape, { device });
      const r = await loss.forward(model.forward(x) as [E.Tensor[], E.Tensor], batch);
      E.backward(r.loss);
      return r.items;
    });
    const v = Array.from(await items.data());
    items.dispose();
    const { scale } = await clipGradNorm(params, 10.0);
    optimizer.step(scale);
    optimizer.zeroGrad();
    if (device instanceof E.WebGPUDevice) await device.gpu.sync();
    return v;
  };
  return { model, step };
}
