// Checkpoints in and out. Names need no mapping: our modules carry Ultralytics' attribute names,
// so `model.stateDict()` keys are Ultralytics' state-dict keys (`model.22.cv4.0.2.weight`).
//
//   read:  Ultralytics .pt (the pickled PoseModel, `ema` if present else `model`, via
//          engine/io/torch_pt.ts, which runs nothing from the file), our own .pt, and .safetensors.
//   write: .pt that plain PyTorch can torch.load: a dict {state_dict: OrderedDict of tensors,
//          yaml, nc, names, kpt_shape, stride, task, date, version, ...extra}; or .safetensors with
//          the same metadata as JSON under __metadata__.yolo.
import { extname } from 'node:path';
import { loadTorchCheckpoint, extractStateDict, saveTorchCheckpoint, TorchTensor, type CheckpointMeta, type StateTensor } from '../engine/io/torch_pt.js';
import { intKeys, orderedDict } from '../engine/io/pickle.js';
import { InputError, readingFile } from '../engine/errors.js';
import { asF32, readSafetensors, writeSafetensors, type STEntry } from '../engine/io/safetensors.js';
import type { Device, Tensor } from '../engine/index.js';
import type { HostTensor } from '../nn/module.js';
import { PoseModel, parsePoseName, type PoseYaml, type Scale } from './yolov8_pose.js';

export const FORMAT = 'yolo-ts pose checkpoint';
const VERSION = 'yolo-ts 0.1.0';

export interface PoseCheckpoint {
  stateDict: Map<string, HostTensor>;
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
  if (ckpt && typeof ckpt === 'object' && ckpt.format === FORMAT) return readOurs(ckpt, path);
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
  if (meta.task && meta.task !== 'pose') throw new Error(`${path}: a ${meta.task} checkpoint (${meta.model_class ?? 'unknown class'}), not a pose model`);
  const yamlFile = String(meta.yaml?.yaml_file ?? '');
  const named = yamlFile ? safeParseName(yamlFile) : null;
  const scale = (meta.yaml?.scale as Scale | undefined) ?? named?.scale;
  if (!scale) throw new Error(`${path}: cannot tell the model scale (no yaml.scale and yaml_file '${yamlFile}' is not yolov8{n,s,m,l,x}-pose[-p6].yaml)`);
  const p6 = named?.p6 ?? (Array.isArray(meta.yaml?.backbone) && meta.yaml!.backbone.length === 12);
  const kpt = meta.kpt_shape ?? [17, 3];
  const nc = meta.nc ?? 1;
  const yaml: PoseYaml = { yaml_file: yamlFile || `yolov8${scale}-pose${p6 ? '-p6' : ''}.yaml`, scale, nc, kpt_shape: [kpt[0], kpt[1]], p6 };
  const names = meta.names ?? defaultNames(nc);
  const extra: Record<string, unknown> = { source: meta.source, train_args: meta.train_args, epoch: meta.epoch, best_fitness: meta.best_fitness, date: meta.date, version: meta.version };
  return { stateDict: sd as Map<string, HostTensor>, yaml, names, stride: meta.stride ?? [], extra };
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
      throw new InputError(path, `checkpoint kpt_shape [${out / d}, ${d}] (its '${k}' has ${out} outputs), model [${nk}, ${nd}]`);
    }
    if (m[2] === '3' && out !== ck.yaml.nc) throw new InputError(path, `checkpoint nc ${out} (its '${k}' has ${out} outputs), model nc ${ck.yaml.nc}`);
  }
}

function readOurs(ck: Record<string, unknown>, path: string): PoseCheckpoint {
  const { state_dict, yaml, names, stride, ...extra } = ck;
  const sd = new Map<string, HostTensor>();
  for (const [k, t] of Object.entries((state_dict ?? {}) as Record<string, unknown>)) {
    if (!(t instanceof TorchTensor)) throw new Error(`${path}: state_dict entry '${k}' is not a tensor`);
    sd.set(k, { shape: t.shape, data: t.dtype === 'int64' ? (t.data as BigInt64Array) : t.toFloat32() });
  }
  return { stateDict: sd, yaml: checkYaml(yaml, path), names: (names ?? {}) as Record<number, string>, stride: (stride ?? []) as number[], extra };
}

function readSafetensorsCheckpoint(path: string): PoseCheckpoint {
  const { tensors, metadata } = readSafetensors(path);
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(metadata.yolo ?? '');
  } catch {
    throw new Error(`${path}: no yolo-ts metadata (__metadata__.yolo) in this safetensors file`);
  }
  const sd = new Map<string, HostTensor>();
  for (const [k, e] of tensors) sd.set(k, { shape: e.shape, data: e.dtype === 'I64' ? (e.data as BigInt64Array) : asF32(e) });
  const { yaml, names, stride, ...extra } = meta;
  return { stateDict: sd, yaml: checkYaml(yaml, path), names: (names ?? {}) as Record<number, string>, stride: (stride ?? []) as number[], extra };
}

function checkYaml(y: unknown, path: string): PoseYaml {
  const v = y as PoseYaml;
  if (!v || typeof v !== 'object' || !('scale' in v) || !Array.isArray(v.kpt_shape) || typeof v.nc !== 'number')
    throw new Error(`${path}: checkpoint metadata has no valid 'yaml' ({yaml_file, scale, nc, kpt_shape, p6})`);
  const out: PoseYaml = { yaml_file: String(v.yaml_file), scale: v.scale, nc: v.nc, kpt_shape: [v.kpt_shape[0], v.kpt_shape[1]], p6: !!v.p6 };
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
async function hostStateDict(model: PoseModel): Promise<Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>> {
  const out = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
  for (const [k, t] of model.stateDict()) {
    const d = await (t as Tensor).data();
    out.set(k, { shape: [...t.shape], data: t.dtype === 'i32' ? BigInt64Array.from(d as Int32Array, (v) => BigInt(v)) : Float32Array.from(d) });
  }
  return out;
}

/**
 * Saves weights and metadata to `path`: .safetensors, or else a torch.save-compatible .pt.
 * `extra` (epoch, best_fitness, train_args, ...) is stored alongside.
 */
export async function savePoseCheckpoint(model: PoseModel, path: string, extra: Record<string, unknown> = {}) {
  const sd = await hostStateDict(model);
  const meta = {
    format: FORMAT, task: 'pose', yaml: model.yaml, nc: model.nc, names: model.names, kpt_shape: model.kptShape,
    stride: model.stride, date: new Date().toISOString(), version: VERSION, ...extra,
  };
  if (extname(path).toLowerCase() === '.safetensors') {
    const tensors = new Map<string, STEntry>();
    for (const [k, v] of sd) tensors.set(k, { dtype: v.data instanceof BigInt64Array ? 'I64' : 'F32', shape: v.shape, data: v.data });
    writeSafetensors(path, tensors, { format: 'pt', yolo: JSON.stringify(meta) });
    return;
  }
  const stateDict = orderedDict(
    Object.fromEntries([...sd].map(([k, v]) => [k, { dtype: v.data instanceof BigInt64Array ? 'int64' : 'float32', shape: v.shape, data: v.data }])),
  );
  saveTorchCheckpoint(path, {
    ...meta,
    yaml: { ...model.yaml, kpt_shape: [...model.kptShape] },
    names: intKeys({ ...model.names }),
    stride: model.stride.map((s) => s), // python ints: Ultralytics keeps a float tensor, we keep plain numbers
    state_dict: stateDict,
  });
}
