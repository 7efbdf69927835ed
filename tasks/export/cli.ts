// `yolo export model=... format=onnx imgsz= batch= dynamic= half= opset= simplify=`: checks the keys
// the way Ultralytics' check_cfg does (known key, right type), then YOLO(model).export(...).
// Keys Ultralytics' exporter reads only for other formats (keras, optimize, workspace, nms) are
// accepted and, as there, ignored for ONNX.
//
// Imports: ../yolo, ../cfg (types).

import type { CfgValue } from '../cfg.js';
import { YOLO } from '../yolo.js';

const BOOL_KEYS = ['dynamic', 'half', 'simplify', 'int8', 'keras', 'optimize', 'nms', 'verbose'];
const NUMBER_KEYS = ['batch', 'opset', 'workspace', 'iou'];
const OTHER_KEYS = ['model', 'format', 'imgsz', 'device', 'task', 'mode', 'data', 'split'];
export const EXPORT_KEYS = [...OTHER_KEYS, ...BOOL_KEYS, ...NUMBER_KEYS];

export async function exportCli(o: Record<string, CfgValue>): Promise<number> {
  const unknown = Object.keys(o).filter((k) => !EXPORT_KEYS.includes(k));
  if (unknown.length)
    throw new Error(
      `yolo export: unknown argument${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; valid keys are ${EXPORT_KEYS.join(', ')}`,
    );
  for (const k of BOOL_KEYS)
    if (o[k] != null && typeof o[k] !== 'boolean') throw new Error(`yolo export: '${k}=${o[k]}' must be True or False`);
  for (const k of NUMBER_KEYS)
    if (o[k] != null && typeof o[k] !== 'number') throw new Error(`yolo export: '${k}=${o[k]}' must be a number`);
  const imgsz = o.imgsz;
  if (
    imgsz != null &&
    !(
      typeof imgsz === 'number' ||
      (Array.isArray(imgsz) && imgsz.length <= 2 && imgsz.every((v) => typeof v === 'number'))
    )
  )
    throw new Error(`yolo export: 'imgsz=${imgsz}' must be a number or [height, width]`);
  if (o.split != null && !['train', 'val', 'test'].includes(String(o.split)))
    throw new Error(`yolo export: split=${o.split} must be train, val or test`);
  if (o.task != null && o.task !== 'pose')
    throw new Error(`yolo export: task=${o.task} is not supported (this toolkit implements: pose)`);
  const model = o.model == null || o.model === '' ? 'yolov8n-pose.pt' : String(o.model);
  if (o.model == null) console.warn(`WARNING ⚠️ 'model' argument is missing. Using default 'model=${model}'.`);
  await new YOLO(model).export({
    format: o.format == null ? undefined : String(o.format),
    imgsz: imgsz as number | number[] | undefined,
    batch: o.batch as number | undefined,
    dynamic: o.dynamic as boolean | undefined,
    half: o.half as boolean | undefined,
    simplify: o.simplify as boolean | undefined,
    int8: o.int8 as boolean | undefined,
    data: o.data == null ? undefined : String(o.data),
    opset: o.opset as number | undefined,
    workspace: o.workspace as number | undefined,
    iou: o.iou as number | undefined,
    split: o.split == null ? undefined : (String(o.split) as 'train' | 'val' | 'test'),
    optimize: o.optimize as boolean | undefined,
    verbose: o.verbose as boolean | undefined,
    device: o.device == null ? undefined : String(o.device),
  });
  return 0;
}
