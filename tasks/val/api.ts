// `YOLO(...).val(args)` and `yolo pose val key=value ...`: argument checking, Ultralytics' defaults
// (a checkpoint's own train_args supply data and imgsz when not given, as Model.val does), model
// loading on the requested device, then the PoseValidator.
//
// Imports: ../cfg (types), ./validator; the YOLO class only as a type.

import { describeDevice, type Device } from '../../engine/index.js';
import type { CfgValue } from '../cfg.js';
import type { CheckpointMeta } from '../../engine/io/torch_pt.js';
import type { Callbacks } from '../callbacks.js';
import { packageVersion } from '../../engine/paths.js';
import { PoseValidator, type ValArgs, type ValModel, type ValResult } from './validator.js';
import { applyHalf, resolveHalf } from '../half.js';

/** What val needs from the YOLO class. */
export interface ValTarget {
  readonly modelSpec: string;
  ckptMeta: CheckpointMeta | null;
  device: Device | null;
  load(device?: string | Device): Promise<ValModel>;
  /** Ultralytics' on_val_* callbacks */
  callbacks?: Callbacks;
}

export type ValCallArgs = Partial<ValArgs> & { device?: string | Device };

/** Validates a YOLO model; data and imgsz default to the checkpoint's train_args. */
export async function valModel(target: ValTarget, args: ValCallArgs = {}): Promise<ValResult> {
  const model = await target.load(args.device);
  const train = target.ckptMeta?.train_args ?? {};
  const data = args.data ?? (typeof train.data === 'string' ? train.data : undefined);
  if (!data)
    throw new Error(`val: no dataset given and ${target.modelSpec} does not record one (pass data=<dataset.yaml>)`);
  const imgsz = args.imgsz ?? (typeof train.imgsz === 'number' ? train.imgsz : model.imgsz ? model.imgsz[0] : 640); // an exported model: its export size
  const { device: _d, ...rest } = args;
  const singleCls = args.single_cls ?? (typeof train.single_cls === 'boolean' ? train.single_cls : undefined); // Model.val remembers it too
  const v = new PoseValidator({ ...rest, data, imgsz, single_cls: singleCls, model_path: target.modelSpec });
  v.callbacks = target.callbacks ?? null;
  // FP16 compiled forward where the device can (webgpu + shader-f16), else FP32 with a warning naming why
  applyHalf(model, resolveHalf(args.half, target.device!, v.log, model));
  if (args.verbose !== false) {
    // as Ultralytics' standalone val: the version/device line, then AutoBackend's fused summary
    const dev = target.device!;
    const version = packageVersion();
    v.log(`yolo-ts ${version} 🚀 Node-${process.versions.node} ${describeDevice(dev)}`);
    const info = (model as { info?: (imgsz: number, o: { verbose: boolean }) => { line: string } }).info;
    if (typeof info === 'function') v.log(info.call(model, 640, { verbose: false }).line);
  }
  return v.run(model, target.device!);
}

const NUMBER_KEYS = ['imgsz', 'batch', 'conf', 'iou', 'max_det'];
const BOOL_KEYS = [
  'augment',
  'half',
  'save_json',
  'save_txt',
  'save_conf',
  'save_hybrid',
  'single_cls',
  'plots',
  'exist_ok',
  'verbose',
];
const STRING_KEYS = ['model', 'data', 'device', 'project', 'name', 'split', 'task', 'mode'];
export const VAL_KEYS = [...STRING_KEYS, ...NUMBER_KEYS, ...BOOL_KEYS, 'classes'];

/** `key=value` overrides -> val arguments; errors name the key and what it wants. */
export function valArgs(o: Record<string, CfgValue>): ValCallArgs & { model: string } {
  const unknown = Object.keys(o).filter((k) => !VAL_KEYS.includes(k));
  if (unknown.length)
    throw new Error(
      `yolo val: unknown argument${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; valid keys are ${VAL_KEYS.join(', ')}`,
    );
  for (const k of NUMBER_KEYS)
    if (o[k] != null && typeof o[k] !== 'number') throw new Error(`yolo val: '${k}=${o[k]}' must be a number`);
  for (const k of BOOL_KEYS)
    if (o[k] != null && typeof o[k] !== 'boolean') throw new Error(`yolo val: '${k}=${o[k]}' must be True or False`);
  if (o.task != null && o.task !== 'pose')
    throw new Error(`yolo val: task=${o.task} is not supported (this toolkit implements: pose)`);
  if (o.split != null && !['val', 'test', 'train'].includes(String(o.split)))
    throw new Error(`yolo val: split=${o.split} must be val, test or train`);
  const classes = o.classes;
  if (
    classes != null &&
    !(Number.isInteger(classes) || (Array.isArray(classes) && classes.every((v) => Number.isInteger(v))))
  )
    throw new Error(`yolo val: 'classes=${classes}' must be a class index or a list of them`);
  const model = o.model == null || o.model === '' ? 'yolov8n-pose.pt' : String(o.model);
  if (o.model == null) console.warn(`WARNING ⚠️ 'model' argument is missing. Using default 'model=${model}'.`);
  const out: ValCallArgs & { model: string } = { model };
  for (const k of [...NUMBER_KEYS, ...BOOL_KEYS]) if (o[k] != null) (out as Record<string, unknown>)[k] = o[k];
  if (classes != null) out.classes = classes as number | number[];
  for (const k of ['data', 'device', 'project', 'name', 'split'])
    if (o[k] != null) (out as Record<string, unknown>)[k] = String(o[k]);
  return out;
}
