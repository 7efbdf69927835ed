// `yolo info model=<yaml|pt|safetensors> imgsz=640 [verbose=True]`: Ultralytics' one-line model
// summary; verbose adds the per-layer table parse_model prints.
import { existsSync } from 'node:fs';
import { buildPoseModel, layerTable, loadPoseModel, type PoseModel } from '../models/index.js';
import { cpu } from '../engine/index.js';
import type { CfgValue } from './cfg.js';

export function infoCli(overrides: Record<string, CfgValue>): number {
  const model = String(overrides.model ?? 'yolov8n-pose.yaml');
  const imgsz = overrides.imgsz == null ? 640 : Number(overrides.imgsz);
  if (!Number.isFinite(imgsz) || imgsz <= 0) throw new Error(`imgsz=${overrides.imgsz}: expected a positive number`);
  let m: PoseModel;
  if (/\.ya?ml$/i.test(model)) m = buildPoseModel(model, { device: cpu });
  else if (existsSync(model)) m = loadPoseModel(model, { device: cpu });
  else throw new Error(`model=${model}: file not found (give a .pt/.safetensors path or a yolov8{n,s,m,l,x}-pose[-p6].yaml name)`);
  if (overrides.fuse === true) m.fuse();
  if (overrides.verbose === true) console.log(layerTable(m).join('\n'));
  m.info(imgsz);
  return 0;
}
