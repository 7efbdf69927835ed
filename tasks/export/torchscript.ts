// TorchScript from the traced graph (engine/graph): the archive torch.jit.save writes, made without
// torch. A TorchScript archive is a zip holding
//   <name>/code/__torch__/yolo_ts.py   the module's class as TorchScript source (torch compiles it on load)
//   <name>/data.pkl                    the module object: GLOBAL '__torch__.yolo_ts PoseModel', NEWOBJ,
//                                      BUILD with its attributes (tensors as _rebuild_tensor_v2 of storages)
//   <name>/data/<k>                    the storages' raw little-endian bytes
//   <name>/constants.pkl               tensor constants of the code (none here: an empty tuple)
//   <name>/extra/config.txt            Ultralytics' metadata as json.dumps writes it
//   <name>/version                     the file format version
// (what torch 1.13's torch.jit.save gives for a scripted module; the .debug_pkl source maps are optional).
//
// The forward is straight-line code, one statement per graph node, at the export's fixed size:
// conv2d -> torch.conv2d (+ torch.silu when SiLU is fused in), narrow/reshape/permute/cat/softmax/
// max_pool2d/upsample_nearest2d -> their aten ops, elementwise rows -> torch.add/sub/mul/div/sigmoid,
// dfl -> reshape, transpose, softmax, conv2d with 0..reg_max-1 (as Ultralytics' DFL), anchors ->
// tensors computed here. Parameters are the module's parameters under their state-dict names with
// '.' -> '_' (TorchScript attribute names are identifiers).
//
// Imports: engine (graph, io, ops/anchors).

import { evalDim, type Graph, type Node } from '../../engine/graph/index.js';
import { anchorGrid } from '../../engine/ops/anchors.js';
import { PyGlobalRef, PyInstance, PyPersistent, PyReduce, pickle, tuple } from '../../engine/io/pickle.js';
import { buildZip } from '../../engine/io/zip.js';

/** The TorchScript class the archive defines (its file is code/__torch__/yolo_ts.py). */
export const TS_CLASS = '__torch__.yolo_ts.PoseModel';
/** torch.jit.save's format version for code using aten::div on tensors with true division (>= 4). */
const FILE_VERSION = 6;

export interface TorchScriptLowerOptions {
  /** host values of parameters, buffers and constants by value id */
  read: (id: number) => Float32Array;
  /** a parameter the graph does not read but a rule needs (the DFL conv weight), by state-dict name */
  weight: (name: string) => Float32Array | undefined;
}

export interface TorchScriptModule {
  /** the class source (code/__torch__/yolo_ts.py) */
  code: string;
  /** the module's tensors in declaration order */
  tensors: { attr: string; shape: number[]; data: Float32Array; buffer: boolean }[];
}

/** Python float literal (TorchScript reads `2.` / `0.5` as float, `2` as int). */
function pyFloat(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`torchscript: non-finite constant ${v}`);
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.`;
}
const list = (v: readonly number[]) => `[${v.join(', ')}]`;

/** Lowers a fixed-size traced graph (symbols evaluated at the graph's example sizes) to a TorchScript class. */
export function lowerToTorchScript(g: Graph, o: TorchScriptLowerOptions): TorchScriptModule {
  const env = g.symbols;
  const tensors: TorchScriptModule['tensors'] = [];
  const attrs = new Map<string, string>(); // state-dict name -> attribute
  const names = new Map<number, string>();
  const lines: string[] = [];
  g.inputs.forEach((id) => names.set(id, 'images'));
  const shape = (id: number) => g.values[id].shape.map((d) => evalDim(d, env));
  const attrOf = (name: string, dims: number[], data: Float32Array, buffer = false): string => {
    const known = attrs.get(name);
    if (known) return known;
    const attr = name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(\d)/, '_$1');
    if (tensors.some((t) => t.attr === attr)) throw new Error(`torchscript: two tensors are named '${attr}'`);
    tensors.push({ attr, shape: dims, data, buffer });
    attrs.set(name, attr);
    return attr;
  };
  const value = (id: number | null): string => {
    if (id === null) return 'None';
    const known = names.get(id);
    if (known !== undefined) return known;
    const v = g.values[id];
    if (v.kind === 'input' || v.kind === 'node')
      throw new Error(`torchscript: value %${id} is read before it is written`);
    const name = `self.${attrOf(v.name ?? `const_${id}`, shape(id), o.read(id), v.kind !== 'parameter')}`;
    names.set(id, name);
    return name;
  };
  let tmp = 0;
  const emit = (expr: string): string => {
    const v = `_${tmp++}`;
    lines.push(`    ${v} = ${expr}`);
    return v;
  };
  const set = (n: Node, expr: string) => names.set(n.outputs[0], emit(expr));

  for (const n of g.nodes) {
    const a = n.attrs as Record<string, any>;
    const x = n.inputs.map(value);
    const num = (v: unknown) => evalDim(v as any, env);
    const nums = (v: unknown[]) => v.map(num);
    switch (n.op) {
      case 'conv2d': {
        const y = `torch.conv2d(${x[0]}, ${x[1]}, ${x[2] ?? 'None'}, ${list(a.stride)}, ${list(a.padding)}, ${list(a.dilation)}, ${a.groups})`;
        set(n, a.act === 'silu' ? `torch.silu(${y})` : a.act == null ? y : unsupported(n, `act=${a.act}`));
        break;
      }
      case 'silu':
      case 'sigmoid':
      case 'relu':
      case 'exp':
      case 'neg':
        set(n, `torch.${n.op}(${x[0]})`);
        break;
      case 'add':
      case 'sub':
      case 'mul':
      case 'div':
        set(n, `torch.${n.op}(${x[0]}, ${x[1]})`);
        break;
      case 'add_scalar':
      case 'mul_scalar':
      case 'div_scalar':
        set(n, `torch.${n.op.slice(0, 3)}(${x[0]}, ${pyFloat(a.alpha)})`);
        break;
      case 'rsub_scalar':
        set(n, `torch.rsub(${x[0]}, ${pyFloat(a.alpha)})`);
        break;
      case 'identity':
        names.set(n.outputs[0], x[0]);
        break;
      case 'concat':
        set(n, `torch.cat([${x.join(', ')}], ${a.axis})`);
        break;
      case 'softmax':
        set(n, `torch.softmax(${x[0]}, ${a.axis})`);
        break;
      case 'permute':
        set(n, `torch.permute(${x[0]}, ${list(a.axes)})`);
        break;
      case 'narrow':
        set(n, `torch.narrow(${x[0]}, ${a.axis}, ${num(a.start)}, ${num(a.length)})`);
        break;
      case 'slice':
        set(n, `torch.slice(${x[0]}, ${a.axis}, ${num(a.start)}, ${num(a.end)}, ${num(a.step)})`);
        break;
      case 'reshape':
        set(n, `torch.reshape(${x[0]}, ${list(nums(a.shape))})`);
        break;
      case 'max_pool2d':
        set(
          n,
          `torch.max_pool2d(${x[0]}, ${list(a.kernelSize)}, ${list(a.stride)}, ${list(a.padding)}, ${list(a.dilation)}, False)`,
        );
        break;
      case 'upsample_nearest2d':
        set(n, `torch.upsample_nearest2d(${x[0]}, ${list(shape(n.outputs[0]).slice(2))})`);
        break;
      case 'dfl': {
        // Ultralytics' DFL: (B, 4*c1, A) -> view (B, 4, c1, A) -> transpose (B, c1, 4, A) -> softmax over bins -> 1x1 conv with 0..c1-1 -> (B, 4, A)
        const [B, , A] = shape(n.inputs[0]!),
          c1 = a.regMax as number;
        const wName = `${n.module}.conv.weight`;
        const w = attrOf(wName, [1, c1, 1, 1], o.weight(wName) ?? Float32Array.from({ length: c1 }, (_, k) => k));
        const p = emit(`torch.softmax(torch.transpose(torch.reshape(${x[0]}, ${list([B, 4, c1, A])}), 2, 1), 1)`);
        set(n, `torch.reshape(torch.conv2d(${p}, self.${w}), ${list([B, 4, A])})`);
        break;
      }
      case 'anchors': {
        const grid = anchorGrid(
          n.inputs.map((id) => shape(id!).slice(2, 4) as [number, number]),
          a.strides,
          a.offset,
        );
        const A = grid.strides.length,
          pts = new Float32Array(2 * A);
        for (let k = 0; k < A; k++) ((pts[k] = grid.points[2 * k]), (pts[A + k] = grid.points[2 * k + 1]));
        names.set(n.outputs[0], `self.${attrOf(`${n.module}.anchors`, [2, A], pts, true)}`);
        names.set(n.outputs[1], `self.${attrOf(`${n.module}.strides`, [1, A], grid.strides, true)}`);
        break;
      }
      default:
        unsupported(n);
    }
  }
  const outs = g.outputIds();
  if (outs.length !== 1) throw new Error(`torchscript: the graph has ${outs.length} outputs; export one tensor`);
  const cls = TS_CLASS.slice(TS_CLASS.lastIndexOf('.') + 1);
  const code = [
    `class ${cls}(Module):`,
    `  __parameters__ = [${tensors
      .filter((t) => !t.buffer)
      .map((t) => `"${t.attr}", `)
      .join('')}]`,
    `  __buffers__ = [${tensors
      .filter((t) => t.buffer)
      .map((t) => `"${t.attr}", `)
      .join('')}]`,
    ...tensors.map((t) => `  ${t.attr} : Tensor`),
    `  training : bool`,
    `  def forward(self: ${TS_CLASS},`,
    `    images: Tensor) -> Tensor:`,
    ...lines,
    `    return ${value(outs[0])}`,
    '',
  ].join('\n');
  return { code, tensors };
}

function unsupported(n: Node, what = ''): never {
  throw new Error(`export: no TorchScript rule for the op '${n.op}'${what ? ` (${what})` : ''} (at '${n.module}')`);
}

/**
 * The archive as zip chunks. `archive` is the folder name inside the zip (torch uses the file stem);
 * `extra` are the extra files (`config.txt`).
 */
export function torchScriptArchive(m: TorchScriptModule, archive: string, extra: Record<string, string>): Uint8Array[] {
  const enc = new TextEncoder();
  const files: { name: string; data: Uint8Array }[] = [];
  const state: Record<string, unknown> = {};
  m.tensors.forEach((t, k) => {
    const numel = t.shape.reduce((p, d) => p * d, 1);
    if (t.data.length !== numel)
      throw new Error(`torchscript: ${t.attr} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    files.push({
      name: `${archive}/data/${k}`,
      data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    });
    const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((p, d) => p * d, 1));
    const storage = new PyPersistent(
      tuple<unknown>('storage', new PyGlobalRef('torch', 'FloatStorage'), String(k), 'cpu', numel),
    );
    const tensor = new PyReduce(new PyGlobalRef('torch._utils', '_rebuild_tensor_v2'), [
      storage,
      0,
      tuple(...t.shape),
      tuple(...strides),
      false,
      new Map(),
    ]);
    state[t.attr] = tensor;
  });
  state.training = false;
  const obj = new PyInstance(TS_CLASS);
  Object.assign(obj, { __state__: state });
  const codePath = `${archive}/code/${TS_CLASS.split('.').slice(0, -1).join('/')}.py`;
  return buildZip([
    ...Object.entries(extra).map(([k, v]) => ({ name: `${archive}/extra/${k}`, data: enc.encode(v) })),
    ...files,
    { name: `${archive}/data.pkl`, data: pickle(obj) },
    { name: codePath, data: enc.encode(m.code) },
    { name: `${archive}/constants.pkl`, data: pickle(tuple()) },
    { name: `${archive}/version`, data: enc.encode(`${FILE_VERSION}\n`) },
  ]);
}

/** Python's json.dumps(v) with its default separators (', ', ': ') and ensure_ascii. */
export function pyJsonDumps(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number')
    return Number.isInteger(v)
      ? String(v)
      : Number.isFinite(v)
        ? String(v)
        : Number.isNaN(v)
          ? 'NaN'
          : v > 0
            ? 'Infinity'
            : '-Infinity';
  if (typeof v === 'string')
    return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (Array.isArray(v)) return `[${v.map(pyJsonDumps).join(', ')}]`;
  return `{${Object.entries(v as object)
    .map(([k, x]) => `${pyJsonDumps(k)}: ${pyJsonDumps(x)}`)
    .join(', ')}}`;
}
