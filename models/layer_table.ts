// The per-layer table Ultralytics' parse_model prints when it builds a model (from, n, params,
// module, arguments), column for column: `yolo info model=... verbose=True` shows it above the
// summary line. Parameter counts come from each layer's modules, as Ultralytics' `m.np`.
import { YOLOV8_POSE, YOLOV8_POSE_P6, type ModuleName, type PoseModel } from './yolov8_pose.js';
import type { Sequential } from '../nn/module.js';

/** The Python class path Ultralytics prints for each yaml module. */
const TYPES: Record<ModuleName, string> = {
  Conv: 'ultralytics.nn.modules.conv.Conv',
  C2f: 'ultralytics.nn.modules.block.C2f',
  C2: 'ultralytics.nn.modules.block.C2',
  SPPF: 'ultralytics.nn.modules.block.SPPF',
  'nn.Upsample': 'torch.nn.modules.upsampling.Upsample',
  Concat: 'ultralytics.nn.modules.conv.Concat',
  Pose: 'ultralytics.nn.modules.head.Pose',
};

/** Python's repr of a yaml argument: None, True, 'nearest', [17, 3]. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return String(v);
}

const right = (s: string | number, n: number) => String(s).padStart(n);
const left = (s: string, n: number) => s.padEnd(n);

/** The table's lines: a blank line, the header, one row per layer (trailing spaces as Python's format leaves them). */
export function layerTable(model: PoseModel): string[] {
  const cfg = model.yaml.p6 ? YOLOV8_POSE_P6 : YOLOV8_POSE;
  const raw = [...cfg.backbone, ...cfg.head];
  const layers = (model.child('model') as Sequential).children();
  const lines = [
    '',
    `${right('', 3)}${right('from', 20)}${right('n', 3)}${right('params', 10)}  ${left('module', 45)}${left('arguments', 30)}`,
  ];
  model.layerInfo.forEach((l, i) => {
    const params = layers[i].parameters().reduce((s, t) => s + t.numel, 0);
    // Ultralytics passes a C2f/C2 its shortcut only when the yaml gives one
    const args = (l.module === 'C2f' || l.module === 'C2') && raw[i][3].length < 2 ? l.args.slice(0, 3) : l.args;
    lines.push(
      `${right(i, 3)}${right(pyRepr(l.from), 20)}${right(l.n, 3)}${right(params, 10)}  ${left(TYPES[l.module], 45)}${left(pyRepr(args), 30)}`,
    );
  });
  return lines;
}
