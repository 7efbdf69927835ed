// Training arguments: Ultralytics 8.2.82's default.yaml (every key, so args.yaml reads the same),
// its type checks (check_cfg) and its unknown-key error with close matches (check_dict_alignment).
// Every key is a `key=value` override on the CLI or a property of `model.train({...})`.
//
// Imports: ../cfg (value type) only.

import type { CfgValue } from '../cfg.js';

/** default.yaml of Ultralytics 8.2.82, in its order (task and mode first). */
export const DEFAULT_CFG = {
  task: 'pose',
  mode: 'train',
  // train settings
  model: null as string | null,
  data: null as string | null,
  epochs: 100,
  time: null as number | null,
  patience: 100,
  batch: 16,
  imgsz: 640 as number | number[],
  save: true,
  save_period: -1,
  cache: false as boolean | string,
  device: null as string | null,
  workers: 8,
  project: null as string | null,
  name: null as string | null,
  exist_ok: false,
  pretrained: true as boolean | string,
  optimizer: 'auto',
  verbose: true,
  seed: 0,
  deterministic: true,
  single_cls: false,
  rect: false,
  cos_lr: false,
  close_mosaic: 10,
  resume: false as boolean | string,
  amp: true,
  fraction: 1.0,
  profile: false,
  freeze: null as number | number[] | null,
  multi_scale: false,
  overlap_mask: true,
  mask_ratio: 4,
  dropout: 0.0,
  // val settings
  val: true,
  split: 'val',
  save_json: false,
  save_hybrid: false,
  conf: null as number | null,
  iou: 0.7,
  max_det: 300,
  half: false,
  dnn: false,
  plots: true,
  // predict and visualize settings
  source: null as string | null,
  vid_stride: 1,
  stream_buffer: false,
  visualize: false,
  augment: false,
  agnostic_nms: false,
  classes: null as number[] | null,
  retina_masks: false,
  embed: null as number[] | null,
  show: false,
  save_frames: false,
  save_txt: false,
  save_conf: false,
  save_crop: false,
  show_labels: true,
  show_conf: true,
  show_boxes: true,
  line_width: null as number | null,
  // export settings
  format: 'torchscript',
  keras: false,
  optimize: false,
  int8: false,
  dynamic: false,
  simplify: false,
  opset: null as number | null,
  workspace: 4,
  nms: false,
  // hyperparameters
  lr0: 0.01,
  lrf: 0.01,
  momentum: 0.937,
  weight_decay: 0.0005,
  warmup_epochs: 3.0,
  warmup_momentum: 0.8,
  warmup_bias_lr: 0.1,
  box: 7.5,
  cls: 0.5,
  dfl: 1.5,
  pose: 12.0,
  kobj: 1.0,
  label_smoothing: 0.0,
  nbs: 64,
  hsv_h: 0.015,
  hsv_s: 0.7,
  hsv_v: 0.4,
  degrees: 0.0,
  translate: 0.1,
  scale: 0.5,
  shear: 0.0,
  perspective: 0.0,
  flipud: 0.0,
  fliplr: 0.5,
  bgr: 0.0,
  mosaic: 1.0,
  mixup: 0.0,
  copy_paste: 0.0,
  auto_augment: 'randaugment',
  erasing: 0.4,
  crop_fraction: 1.0,
  cfg: null as string | null,
  tracker: 'botsort.yaml',
};

export type TrainArgs = typeof DEFAULT_CFG & { save_dir?: string };
export type TrainOverrides = Partial<Record<keyof typeof DEFAULT_CFG, CfgValue>> & Record<string, CfgValue | undefined>;

// check_cfg's key classes (ultralytics/cfg/__init__.py).
const FLOAT_KEYS = new Set(['warmup_epochs', 'box', 'cls', 'dfl', 'degrees', 'shear', 'time', 'workspace', 'batch']);
const FRACTION_KEYS = new Set([
  'dropout',
  'lr0',
  'lrf',
  'momentum',
  'weight_decay',
  'warmup_momentum',
  'warmup_bias_lr',
  'label_smoothing',
  'hsv_h',
  'hsv_s',
  'hsv_v',
  'translate',
  'scale',
  'perspective',
  'flipud',
  'fliplr',
  'bgr',
  'mosaic',
  'mixup',
  'copy_paste',
  'conf',
  'iou',
  'fraction',
]);
const INT_KEYS = new Set([
  'epochs',
  'patience',
  'workers',
  'seed',
  'close_mosaic',
  'mask_ratio',
  'max_det',
  'vid_stride',
  'line_width',
  'nbs',
  'save_period',
]);
const BOOL_KEYS = new Set([
  'save',
  'exist_ok',
  'verbose',
  'deterministic',
  'single_cls',
  'rect',
  'cos_lr',
  'overlap_mask',
  'val',
  'save_json',
  'save_hybrid',
  'half',
  'dnn',
  'plots',
  'show',
  'save_txt',
  'save_conf',
  'save_crop',
  'save_frames',
  'show_labels',
  'show_conf',
  'visualize',
  'augment',
  'agnostic_nms',
  'retina_masks',
  'show_boxes',
  'keras',
  'optimize',
  'int8',
  'dynamic',
  'simplify',
  'nms',
  'profile',
  'multi_scale',
]);

/** Ultralytics' optimizer list (build_optimizer), every one implemented (nn/optim.ts, nn/optim_more.ts). */
export const OPTIMIZERS = ['Adam', 'Adamax', 'AdamW', 'NAdam', 'RAdam', 'RMSProp', 'SGD', 'auto'];

/**
 * Training keys whose non-default values change training in ways this toolkit does not implement:
 * rejected with a clear error instead of being silently ignored.
 */
export const UNSUPPORTED: Partial<Record<keyof typeof DEFAULT_CFG, string>> = {
  profile: 'profiling ONNX and TensorRT speeds for loggers (neither runtime is part of training here)',
};

/**
 * default.yaml merged with `overrides`, checked like Ultralytics' get_cfg: unknown keys (with close
 * matches), types (int / float / fraction in [0, 1] / bool), 'none' strings -> null.
 */
export function resolveTrainArgs(overrides: TrainOverrides = {}): TrainArgs {
  checkAlignment(overrides);
  const args: Record<string, unknown> = { ...DEFAULT_CFG };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    args[k] = typeof v === 'string' && v.toLowerCase() === 'none' ? null : v;
  }
  for (const k of ['project', 'name']) if (typeof args[k] === 'number') args[k] = String(args[k]);
  if (args.name === 'model') throw new Error("train: name='model' is reserved (Ultralytics uses the same rule)");
  checkTypes(args);
  for (const [k, what] of Object.entries(UNSUPPORTED))
    if (args[k] !== (DEFAULT_CFG as Record<string, unknown>)[k])
      throw new Error(
        `train: ${k}=${fmt(args[k])} (${what}) is not supported by this toolkit; leave it at its default ${fmt((DEFAULT_CFG as Record<string, unknown>)[k])}`,
      );
  if (
    typeof args.optimizer !== 'string' ||
    !OPTIMIZERS.map((o) => o.toLowerCase()).includes(args.optimizer.toLowerCase())
  )
    throw new Error(
      `train: optimizer=${fmt(args.optimizer)} not found in this toolkit's list of optimizers [${OPTIMIZERS.join(', ')}]`,
    );
  args.optimizer = OPTIMIZERS.find((o) => o.toLowerCase() === String(args.optimizer).toLowerCase());
  const b = args.batch as number;
  if (!((Number.isInteger(b) && b > 0) || b === -1 || (b > 0 && b < 1)))
    throw new Error(
      `train: batch=${fmt(args.batch)} must be a positive integer, -1 (AutoBatch) or a memory fraction between 0 and 1`,
    );
  if (!(Number.isInteger(args.epochs) && (args.epochs as number) > 0))
    throw new Error(`train: epochs=${fmt(args.epochs)} must be a positive integer`);
  const imgsz = args.imgsz;
  if (
    Array.isArray(imgsz)
      ? imgsz.length !== 1 && !(imgsz.length === 2 && imgsz[0] === imgsz[1])
      : typeof imgsz !== 'number'
  )
    throw new Error(`train: imgsz=${fmt(imgsz)} must be one integer (training uses square images)`);
  args.imgsz = Array.isArray(imgsz) ? Number(imgsz[0]) : imgsz;
  if (!(Number.isInteger(args.imgsz) && (args.imgsz as number) > 0))
    throw new Error(`train: imgsz=${fmt(imgsz)} must be a positive integer`);
  return args as TrainArgs;
}

export function checkTypes(args: Record<string, unknown>) {
  for (const [k, v] of Object.entries(args)) {
    if (v === null || v === undefined) continue;
    if (FLOAT_KEYS.has(k) && typeof v !== 'number')
      throw new Error(
        `'${k}=${fmt(v)}' is of invalid type ${pyType(v)}. Valid '${k}' types are int (i.e. '${k}=0') or float (i.e. '${k}=0.5')`,
      );
    if (FRACTION_KEYS.has(k)) {
      if (typeof v !== 'number')
        throw new Error(
          `'${k}=${fmt(v)}' is of invalid type ${pyType(v)}. Valid '${k}' types are int (i.e. '${k}=0') or float (i.e. '${k}=0.5')`,
        );
      if (!(v >= 0 && v <= 1))
        throw new Error(`'${k}=${fmt(v)}' is an invalid value. Valid '${k}' values are between 0.0 and 1.0.`);
    }
    if (INT_KEYS.has(k) && !(typeof v === 'number' && Number.isInteger(v)))
      throw new Error(`'${k}=${fmt(v)}' is of invalid type ${pyType(v)}. '${k}' must be an int (i.e. '${k}=8')`);
    if (BOOL_KEYS.has(k) && typeof v !== 'boolean')
      throw new Error(
        `'${k}=${fmt(v)}' is of invalid type ${pyType(v)}. '${k}' must be a bool (i.e. '${k}=True' or '${k}=False')`,
      );
  }
}

/** check_dict_alignment: every key must be one of default.yaml's; suggest the closest ones. */
export function checkAlignment(overrides: Record<string, unknown>) {
  const base = Object.keys(DEFAULT_CFG).filter((k) => k !== 'task' && k !== 'mode');
  const bad = Object.keys(overrides).filter((k) => !(k in DEFAULT_CFG) && k !== 'save_dir');
  if (!bad.length) return;
  const lines = bad.map((k) => {
    const matches = closeMatches(k, base).map((m) => `${m}=${fmt((DEFAULT_CFG as Record<string, unknown>)[m])}`);
    return `'${k}' is not a valid YOLO argument. ${matches.length ? `Similar arguments are i.e. ${matches.join(', ')}.` : ''}`.trim();
  });
  throw new Error(`${lines.join('\n')}\nSee the valid arguments with 'yolo help' (Ultralytics' default.yaml keys).`);
}

/** difflib.get_close_matches(word, candidates, n, cutoff): best Ratcliff/Obershelp ratios first. */
export function closeMatches(word: string, candidates: string[], n = 3, cutoff = 0.6): string[] {
  return candidates
    .map((c) => ({ c, r: similarity(word, c) }))
    .filter((x) => x.r >= cutoff)
    .sort((a, b) => b.r - a.r)
    .slice(0, n)
    .map((x) => x.c);
}

/** SequenceMatcher(None, a, b).ratio(): 2 * matched characters / total characters. */
export function similarity(a: string, b: string): number {
  const matched = (a0: number, a1: number, b0: number, b1: number): number => {
    // longest common block (first one, as difflib) then recurse on both sides
    let best = 0,
      bi = 0,
      bj = 0;
    for (let i = a0; i < a1; i++)
      for (let j = b0; j < b1; j++) {
        let k = 0;
        while (i + k < a1 && j + k < b1 && a[i + k] === b[j + k]) k++;
        if (k > best) ((best = k), (bi = i), (bj = j));
      }
    if (!best) return 0;
    return best + matched(a0, bi, b0, bj) + matched(bi + best, a1, bj + best, b1);
  };
  const total = a.length + b.length;
  return total ? (2 * matched(0, a.length, 0, b.length)) / total : 1;
}

const pyType = (v: unknown) =>
  typeof v === 'string'
    ? 'str'
    : typeof v === 'boolean'
      ? 'bool'
      : typeof v === 'number'
        ? Number.isInteger(v)
          ? 'int'
          : 'float'
        : Array.isArray(v)
          ? 'list'
          : typeof v;

/** A value as Ultralytics prints it (True/False/None). */
export function fmt(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v)) return `[${v.map(fmt).join(', ')}]`;
  return String(v);
}

/** args.yaml as yaml_save writes it: one `key: value` line per argument, in default.yaml's order. */
export function argsToYaml(args: Record<string, unknown>): string {
  const scalar = (v: unknown, k = ''): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return Number.isInteger(v) && FLOAT_DEFAULTS.has(k) ? `${v}.0` : String(v);
    if (Array.isArray(v)) return `[${v.map((x) => scalar(x)).join(', ')}]`;
    const s = String(v);
    return /^[\w./-]+$/.test(s) && !/^(true|false|null|yes|no|on|off|[-+]?[\d.]+(e[-+]?\d+)?)$/i.test(s)
      ? s
      : JSON.stringify(s);
  };
  return (
    Object.entries(args)
      .map(([k, v]) => `${k}: ${scalar(v, k)}`)
      .join('\n') + '\n'
  );
}
/** Keys default.yaml writes as floats (3.0, not 3): a whole number keeps its '.0' in args.yaml. */
const FLOAT_DEFAULTS = new Set([
  'fraction',
  'dropout',
  'warmup_epochs',
  'pose',
  'kobj',
  'label_smoothing',
  'degrees',
  'shear',
  'perspective',
  'flipud',
  'bgr',
  'mosaic',
  'mixup',
  'copy_paste',
  'crop_fraction',
  'lr0',
  'lrf',
  'momentum',
  'weight_decay',
  'warmup_momentum',
  'warmup_bias_lr',
  'box',
  'cls',
  'dfl',
  'hsv_h',
  'hsv_s',
  'hsv_v',
  'translate',
  'scale',
  'fliplr',
  'erasing',
  'iou',
]);
