// One gate for every entry point (the `yolo` CLI and the YOLO class, every mode): Ultralytics'
// get_cfg + check_dict_alignment + check_cfg, plus what Ultralytics does not do, refusing by name
// what this toolkit does not implement, so that no option is ever silently ignored.
//
//   const args = checkModeArgs('predict', { conf: 0.5, cfg: 'custom.yaml' });
//
// For a mode M, each key of an override dictionary is
//   - not a default.yaml key                -> error, with difflib's close matches (as Ultralytics)
//   - of the wrong type                     -> error (check_cfg's int / float / fraction / bool rules)
//   - implemented by M                      -> kept
//   - read by Ultralytics' M, not here      -> error naming the key and why, unless at its default
//   - not read by M (lr0 in predict, workers in val) -> dropped with a warning, unless at its default
// `cfg=file.yaml` is loaded first ("Overriding default.yaml with file.yaml"); explicit keys win.
//
// Imports: ./train/args (default.yaml, type checks), the per-mode key lists, yaml.

import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CFG, UNSUPPORTED, checkAlignment, checkTypes, fmt } from './train/args.js';
import { PREDICT_KEYS } from './predict/cli.js';
import { VAL_KEYS } from './val/api.js';
import { EXPORT_KEYS } from './export/cli.js';

export type Mode = 'train' | 'val' | 'predict' | 'track' | 'export' | 'benchmark';
type Overrides = Record<string, unknown>;

const ALWAYS = ['task', 'mode', 'cfg', 'model', 'device', 'verbose', 'threads']; // threads: the wasm device's (engine/device.ts)

/** The keys Ultralytics 8.2.82 reads in each mode (its engine/*.py, models/yolo/pose/*.py, data/build.py). */
const ULTRALYTICS_KEYS: Record<Mode, string[]> = {
  train: Object.keys(DEFAULT_CFG).filter(
    (k) =>
      [
        'source',
        'vid_stride',
        'stream_buffer',
        'visualize',
        'augment',
        'agnostic_nms',
        'retina_masks',
        'embed',
        'show',
        'save_frames',
        'save_txt',
        'save_conf',
        'save_crop',
        'show_labels',
        'show_conf',
        'show_boxes',
        'line_width',
        'format',
        'keras',
        'optimize',
        'int8',
        'dynamic',
        'simplify',
        'opset',
        'workspace',
        'nms',
        'tracker',
        'split',
        'half',
        'dnn',
        'overlap_mask',
        'mask_ratio',
        'dropout',
        'auto_augment',
        'erasing',
        'crop_fraction',
      ].indexOf(k) < 0,
  ),
  val: [
    'data',
    'imgsz',
    'batch',
    'split',
    'save_json',
    'save_hybrid',
    'conf',
    'iou',
    'max_det',
    'half',
    'dnn',
    'plots',
    'project',
    'name',
    'exist_ok',
    'save_txt',
    'save_conf',
    'augment',
    'single_cls',
    'classes',
  ],
  predict: [
    'source',
    'imgsz',
    'batch',
    'conf',
    'iou',
    'max_det',
    'half',
    'dnn',
    'vid_stride',
    'stream_buffer',
    'visualize',
    'augment',
    'agnostic_nms',
    'classes',
    'embed',
    'show',
    'save',
    'save_frames',
    'save_txt',
    'save_conf',
    'save_crop',
    'show_labels',
    'show_conf',
    'show_boxes',
    'line_width',
    'project',
    'name',
    'exist_ok',
  ],
  track: [],
  export: [
    'format',
    'imgsz',
    'batch',
    'half',
    'int8',
    'dynamic',
    'simplify',
    'opset',
    'workspace',
    'nms',
    'keras',
    'optimize',
    'data',
    'agnostic_nms',
    'iou',
    'split',
  ],
  benchmark: ['data', 'imgsz', 'half', 'int8', 'format'],
};
ULTRALYTICS_KEYS.track = [...ULTRALYTICS_KEYS.predict, 'tracker'];

/** Why a key Ultralytics reads in a mode is not implemented here (a non-default value is refused). */
const REASONS: Record<string, string> = {
  dnn: 'the OpenCV DNN backend; exported .onnx models run through this engine instead',
  augment: 'test-time augmentation',
  embed: 'feature-embedding output',
  show: 'showing a window (there is no window system here; save=True writes the images)',
  save_crop: 'saving crops',
  save_txt: 'saving labels as .txt',
  save_conf: 'saving confidences in the .txt labels',
  workspace: 'a TensorRT workspace (TensorRT export is not available)',
  keras: 'Keras export',
  optimize: 'TorchScript mobile optimization',
  nms: 'NMS inside the exported model',
  ...Object.fromEntries(Object.entries(UNSUPPORTED).map(([k, v]) => [k, String(v)])),
};

/** Keys Ultralytics 8.2.82 takes in a mode but never acts on there: accepted with a warning saying so. */
const NO_EFFECT: Partial<Record<Mode, Record<string, string>>> = {
  export: { agnostic_nms: 'Ultralytics 8.2.82 hands it only to export_tflite, which never reads it' },
};

/**
 * What each mode of this build implements: the CLI parsers' key lists (so a helper adding a key
 * there makes it valid here too), and for train every train key except the ones refused below.
 */
function implemented(mode: Mode): Set<string> {
  switch (mode) {
    case 'train': {
      const refused = new Set(Object.keys(UNSUPPORTED));
      return new Set([...ULTRALYTICS_KEYS.train, ...ALWAYS, 'save_dir'].filter((k) => !refused.has(k)));
    }
    case 'val':
      return new Set([...VAL_KEYS, ...ALWAYS, 'save_dir']);
    case 'predict':
      return new Set([...PREDICT_KEYS, ...ALWAYS]);
    case 'track':
      return new Set([...PREDICT_KEYS, ...ALWAYS, 'tracker', 'persist']); // persist: a YOLO.track() argument, not a default.yaml key
    case 'export':
      return new Set([...EXPORT_KEYS, ...ALWAYS]);
    case 'benchmark':
      return new Set([...ALWAYS]);
  }
}

/** Values an implemented key can still not take, with the reason. */
function refusedValue(mode: Mode, k: string, v: unknown): string | null {
  if (
    mode === 'train' &&
    k === 'cache' &&
    !(v === true || v === false || v === null || (typeof v === 'string' && ['ram', 'disk'].includes(v.toLowerCase())))
  )
    return `cache=${fmt(v)} must be True, False, 'ram' or 'disk'`;
  return null;
}

export interface CheckOptions {
  /** warnings (default console.warn) */
  warn?: (s: string) => void;
  /** info lines such as "Overriding default.yaml with ..." (default console.log) */
  log?: (s: string) => void;
  /** what the messages are prefixed with, e.g. 'yolo predict' or 'YOLO.predict' */
  where?: string;
}

/** Loads `cfg=custom.yaml` beneath the explicit keys, as Ultralytics' entrypoint and Model.train do. */
export function applyCfgFile(overrides: Overrides, opts: CheckOptions = {}): Overrides {
  const cfg = overrides.cfg;
  if (cfg == null || cfg === false) return overrides;
  const file = String(cfg);
  if (!existsSync(file))
    throw new Error(`cfg=${file}: file not found (give the path of a yaml like the one 'yolo copy-cfg' writes)`);
  let loaded: unknown;
  try {
    loaded = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cfg=${file}: not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  if (loaded == null) loaded = {};
  if (typeof loaded !== 'object' || Array.isArray(loaded))
    throw new Error(`cfg=${file}: expected a mapping of default.yaml keys (key: value lines)`);
  (opts.log ?? console.log)(`Overriding default.yaml with ${file}`);
  const fromFile = Object.fromEntries(Object.entries(loaded as Overrides).filter(([k]) => k !== 'cfg'));
  const { cfg: _c, ...rest } = overrides;
  return { ...fromFile, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
}

const isDefault = (k: string, v: unknown) => {
  const d = (DEFAULT_CFG as Record<string, unknown>)[k];
  if (v === undefined || v === d) return true;
  if (v === null && d === null) return true;
  return Array.isArray(v) && Array.isArray(d) && JSON.stringify(v) === JSON.stringify(d);
};

/**
 * Checks `overrides` for `mode` (after applying cfg=) and returns the keys the mode implements;
 * refuses by name what it does not, and warns about keys that belong to other modes.
 */
export function checkModeArgs<T extends Overrides>(mode: Mode, overrides: T, opts: CheckOptions = {}): T {
  const where = opts.where ?? `yolo ${mode}`;
  const warn = opts.warn ?? console.warn;
  const o = applyCfgFile(overrides, opts);
  if (o.task != null && o.task !== 'pose')
    throw new Error(`${where}: task=${fmt(o.task)} is not supported (this toolkit implements: pose)`);
  const extra = implemented(mode);
  checkAlignment(Object.fromEntries(Object.entries(o).filter(([k]) => !extra.has(k))));
  // type-check only the plain values (the API also takes a Device object, image arrays...)
  checkTypes(
    Object.fromEntries(
      Object.entries(o).filter(
        ([k, v]) =>
          k in DEFAULT_CFG && (v === null || ['string', 'number', 'boolean'].includes(typeof v) || Array.isArray(v)),
      ),
    ),
  );
  const out: Overrides = {};
  const unused: string[] = [];
  const refused: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    const noEffect = NO_EFFECT[mode]?.[k];
    if (noEffect) {
      if (!isDefault(k, v))
        warn(`WARNING ⚠️ ${where}: ${k}=${fmt(v)} has no effect (${noEffect}); it is accepted for compatibility`);
      continue;
    }
    if (extra.has(k)) {
      const bad = refusedValue(mode, k, v);
      if (bad) refused.push(`'${k}=${fmt(v)}': ${bad}`);
      out[k] = v;
    } else if (ULTRALYTICS_KEYS[mode].includes(k)) {
      if (!isDefault(k, v))
        refused.push(
          `'${k}=${fmt(v)}': ${REASONS[k] ?? `Ultralytics' ${k} option`} is not implemented by yolo-ts ${mode}; leave it at its default ${fmt((DEFAULT_CFG as Record<string, unknown>)[k])}`,
        );
    } else if (!isDefault(k, v) && k !== 'save_dir') unused.push(`${k}=${fmt(v)}`);
  }
  if ('mode' in out) out.mode = mode; // the mode being run wins over a cfg file's
  if (refused.length) throw new Error(`${where}: ${refused.join('\n')}`);
  if (unused.length)
    warn(
      `WARNING ⚠️ ${where}: ${unused.join(', ')} ${unused.length > 1 ? 'are' : 'is'} not used in ${mode} mode and ${unused.length > 1 ? 'are' : 'is'} ignored`,
    );
  return out as T;
}

/** The keys each mode refuses at a non-default value, for the README table and `yolo help`. */
export function refusedKeys(mode: Mode): string[] {
  const impl = implemented(mode);
  return ULTRALYTICS_KEYS[mode].filter((k) => !impl.has(k) && !NO_EFFECT[mode]?.[k]);
}

/**
 * Modes that are not Ultralytics engine modes (info, demo, checks...) take only the keys they name;
 * anything else is an error rather than ignored.
 */
export function checkPlainMode(mode: string, overrides: Overrides, allowed: string[]): void {
  const bad = Object.keys(overrides).filter((k) => !allowed.includes(k) && !['task', 'mode', 'cfg'].includes(k));
  if (!bad.length) return;
  const takes = allowed.length ? `it takes ${allowed.join(', ')}` : 'it takes no key=value arguments';
  throw new Error(
    `yolo ${mode}: ${bad.map((k) => `'${k}'`).join(', ')} ${bad.length > 1 ? 'are' : 'is'} not used by this mode (${takes})`,
  );
}
