// `yolo info model=<yaml|pt|safetensors> imgsz=640 [verbose=True] [graph=net.png|net.dot]`: Ultralytics'
// one-line model summary; verbose adds the per-layer table parse_model prints; graph writes the traced
// eval-mode graph (engine/graph) as a picture (Graphviz) or dot text.
import { existsSync } from 'node:fs';
import { buildPoseModel, layerTable, loadPoseModel, traceEval, type PoseModel } from '../models/index.js';
import { writeGraph } from '../engine/graph/dot.js';
import { cpu } from '../engine/index.js';
import type { CfgValue } from './cfg.js';

export function infoCli(overrides: Record<string, CfgValue>): number {
  const model = String(overrides.model ?? 'yolov8n-pose.yaml');
  const imgsz = overrides.imgsz == null ? 640 : Number(overrides.imgsz);
  if (!Number.isFinite(imgsz) || imgsz <= 0) throw new Error(`imgsz=${overrides.imgsz}: expected a positive number`);
  let m: PoseModel;
  if (/\.ya?ml$/i.test(model)) m = buildPoseModel(model, { device: cpu });
  else if (existsSync(model)) m = loadPoseModel(model, { device: cpu });
  else
    throw new Error(
      `model=${model}: file not found (give a .pt/.safetensors path or a yolov8{n,s,m,l,x}-pose[-p6].yaml name)`,
    );
  if (overrides.fuse === true) m.fuse();
  if (overrides.verbose === true) console.log(layerTable(m).join('\n'));
  m.info(imgsz);
  if (overrides.graph != null) {
    const file = String(overrides.graph);
    writeGraph(traceEval(m, [1, 3, imgsz, imgsz]), file, { name: m.yaml.yaml_file });
    console.log(`graph of ${m.yaml.yaml_file} at ${imgsz}x${imgsz} written to ${file}`);
  }
  return 0;
}
