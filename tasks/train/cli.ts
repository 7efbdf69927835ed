// `yolo pose train key=value ...`: Ultralytics' entrypoint for the train mode. A missing model
// defaults to yolov8n-pose.pt (downloaded on first use) and a missing dataset to the bundled
// data/coco8-pose, each with Ultralytics' warning.
//
// Imports: ../cfg, ./args, ./trainer.

import type { CfgValue } from '../cfg.js';
import { resolveTrainArgs, type TrainOverrides } from './args.js';
import { PoseTrainer } from './trainer.js';

export async function trainCli(overrides: Record<string, CfgValue>): Promise<number> {
  const o: TrainOverrides = { ...overrides };
  for (const k of ['model', 'data', 'device', 'project', 'name', 'pretrained'] as const)
    if (typeof o[k] === 'number') o[k] = String(o[k]);
  resolveTrainArgs(o); // unknown keys and bad values fail before anything else happens
  if (o.model == null && !o.resume) {
    o.model = 'yolov8n-pose.pt';
    console.warn(`WARNING ⚠️ 'model' argument is missing. Using default 'model=${o.model}'.`);
  }
  if (o.data == null && !o.resume) {
    o.data = 'coco8-pose.yaml'; // a bare name: the bundled data/coco8-pose
    console.warn(`WARNING ⚠️ 'data' argument is missing. Using default 'data=${o.data}'.`);
  }
  // `yolo train resume model=runs/pose/train/weights/last.pt`: a bare 'resume' arrives as resume=True
  if (o.resume === true && typeof o.model === 'string' && o.model.endsWith('.pt')) o.resume = o.model;
  await new PoseTrainer(o).train();
  return 0;
}
