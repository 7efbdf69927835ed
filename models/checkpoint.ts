// Checkpoints in and out. Names need no mapping: our modules carry Ultralytics' attribute names,
// so `model.stateDict()` keys are Ultralytics' state-dict keys (`model.22.cv4.0.2.weight`).
//
//   read:  Ultralytics .pt (the pickled PoseModel, `ema` if present else `model`, via
//          engine/io/torch_pt.ts, which runs nothing from the file), our own .pt, and .safetensors.
//   write: .pt in Ultralytics 8.2.82's own layout (models/ultralytics_pt.ts: `model` is the pickled
//          PoseModel in fp16, plus epoch, best_fitness, ema, updates, optimizer, train_args, date,
//          version, license, docs), so Ultralytics' YOLO('x.pt') loads it. What only this toolkit
//          uses rides along under the extra key `yolo_ts`, which Ultralytics ignores:
//          {format, version, yaml, names, stride, state_dict (the weights in float32, exact), ...extra}.
//          Or .safetensors: the state dict under Ultralytics' names, metadata as strings.
import { extname } from 'node:path';
import {
  loadTorchCheckpoint,
  extractStateDict,
  saveTorchCheckpoint,
  TorchTensor,
  type CheckpointMeta,
  type StateTensor,
} from '../engine/io/torch_pt.js';
import { intKeys, orderedDict } from '../engine/io/pickle.js';
import { InputError, readingFile } from '../engine/errors.js';
import { asF32, readSafetensors, writeSafetensors, type STEntry } from '../engine/io/safetensors.js';
import type { Device, Tensor } from '../engine/index.js';
import type { HostArray } from '../nn/module.js';
import { ultralyticsGraph, type HostStateDict } from './ultralytics_pt.js';
import { PoseModel, parsePoseName, type PoseYaml, type Scale } from './yolov8_pose.js';

export const FORMAT = 'yolo-ts pose checkpoint';
export const VERSION = 'yolo-ts 0.1.0';
/** The top-level key of what only this toolkit reads (Ultralytics ignores keys it does not know). */
export const OURS_KEY = 'yolo_ts';
/** The Ultralytics release whose checkpoint layout we write. */
export const ULTRALYTICS_VERSION = '8.2.82';
/** Ultralytics' license and docs keys, as every one of its checkpoints carries them. */
export const ULTRALYTICS_NOTICE = {
  license: 'AGPL-3.0 License (https://ultralytics.com/license)',
  docs: 'https://docs.ultralytics.com',
};

export interface PoseCheckpoint {
  stateDict: Map<string, HostArray>;
  yaml: PoseYaml;
  names: Record<number, string>;
  stride: number[];
  /** everything else the file holds (epoch, best_fitness, train_args, date, version...) */
  extra: Record<string, unknown>;
}

/** Reads a checkpoint (.pt from Ultralytics or from us, or .safetensors) without building a model. */
export function readPoseCheckpoint(path: string): PoseCheckpoint {
  return readingFile(path, () => readCheckpointFile(path));
}

function readCheckpointFile(path: string): PoseCheckpoint {
  if (extname(path).toLowerCase() === '.safetensors') return readSafetensorsCheckpoint(path);
  const ckpt = loadTorchCheckpoint(path) as Record<string, unknown>;
  if (ckpt && typeof ckpt === 'object' && ckpt.format === FORMAT) return readOurs(ckpt, path); // before the Ultralytics layout
  const ours = ckpt && typeof ckpt === 'object' ? (ckpt[OURS_KEY] as Record<string, unknown> | undefined) : undefined;
  if (ours && typeof ours === 'object' && ours.format === FORMAT) return readOursUltralytics(ckpt, ours, path);
  const { stateDict, meta } = extractStateDict(ckpt);
  return fromUltralytics(stateDict, meta, path);
}

/** Builds the model a checkpoint describes and loads its weights (strict: every key, every shape). */
export function loadPoseModel(path: string, opts: { device?: Device } = {}): PoseModel {
  return modelFromCheckpoint(readPoseCheckpoint(path), path, opts.device);
}

/** The model an already-read checkpoint describes, with its weights; `path` names it in errors. */
export function modelFromCheckpoint(ck: PoseCheckpoint, path: string, device?: Device): PoseModel {
  checkHeadMatchesYaml(ck, path);
  const model = new PoseModel(ck.yaml, device);
  try {
    model.loadStateDict(ck.stateDict);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  model.names = { ...ck.names };
  if (ck.stride.length && ck.stride.join() !== model.stride.join())
    throw new Error(`${path}: checkpoint strides [${ck.stride}] differ from the model's [${model.stride}]`);
  return model;
}

function fromUltralytics(sd: Map<string, StateTensor>, meta: CheckpointMeta, path: string): PoseCheckpoint {
  if (meta.task && meta.task !== 'pose')
    throw new Error(`${path}: a ${meta.task} checkpoint (${meta.model_class ?? 'unknown class'}), not a pose model`);
  const yamlFile = String(meta.yaml?.yaml_file ?? '');
  const named = yamlFile ? safeParseName(yamlFile) : null;
  const scale = (meta.yaml?.scale as Scale | undefined) ?? named?.scale;
  if (!scale)
    throw new Error(
      `${path}: cannot tell the model scale (no yaml.scale and yaml_file '${yamlFile}' is not yolov8{n,s,m,l,x}-pose[-p6].yaml)`,
    );
  const p6 = named?.p6 ?? (Array.isArray(meta.yaml?.backbone) && meta.yaml!.backbone.length === 12);
  const kpt = meta.kpt_shape ?? [17, 3];
  const nc = meta.nc ?? 1;
  const yaml: PoseYaml = {
    yaml_file: yamlFile || `yolov8${scale}-pose${p6 ? '-p6' : ''}.yaml`,
    scale,
    nc,
    kpt_shape: [kpt[0], kpt[1]],
    p6,
  };
  const names = meta.names ?? defaultNames(nc);
  const extra: Record<string, unknown> = {
    source: meta.source,
    train_args: meta.train_args,
    epoch: meta.epoch,
    best_fitness: meta.best_fitness,
    date: meta.date,
    version: meta.version,
  };
  return { stateDict: sd as Map<string, HostArray>, yaml, names, stride: meta.stride ?? [], extra };
}

/**
 * The pose head's last keypoint conv (model.<head>.cv4.0.2) has nk * ndim outputs and the class
 * branch (cv3.0.2) nc: when these disagree with the yaml the model would be built from, say so in
 * those terms rather than as a list of every tensor whose shape differs.
 */
function checkHeadMatchesYaml(ck: PoseCheckpoint, path: string): void {
  const [nk, nd] = ck.yaml.kpt_shape;
  for (const [k, t] of ck.stateDict) {
    const m = /^model\.(\d+)\.cv([34])\.0\.2\.weight$/.exec(k);
    if (!m) continue;
    const out = t.shape[0];
    if (m[2] === '4' && out !== nk * nd) {
      const d = out % nd === 0 ? nd : out % 3 === 0 ? 3 : 2;
      throw new InputError(
        path,
        `checkpoint kpt_shape [${out / d}, ${d}] (its '${k}' has ${out} outputs), model [${nk}, ${nd}]`,
      );
    }
    if (m[2] === '3' && out !== ck.yaml.nc)
      throw new InputError(path, `checkpoint nc ${out} (its '${k}' has ${out} outputs), model nc ${ck.yaml.nc}`);
  }
}

function readOurs(ck: Record<string, unknown>, path: string): PoseCheckpoint {
  const { state_dict, yaml, names, stride, ...extra } = ck;
  const sd = new Map<string, HostArray>();
  for (const [k, t] of Object.entries((state_dict ?? {}) as Record<string, unknown>)) {
    if (!(t instanceof TorchTensor)) throw new Error(`${path}: state_dict entry '${k}' is not a tensor`);
    sd.set(k, { shape: t.shape, data: t.dtype === 'int64' ? (t.data as BigInt64Array) : t.toFloat32() });
  }
  return {
    stateDict: sd,
    yaml: checkYaml(yaml, path),
    names: (names ?? {}) as Record<number, string>,
    stride: (stride ?? []) as number[],
    extra,
  };
}

/**
 * Our file in Ultralytics' layout: the float32 weights under yolo_ts.state_dict when present (a
 * stripped best.pt keeps only the fp16 graph, exactly as Ultralytics' does, and those are used).
 * `extra` holds Ultralytics' top-level keys and then ours (so `optimizer` and `model` are ours).
 */
function readOursUltralytics(ck: Record<string, unknown>, ours: Record<string, unknown>, path: string): PoseCheckpoint {
  const { state_dict, yaml, names, stride, ...rest } = ours;
  let sd: Map<string, HostArray>;
  if (state_dict) sd = readOurs({ state_dict, yaml, names, stride }, path).stateDict;
  else sd = extractStateDict(ck).stateDict as Map<string, HostArray>;
  const { model: _m, ema: _e, optimizer: _o, [OURS_KEY]: _x, ...top } = ck;
  const stripped = ck.optimizer === null ? { optimizer: null } : {}; // Ultralytics' strip_optimizer leaves None, as ours
  return {
    stateDict: sd,
    yaml: checkYaml(yaml, path),
    names: (names ?? {}) as Record<number, string>,
    stride: (stride ?? []) as number[],
    extra: { ...top, ...stripped, ...rest },
  };
}

function readSafetensorsCheckpoint(path: string): PoseCheckpoint {
  const { tensors, metadata } = readSafetensors(path);
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(metadata.yolo ?? '');
  } catch {
    throw new Error(`${path}: no yolo-ts metadata (__metadata__.yolo) in this safetensors file`);
  }
  const sd = new Map<string, HostArray>();
  for (const [k, e] of tensors)
    sd.set(k, { shape: e.shape, data: e.dtype === 'I64' ? (e.data as BigInt64Array) : asF32(e) });
  const { yaml, names, stride, ...extra } = meta;
  return {
    stateDict: sd,
    yaml: checkYaml(yaml, path),
    names: (names ?? {}) as Record<number, string>,
    stride: (stride ?? []) as number[],
    extra,
  };
}

function checkYaml(y: unknown, path: string): PoseYaml {
  const v = y as PoseYaml;
  if (!v || typeof v !== 'object' || !('scale' in v) || !Array.isArray(v.kpt_shape) || typeof v.nc !== 'number')
    throw new Error(`${path}: checkpoint metadata has no valid 'yaml' ({yaml_file, scale, nc, kpt_shape, p6})`);
  const out: PoseYaml = {
    yaml_file: String(v.yaml_file),
    scale: v.scale,
    nc: v.nc,
    kpt_shape: [v.kpt_shape[0], v.kpt_shape[1]],
    p6: !!v.p6,
  };
  if (v.cfg) out.cfg = v.cfg; // a model built from a non-stock yaml (models/yaml_model.ts)
  return out;
}

function safeParseName(name: string) {
  try {
    return parsePoseName(name);
  } catch {
    return null;
  }
}

const defaultNames = (nc: number) => Object.fromEntries(Array.from({ length: nc }, (_, i) => [i, String(i)]));

// ---- writing --------------------------------------------------------------------------------------

/** The model's state dict on the host: float tensors as Float32Array, num_batches_tracked as int64. */
export async function hostStateDict(model: PoseModel): Promise<HostStateDict> {
  const out: HostStateDict = new Map();
  for (const [k, t] of model.stateDict()) {
    const d = await (t as Tensor).data();
    out.set(k, {
      shape: [...t.shape],
      data: t.dtype === 'i32' ? BigInt64Array.from(d as Int32Array, (v) => BigInt(v)) : Float32Array.from(d),
    });
  }
  return out;
}

/** A host state dict as the OrderedDict of tensors torch.save writes. */
export function torchStateDict(sd: HostStateDict) {
  return orderedDict(
    Object.fromEntries(
      [...sd].map(([k, v]) => [
        k,
        { dtype: v.data instanceof BigInt64Array ? 'int64' : 'float32', shape: v.shape, data: v.data },
      ]),
    ),
  );
}

/** What every one of our .pt files carries under yolo_ts: how to rebuild the model, without weights. */
export function oursMeta(model: PoseModel) {
  return {
    format: FORMAT,
    version: VERSION,
    task: 'pose',
    yaml: { ...model.yaml, kpt_shape: [...model.kptShape] },
    names: intKeys({ ...model.names }),
    stride: [...model.stride],
  };
}

/** Ultralytics' export metadata (names, stride, kpt_shape...) as strings, for .safetensors headers. */
function safetensorsMetadata(model: PoseModel, meta: Record<string, unknown>): Record<string, string> {
  return {
    format: 'pt',
    description: `Ultralytics YOLOv8${model.yaml.scale}-pose model trained with yolo-ts`,
    author: 'yolo-ts',
    date: String(meta.date),
    version: ULTRALYTICS_VERSION,
    ...ULTRALYTICS_NOTICE,
    task: 'pose',
    stride: String(Math.max(...model.stride)),
    batch: '1',
    names: JSON.stringify(model.names),
    kpt_shape: JSON.stringify(model.kptShape),
    yolo: JSON.stringify(meta),
  };
}

/**
 * Saves weights and metadata to `path`: .safetensors (Ultralytics' state-dict names), or else a .pt
 * in Ultralytics' layout (as YOLO.save() writes it) that this toolkit reads back bit for bit.
 * `extra` (epoch, best_fitness, train_args, ...) is stored alongside.
 */
export async function savePoseCheckpoint(model: PoseModel, path: string, extra: Record<string, unknown> = {}) {
  const sd = await hostStateDict(model);
  const date = new Date().toISOString();
  if (extname(path).toLowerCase() === '.safetensors') {
    const meta = {
      format: FORMAT,
      task: 'pose',
      yaml: model.yaml,
      nc: model.nc,
      names: model.names,
      kpt_shape: model.kptShape,
      stride: model.stride,
      date,
      version: VERSION,
      ...extra,
    };
    const tensors = new Map<string, STEntry>();
    for (const [k, v] of sd)
      tensors.set(k, { dtype: v.data instanceof BigInt64Array ? 'I64' : 'F32', shape: v.shape, data: v.data });
    writeSafetensors(path, tensors, safetensorsMetadata(model, meta));
    return;
  }
  const trainArgs = (extra.train_args ?? {}) as Record<string, unknown>;
  saveTorchCheckpoint(path, {
    epoch: extra.epoch ?? -1,
    best_fitness: extra.best_fitness ?? null,
    model: ultralyticsGraph(model, sd, {
      kind: 'model',
      training: model.training,
      requiresGrad: true,
      args: trainArgs,
    }),
    ema: null,
    updates: null,
    optimizer: null,
    train_args: trainArgs,
    date,
    version: ULTRALYTICS_VERSION,
    ...ULTRALYTICS_NOTICE,
    [OURS_KEY]: { ...oursMeta(model), state_dict: torchStateDict(sd), ...extra },
  });
}
