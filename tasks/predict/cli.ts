// `yolo pose predict model=... source=... key=value ...`: checks the keys the way Ultralytics'
// check_cfg does (known key, right type), then runs the YOLO class with save=True by default (as
// Ultralytics' CLI) and streams, so no image is kept after it is saved.
//
// Imports: ../yolo, ../cfg (types), engine/paths.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../engine/paths.js';
import type { CfgValue } from '../cfg.js';
import { YOLO, type PredictArgs } from '../yolo.js';

const NUMBER_KEYS = ['conf', 'iou', 'max_det', 'line_width', 'batch', 'vid_stride'];
const BOOL_KEYS = [
  'half',
  'save',
  'save_txt',
  'save_conf',
  'save_crop',
  'exist_ok',
  'agnostic_nms',
  'verbose',
  'show_labels',
  'show_conf',
  'show_boxes',
  'visualize',
  'stream_buffer',
  'save_frames',
  'augment',
];
const OTHER_KEYS = ['model', 'source', 'imgsz', 'device', 'project', 'name', 'classes', 'embed', 'task', 'mode'];
export const PREDICT_KEYS = [...OTHER_KEYS, ...NUMBER_KEYS, ...BOOL_KEYS];

/** The images used when no source is given (Ultralytics uses its bus.jpg and zidane.jpg assets). */
function defaultSource(): string[] | null {
  const dir = join(packageRoot(), 'test', 'fixtures', 'predict', 'images');
  const files = ['bus.jpg', 'zidane.jpg'].map((f) => join(dir, f));
  return files.every((f) => existsSync(f)) ? files : null;
}

/** Validates `key=value` overrides into predict arguments; errors name the key and what it wants. */
export function predictArgs(o: Record<string, CfgValue>): PredictArgs & { model: string; source: string | string[] } {
  const unknown = Object.keys(o).filter((k) => !PREDICT_KEYS.includes(k));
  if (unknown.length)
    throw new Error(
      `yolo predict: unknown argument${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; valid keys are ${PREDICT_KEYS.join(', ')}`,
    );
  for (const k of NUMBER_KEYS)
    if (o[k] != null && typeof o[k] !== 'number') throw new Error(`yolo predict: '${k}=${o[k]}' must be a number`);
  for (const k of BOOL_KEYS)
    if (o[k] != null && typeof o[k] !== 'boolean')
      throw new Error(`yolo predict: '${k}=${o[k]}' must be True or False`);
  for (const k of ['conf', 'iou'])
    if (typeof o[k] === 'number' && !((o[k] as number) >= 0 && (o[k] as number) <= 1))
      throw new Error(`yolo predict: '${k}=${o[k]}' must be between 0.0 and 1.0`);
  if (o.task != null && o.task !== 'pose')
    throw new Error(`yolo predict: task=${o.task} is not supported (this toolkit implements: pose)`);
  for (const k of ['batch', 'vid_stride'])
    if (o[k] != null && !(Number.isInteger(o[k]) && (o[k] as number) >= 1))
      throw new Error(`yolo predict: '${k}=${o[k]}' must be a whole number >= 1`);
  const imgsz = o.imgsz;
  if (
    imgsz != null &&
    !(typeof imgsz === 'number' || (Array.isArray(imgsz) && imgsz.every((v) => typeof v === 'number')))
  )
    throw new Error(`yolo predict: 'imgsz=${imgsz}' must be a number or [height, width]`);
  const classes = o.classes;
  if (
    classes != null &&
    !(typeof classes === 'number' || (Array.isArray(classes) && classes.every((v) => typeof v === 'number')))
  )
    throw new Error(`yolo predict: 'classes=${classes}' must be a class index or a list of them`);

  let source = o.source as string | string[] | null | undefined;
  if (source == null || source === '') {
    const def = defaultSource();
    if (!def) throw new Error("yolo predict: 'source' is missing; pass source=<image, folder, glob or URL>");
    console.warn(`WARNING ⚠️ 'source' argument is missing. Using default 'source=${def.join(',')}'.`);
    source = def;
  } else if (Array.isArray(source)) source = source.map(String);
  else source = String(source);
  const model = o.model == null || o.model === '' ? 'yolov8n-pose.pt' : String(o.model);
  if (o.model == null) console.warn(`WARNING ⚠️ 'model' argument is missing. Using default 'model=${model}'.`);

  return {
    model,
    source,
    save: true,
    ...(imgsz != null && { imgsz: imgsz as number | [number, number] }),
    ...(o.device != null && { device: String(o.device) }),
    ...(o.project != null && { project: String(o.project) }),
    ...(o.name != null && { name: String(o.name) }),
    ...(classes != null && { classes: classes as number | number[] }),
    ...(o.embed != null && { embed: o.embed as number | number[] }), // checked against the model's layers (./embed.ts)
    ...Object.fromEntries([...NUMBER_KEYS, ...BOOL_KEYS].filter((k) => o[k] != null).map((k) => [k, o[k]])),
  };
}

/** Runs the prediction; exit code 1 when some images of a folder or list could not be read. */
export async function predictCli(overrides: Record<string, CfgValue>): Promise<number> {
  const { model, source, ...args } = predictArgs(overrides);
  const yolo = new YOLO(model);
  if (args.embed != null) {
    const { save: _s, ...rest } = args;
    const e = await yolo.embed(source, rest);
    console.log(
      `${e.length} embedding${e.length === 1 ? '' : 's'} of ${e[0]?.length ?? 0} values (layers ${[args.embed].flat().join(', ')})`,
    );
    return 0;
  }
  for await (const r of yolo.stream(source, args)) void r; // each result is saved, then dropped
  return yolo.errors.length ? 1 : 0;
}
