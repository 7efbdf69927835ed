// PyTorch checkpoints (torch.save's zip format) read and written with no Python and no code run.
//
// Layout: `<name>/data.pkl` (the pickled object), `<name>/data/<key>` (one raw little-endian file
// per storage), `<name>/version` ("3\n"). In the pickle a tensor is
// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)` where the
// storage is a persistent id ('storage', torch.FloatStorage, key, location, numel).
//
// Loading gives a plain JS tree (see pickle.ts for the Python -> JS mapping) in which tensors are
// TorchTensor records with contiguous data; nn.Module objects (Ultralytics' PoseModel and its
// blocks) are inert PyInstance records holding their __dict__ (_modules, _parameters, _buffers...).
// extractStateDict walks those records into the state dict PyTorch would produce.
import { InputError, readingFile } from '../errors.js';
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { f16ToF32 } from './safetensors.js';
import {
  PyGlobalRef,
  PyInstance,
  PyPersistent,
  PyReduce,
  isTuple,
  orderedDict,
  pickle,
  tuple,
  unpickle,
  type GlobalResolver,
  type PyGlobal,
} from './pickle.js';
import { ZipReader, buildZip, writeFileAtomic } from './zip.js';

export type TorchDType =
  'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
type TypedArray =
  Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

// float16 / bfloat16 data stay as raw uint16 bits (exact); toFloat32() converts on demand.
const DTYPES: Record<TorchDType, { storage: string; bytes: number; array: { new (b: ArrayBuffer): TypedArray } }> = {
  float32: { storage: 'FloatStorage', bytes: 4, array: Float32Array },
  float16: { storage: 'HalfStorage', bytes: 2, array: Uint16Array },
  bfloat16: { storage: 'BFloat16Storage', bytes: 2, array: Uint16Array },
  float64: { storage: 'DoubleStorage', bytes: 8, array: Float64Array },
  int64: { storage: 'LongStorage', bytes: 8, array: BigInt64Array },
  int32: { storage: 'IntStorage', bytes: 4, array: Int32Array },
  int16: { storage: 'ShortStorage', bytes: 2, array: Int16Array },
  int8: { storage: 'CharStorage', bytes: 1, array: Int8Array },
  uint8: { storage: 'ByteStorage', bytes: 1, array: Uint8Array },
  bool: { storage: 'BoolStorage', bytes: 1, array: Uint8Array },
};
const STORAGE_DTYPE = new Map(Object.entries(DTYPES).map(([d, v]) => [v.storage, d as TorchDType]));

/** A tensor read from (or to be written to) a checkpoint. `data` is contiguous, row-major. */
export class TorchTensor {
  constructor(
    readonly dtype: TorchDType,
    readonly shape: number[],
    readonly data: TypedArray,
    /** Strides of `data` (always the contiguous ones: views are materialized on load). */
    readonly strides: number[] = contiguousStrides(shape),
    public requiresGrad = false,
    /** Pickled as an nn.Parameter (torch._utils._rebuild_parameter). */
    public isParameter = false,
  ) {}
  get numel() {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  toFloat32(): Float32Array {
    return tensorToFloat32(this);
  }
}

export function contiguousStrides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, acc = 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function tensorToFloat32(t: { dtype: TorchDType; data: TypedArray }): Float32Array {
  const d = t.data;
  if (t.dtype === 'float32') return d as Float32Array;
  if (t.dtype === 'float16') return f16ToF32(d as Uint16Array);
  if (t.dtype === 'bfloat16') return new Float32Array(Uint32Array.from(d as Uint16Array, (b) => b << 16).buffer);
  if (t.dtype === 'int64') return Float32Array.from(d as BigInt64Array, Number);
  return Float32Array.from(d as ArrayLike<number>);
}

export interface LoadOptions {
  /** More inert classes to allow, as exact 'module.Name' or prefixes ending in '.'. */
  allowClasses?: string[];
  /**
   * Most bytes all tensors may take once materialized (default 4 x the file + 64 MiB): views of a
   * shared storage are copied, and a stride-0 view could otherwise ask for any amount of memory.
   */
  maxTotalBytes?: number;
}

// Inert classes: their instances become records, nothing of theirs ever runs.
const INERT_CLASSES = [
  'torch.nn.modules.',
  'ultralytics.nn.modules.',
  'ultralytics.nn.tasks.',
  'ultralytics.utils.loss.',
  'ultralytics.utils.tal.',
  'ultralytics.utils.IterableSimpleNamespace',
  'argparse.Namespace',
  'types.SimpleNamespace',
];

/** The allow-list in words: classes ('prefix.*' for a whole package) and functions. */
export function allowListText(allowClasses: string[] = []): string {
  const cls = [...INERT_CLASSES, ...allowClasses].map((c) => (c.endsWith('.') ? `${c}*` : c));
  return `allowed: ${cls.join(', ')}; torch.*Storage, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, collections.OrderedDict, builtins.set, builtins.frozenset, torch.Size, torch.device; pass LoadOptions.allowClasses to allow more inert classes`;
}

interface Storage {
  dtype: TorchDType;
  key: string;
  elems: TypedArray;
}

/** The allow-list torch checkpoints need; `rebuild` turns storages into tensors. */
export function torchGlobals(rebuild: (args: unknown[]) => TorchTensor, allowClasses: string[] = []): GlobalResolver {
  const fns: Record<string, PyGlobal['call']> = {
    'torch._utils._rebuild_tensor_v2': rebuild,
    'torch._utils._rebuild_parameter': ([t, requiresGrad]) => {
      if (!(t instanceof TorchTensor)) throw new Error('its argument is not a tensor');
      t.requiresGrad = requiresGrad === true;
      t.isParameter = true;
      return t;
    },
    'collections.OrderedDict': (args) => {
      if (args.length) throw new Error('only OrderedDict() without arguments is supported');
      return orderedDict({});
    },
    'builtins.set': ([items]) => new Set(Array.isArray(items) ? items : []),
    'builtins.frozenset': ([items]) => new Set(Array.isArray(items) ? items : []),
    'torch.Size': ([dims]) => tuple(...(Array.isArray(dims) ? dims : [])),
    'torch.device': ([type, index]) => (index === undefined || index === null ? String(type) : `${type}:${index}`),
  };
  const classes = [...INERT_CLASSES, ...allowClasses];
  return (module, name) => {
    const full = `${module}.${name}`;
    if (Object.hasOwn(fns, full)) return { call: fns[full] };
    if (module === 'torch' && STORAGE_DTYPE.has(name)) return {}; // only ever used inside a persistent id
    if (
      /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) &&
      classes.some((c) => (c.endsWith('.') ? full.startsWith(c) : full === c))
    )
      return {};
    return undefined;
  };
}

/** Reads a torch.save zip checkpoint into a plain JS tree. */
export function loadTorchCheckpoint(src: string | Uint8Array, opts: LoadOptions = {}): unknown {
  const file = typeof src === 'string' ? src : '<buffer>';
  let buf: Uint8Array;
  try {
    buf = typeof src === 'string' ? readFileSync(src) : src;
  } catch (e) {
    throw new InputError(file, `cannot read (${(e as Error).message})`);
  }
  return parseTorchCheckpoint(buf, file, opts);
}

export function parseTorchCheckpoint(buf: Uint8Array, file = '<buffer>', opts: LoadOptions = {}): unknown {
  return readingFile(file, () => parseZipCheckpoint(buf, file, opts));
}

function parseZipCheckpoint(buf: Uint8Array, file: string, opts: LoadOptions): unknown {
  if (buf.length >= 2 && buf[0] === 0x80 && buf[1] <= 5)
    throw new Error(`${file}: legacy (pre-1.6, non-zip) torch format is not supported; re-save it with a recent torch`);
  if (buf.length < 4 || buf[0] !== 0x50 || buf[1] !== 0x4b)
    throw new Error(`${file}: not a torch checkpoint (not a zip archive)`);
  const zip = new ZipReader(buf, file);
  // torch puts everything under one top-level folder whose name varies ('archive', the file stem...).
  const pkl = zip.names().find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) throw new Error(`${file}: no '<folder>/data.pkl' entry: not a torch checkpoint`);
  const root = pkl.slice(0, -'data.pkl'.length);
  if (zip.has(root + 'byteorder') && new TextDecoder().decode(zip.read(root + 'byteorder')).trim() !== 'little')
    throw new Error(`${file}: big-endian checkpoints are not supported`);

  let budget = opts.maxTotalBytes ?? 4 * buf.length + 2 ** 26;
  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!isTuple(pid) || pid[0] !== 'storage' || pid.length < 5)
      throw new Error(`unexpected persistent id ${show(pid)}`);
    const [, cls, key, , numel] = pid;
    if (!(cls instanceof PyGlobalRef) || cls.module !== 'torch' || !STORAGE_DTYPE.has(cls.name))
      throw new Error(`persistent id has storage type ${show(cls)}`);
    if (typeof key !== 'string' || !/^[\w.]+$/.test(key))
      throw new Error(`persistent id has a bad storage key ${show(key)}`);
    const cached = storages.get(key);
    if (cached) return cached;
    const dtype = STORAGE_DTYPE.get(cls.name)!,
      size = DTYPES[dtype].bytes;
    const entry = `${root}data/${key}`;
    if (!zip.has(entry)) throw new Error(`storage '${entry}' is missing from the archive`);
    const bytes = zip.read(entry);
    if (bytes.length % size || (typeof numel === 'number' && numel * size > bytes.length))
      throw new Error(`storage '${entry}' has ${bytes.length} bytes, expected ${show(numel)} ${dtype} elements`);
    const s = { dtype, key, elems: new DTYPES[dtype].array(new Uint8Array(bytes).buffer) }; // a copy: aligned, independent of the file
    storages.set(key, s);
    return s;
  };
  const rebuild = (args: unknown[]): TorchTensor => {
    const [storage, offset, size, stride, requiresGrad] = args;
    const s = storage as Storage;
    if (!s || !storages.has(s.key) || storages.get(s.key) !== s)
      throw new Error('its first argument is not a storage of this archive');
    const ints = (v: unknown, what: string) => {
      if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && x >= 0))
        throw new Error(`tensor ${what} ${show(v)} is not a tuple of non-negative integers`);
      return v as number[];
    };
    const shape = ints(size, 'size'),
      strides = ints(stride, 'stride');
    const off = ints([offset], 'storage offset')[0];
    if (shape.length !== strides.length)
      throw new Error(`tensor size ${show(shape)} and stride ${show(strides)} differ in rank`);
    const numel = shape.reduce((a, b) => a * b, 1);
    budget -= numel * DTYPES[s.dtype].bytes;
    if (budget < 0)
      throw new Error(
        `tensor of shape ${show(shape)} would take the tensors past ${opts.maxTotalBytes ?? 4 * buf.length + 2 ** 26} bytes (see LoadOptions.maxTotalBytes)`,
      );
    const last = numel === 0 ? off : off + shape.reduce((a, d, i) => a + (d - 1) * strides[i], 0);
    if (numel > 0 && last >= s.elems.length)
      throw new Error(
        `tensor (offset ${off}, size ${show(shape)}, stride ${show(strides)}) reads past its storage '${s.key}' of ${s.elems.length} elements`,
      );
    return new TorchTensor(s.dtype, shape, gather(s.elems, off, shape, strides), undefined, requiresGrad === true);
  };
  return unpickle(zip.read(pkl), {
    resolveGlobal: torchGlobals(rebuild, opts.allowClasses),
    persistentLoad,
    source: `${file} (${pkl})`,
    allowList: allowListText(opts.allowClasses),
  });
}

/** A short, never-throwing rendering of a pickled value for error messages. */
function show(v: unknown): string {
  try {
    return (
      JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x instanceof PyGlobalRef ? x.qualname : x)) ??
      String(v)
    ).slice(0, 200);
  } catch {
    return String(v).slice(0, 200);
  }
}

/** Copies a strided view of `src` into a new contiguous array. */
function gather(src: TypedArray, offset: number, shape: number[], strides: number[]): TypedArray {
  const numel = shape.reduce((a, b) => a * b, 1),
    contiguous = contiguousStrides(shape);
  if (strides.every((s, i) => s === contiguous[i] || shape[i] === 1)) return src.slice(offset, offset + numel);
  const out = new (src.constructor as { new (n: number): TypedArray })(numel);
  const idx = new Array<number>(shape.length).fill(0);
  let p = offset;
  for (let i = 0; i < numel; i++) {
    (out as any)[i] = (src as any)[p];
    for (let d = shape.length - 1; d >= 0; d--) {
      // odometer increment of the multi-index
      if (++idx[d] < shape[d]) {
        p += strides[d];
        break;
      }
      p -= (shape[d] - 1) * strides[d];
      idx[d] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------- state dicts

export interface StateTensor {
  shape: number[];
  dtype: TorchDType;
  data: Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
}
export interface CheckpointMeta {
  /** Where the weights came from: 'ema', 'model', a bare module, or a bare state dict. */
  source: 'ema' | 'model' | 'module' | 'state_dict';
  model_class?: string;
  task?: string;
  nc?: number;
  names?: Record<number, string>;
  kpt_shape?: number[];
  stride?: number[];
  yaml?: Record<string, unknown>;
  train_args?: Record<string, unknown>;
  epoch?: number;
  date?: string;
  version?: string;
  best_fitness?: number | null;
}

/**
 * The state dict of an Ultralytics checkpoint (ema if present, else model), keyed exactly as
 * PyTorch's module.state_dict() and in its order: per module its parameters, then its persistent
 * buffers, then its children. Float tensors become Float32Array; integer ones keep their type.
 */
export function extractStateDict(ckpt: unknown): { stateDict: Map<string, StateTensor>; meta: CheckpointMeta } {
  const stateDict = new Map<string, StateTensor>();
  const entry = (t: TorchTensor): StateTensor => ({
    shape: t.shape,
    dtype: t.dtype,
    data:
      t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'bfloat16' || t.dtype === 'float64'
        ? t.toFloat32()
        : (t.data as StateTensor['data']),
  });
  const dict = (v: unknown): Record<string, unknown> =>
    v && typeof v === 'object' && !(v instanceof PyInstance) && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  if (!ckpt || typeof ckpt !== 'object') throw new Error('extractStateDict: the checkpoint is not a dict or a module');

  const top = ckpt as Record<string, unknown>;
  const values = Object.values(top);
  if (!(ckpt instanceof PyInstance) && values.length && values.every((v) => v instanceof TorchTensor)) {
    for (const [k, v] of Object.entries(top)) stateDict.set(k, entry(v as TorchTensor));
    return { stateDict, meta: { source: 'state_dict' } };
  }
  const source = ckpt instanceof PyInstance ? 'module' : top.ema != null ? 'ema' : 'model';
  const model = ckpt instanceof PyInstance ? ckpt : top[source];
  if (!(model instanceof PyInstance))
    throw new Error(
      `extractStateDict: checkpoint has no module under 'ema' or 'model' (keys: ${Object.keys(top).join(', ')})`,
    );

  const visiting = new Set<PyInstance>();
  const walk = (mod: PyInstance, prefix: string) => {
    if (visiting.has(mod)) throw new Error(`extractStateDict: module cycle at '${prefix}'`);
    if (visiting.size > 256) throw new Error(`extractStateDict: modules nested more than 256 deep at '${prefix}'`);
    visiting.add(mod);
    const nonPersistent = mod._non_persistent_buffers_set instanceof Set ? mod._non_persistent_buffers_set : new Set();
    for (const [group, skip] of [
      ['_parameters', new Set()],
      ['_buffers', nonPersistent],
    ] as const) {
      for (const [name, t] of Object.entries(dict(mod[group]))) {
        if (t === null || skip.has(name)) continue;
        if (!(t instanceof TorchTensor))
          throw new Error(`extractStateDict: '${prefix}${name}' in ${group} is not a tensor`);
        stateDict.set(prefix + name, entry(t));
      }
    }
    for (const [name, child] of Object.entries(dict(mod._modules))) {
      if (child === null) continue;
      if (!(child instanceof PyInstance))
        throw new Error(`extractStateDict: submodule '${prefix}${name}' is not a module record`);
      walk(child, `${prefix}${name}.`);
    }
    visiting.delete(mod);
  };
  walk(model, '');

  const yaml = dict(model.yaml);
  const plain = (v: unknown) =>
    v instanceof PyInstance ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== '__class__')) : dict(v);
  const names = Array.isArray(model.names)
    ? Object.fromEntries(model.names.map((n, i) => [i, n]))
    : (model.names as Record<number, string> | undefined);
  const trainArgs = Object.keys(dict(top.train_args)).length ? dict(top.train_args) : plain(model.args);
  const meta: CheckpointMeta = {
    source,
    model_class: model.__class__,
    task: (model.task as string | undefined) ?? (trainArgs.task as string | undefined),
    nc:
      (model.nc as number | undefined) ??
      (yaml.nc as number | undefined) ??
      (names ? Object.keys(names).length : undefined),
    names,
    kpt_shape: (model.kpt_shape as number[] | undefined) ?? (yaml.kpt_shape as number[] | undefined),
    stride:
      model.stride instanceof TorchTensor
        ? Array.from(model.stride.toFloat32())
        : (model.stride as number[] | undefined),
    yaml: model.yaml === undefined ? undefined : yaml,
    train_args: trainArgs,
    epoch: top.epoch as number | undefined,
    date: top.date as string | undefined,
    version: top.version as string | undefined,
    best_fitness: top.best_fitness as number | null | undefined,
  };
  return { stateDict, meta };
}

// ---------------------------------------------------------------- writing

/** Anything with a dtype, a shape and contiguous data is written as a tensor. */
export interface TensorLike {
  dtype: TorchDType;
  shape: number[];
  data: TypedArray | Float32Array;
  strides?: number[];
  requiresGrad?: boolean;
  isParameter?: boolean;
}
function isTensorLike(v: unknown): v is TensorLike {
  return (
    !!v &&
    typeof v === 'object' &&
    typeof (v as any).dtype === 'string' &&
    (v as any).dtype in DTYPES &&
    Array.isArray((v as any).shape) &&
    ArrayBuffer.isView((v as any).data)
  );
}

/**
 * The archive torch.save would write for `obj`, as chunks. JS Maps become OrderedDicts, plain
 * objects dicts, tensors (TorchTensor or any TensorLike) `_rebuild_tensor_v2` of their own storage.
 * float16 data may be raw Uint16Array bits or a Float32Array (rounded to half here).
 */
export function serializeTorchCheckpoint(obj: unknown, archiveName = 'archive'): Uint8Array[] {
  const files: { name: string; data: Uint8Array }[] = [];
  const reduce = (v: unknown) => {
    if (!isTensorLike(v)) return undefined;
    const { dtype, shape } = v,
      numel = shape.reduce((a, b) => a * b, 1);
    if (v.strides && v.strides.some((s, i) => s !== contiguousStrides(shape)[i] && shape[i] !== 1))
      throw new Error(`saveTorchCheckpoint: tensor of shape ${JSON.stringify(shape)} is not contiguous`);
    let data: ArrayBufferView = v.data;
    if ((dtype === 'float16' || dtype === 'bfloat16') && v.data instanceof Float32Array)
      data = dtype === 'float16' ? f32ToF16(v.data) : f32ToBF16(v.data);
    const want = new DTYPES[dtype].array(new ArrayBuffer(0)).constructor;
    if (data.constructor !== want)
      throw new Error(
        `saveTorchCheckpoint: ${dtype} tensor has data of type ${data.constructor.name}, expected ${want.name}`,
      );
    if ((data as TypedArray).length !== numel)
      throw new Error(
        `saveTorchCheckpoint: tensor of shape ${JSON.stringify(shape)} has ${(data as TypedArray).length} elements, expected ${numel}`,
      );
    const key = String(files.length);
    files.push({
      name: `${archiveName}/data/${key}`,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    const storage = new PyPersistent(
      tuple<unknown>('storage', new PyGlobalRef('torch', DTYPES[dtype].storage), key, 'cpu', numel),
    );
    const t = new PyReduce(new PyGlobalRef('torch._utils', '_rebuild_tensor_v2'), [
      storage,
      0,
      tuple(...shape),
      tuple(...contiguousStrides(shape)),
      v.requiresGrad === true,
      new Map(),
    ]);
    return v.isParameter
      ? new PyReduce(new PyGlobalRef('torch._utils', '_rebuild_parameter'), [t, v.requiresGrad === true, new Map()])
      : t;
  };
  const pkl = pickle(obj, { reduce });
  return buildZip([
    { name: `${archiveName}/data.pkl`, data: pkl },
    ...files,
    { name: `${archiveName}/version`, data: new TextEncoder().encode('3\n') },
  ]);
}

/** Writes `obj` as a torch.save zip checkpoint, atomically (temp file + rename). */
export function saveTorchCheckpoint(path: string, obj: unknown) {
  // torch names the archive folder after the file stem; keep it to safe characters.
  const stem = basename(path, extname(path)).replace(/[^\w.-]/g, '_') || 'archive';
  writeFileAtomic(path, serializeTorchCheckpoint(obj, stem));
}

/** float32 -> IEEE half bits, round to nearest even (what torch's .half() does). */
export function f32ToF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length),
    u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = u[i],
      sign = (x >>> 16) & 0x8000,
      e = (x >>> 23) & 0xff,
      m = x & 0x7fffff;
    if (e === 0xff) {
      out[i] = sign | 0x7c00 | (m ? 0x200 : 0);
      continue;
    } // inf / nan
    const he = e - 127 + 15;
    if (he >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    } // overflow -> inf
    if (he <= 0) {
      // subnormal half (or zero)
      if (he < -10) {
        out[i] = sign;
        continue;
      }
      const mant = m | 0x800000,
        shift = 14 - he;
      let h = mant >>> shift;
      const rem = mant & ((1 << shift) - 1),
        half = 1 << (shift - 1);
      if (rem > half || (rem === half && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (he << 10) | (m >>> 13);
    const rem = m & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry into the exponent: still correct
    out[i] = sign | h;
  }
  return out;
}

/** float32 -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN. */
export function f32ToBF16(src: Float32Array): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length),
    out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = u[i];
    out[i] = Number.isNaN(src[i]) ? (x >>> 16) | 0x40 : ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}
