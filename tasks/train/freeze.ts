// freeze=: Ultralytics' BaseTrainer freezing rule. An int n freezes layers model.0 ... model.(n-1),
// a list freezes the listed layer indices; the DFL's fixed conv is always frozen. Every parameter
// whose name contains `model.<i>.` stops requiring gradients (so the optimizer leaves it out and
// backward never computes it); any other parameter found frozen is unfrozen with Ultralytics' warning.
//
// Imports: models (type only).

import type { PoseModel } from '../../models/yolov8_pose.js';

export function freezeLayers(model: PoseModel, freeze: number | number[] | null, log: (s: string) => void): string[] {
  if (freeze != null && !(Number.isInteger(freeze) || (Array.isArray(freeze) && freeze.every(Number.isInteger))))
    throw new Error(
      `train: freeze=${JSON.stringify(freeze)} must be a number of leading layers or a list of layer indices`,
    );
  // layers are model.0 ... model.<head>; some (Upsample, Concat) have no parameters
  const nLayers =
    1 +
    Math.max(
      ...model
        .namedParameters()
        .map(([k]) => Number(k.split('.')[1]))
        .filter(Number.isInteger),
    );
  const list = Array.isArray(freeze) ? freeze : typeof freeze === 'number' ? [...Array(freeze).keys()] : [];
  for (const i of list)
    if (i < 0 || i >= nLayers)
      throw new Error(
        `train: freeze=${JSON.stringify(freeze)}: layer ${i} does not exist (the model has layers 0 ... ${nLayers - 1})`,
      );
  const names = [...list.map((x) => `model.${x}.`), '.dfl'];
  const frozen: string[] = [];
  for (const [k, p] of model.namedParameters()) {
    if (names.some((x) => k.includes(x))) {
      log(`Freezing layer '${k}'`);
      p.requiresGrad = false;
      frozen.push(k);
    } else if (!p.requiresGrad) {
      log(
        `WARNING ⚠️ setting 'requires_grad=True' for frozen layer '${k}'. See ultralytics/ultralytics#1021 for more information.`,
      );
      p.requiresGrad = true;
    }
  }
  return frozen;
}
