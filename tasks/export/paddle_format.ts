// A reader for Paddle inference models (model.pdmodel + model.pdiparams) written from Paddle's
// framework.proto (ProgramDesc -> BlockDesc -> VarDesc / OpDesc) and the save_combine tensor stream.
//
// readPaddle checks as it decodes: one block, variable names unique, every op argument a declared
// variable, each variable written once and never read before feed, a parameter or an earlier op
// writes it, each op's output dims (from Paddle's op definitions) equal to the declared ones, and
// every persistable variable's tensor in the .pdiparams (sorted by name) with its version words,
// TensorDesc dims and dtype equal to the declared ones, the stream used exactly. An op type it
// does not know is an error naming it and the file.
//
// Imports: engine (fp16, protobuf), ./paddle_proto.
import { f16ToF32 } from '../../engine/io/safetensors.js';
import { decode, type Message } from '../../engine/io/protobuf.js';
import { ATTR, PADDLE_SCHEMA, VT } from './paddle_proto.js';

export interface PaddleOp {
  type: string;
  inputs: Record<string, string[]>;
  outputs: Record<string, string[]>;
  attrs: Record<string, number | string | number[] | boolean>;
}
export interface PaddleModel {
  ops: PaddleOp[];
  /** declared dims of every LoD-tensor variable */
  dims: Map<string, number[]>;
  /** persistable tensors (float32 values; FP16 widened), with their byte ranges in the .pdiparams */
  params: Map<string, { data: Float32Array; dtype: 'FP32' | 'FP16'; range: [number, number] }>;
  feed: string;
  fetch: string;
}

const SUPPORTED = [
  'feed',
  'fetch',
  'conv2d',
  'elementwise_add',
  'elementwise_sub',
  'elementwise_mul',
  'elementwise_div',
  'silu',
  'sigmoid',
  'scale',
  'concat',
  'split',
  'slice',
  'pool2d',
  'nearest_interp_v2',
  'reshape2',
  'transpose2',
  'softmax',
];

function attrValue(a: Message): number | string | number[] | boolean {
  switch (a.type) {
    case ATTR.INT:
      return (a.i as number) ?? 0;
    case ATTR.FLOAT:
      return (a.f as number) ?? 0;
    case ATTR.STRING:
      return (a.s as string) ?? '';
    case ATTR.INTS:
      return a.ints as number[];
    case ATTR.FLOATS:
      return a.floats as number[];
    case ATTR.BOOLEAN:
      return !!a.b;
    case ATTR.LONG:
      return (a.l as number) ?? 0;
    case ATTR.LONGS:
      return a.longs as number[];
    default:
      return a.strings as unknown as number[];
  }
}

export function readPaddle(pdmodel: Uint8Array, pdiparams: Uint8Array, file: string): PaddleModel {
  const prog = decode(PADDLE_SCHEMA, 'ProgramDesc', pdmodel, file);
  const blocks = prog.blocks as Message[];
  if (blocks.length !== 1)
    throw new Error(`${file}: ${blocks.length} blocks; this reader implements single-block inference programs`);
  const block = blocks[0];
  const dims = new Map<string, number[]>(),
    persist: string[] = [],
    dtypes = new Map<string, number>();
  for (const v of block.vars as Message[]) {
    const name = v.name as string,
      t = v.type as Message;
    if (dims.has(name)) throw new Error(`${file}: variable '${name}' is declared twice`);
    const td = (t.lod_tensor as Message | undefined)?.tensor as Message | undefined;
    dims.set(name, td ? (td.dims as number[]) : []);
    if (td) dtypes.set(name, td.data_type as number);
    if (v.persistable && t.type === VT.LOD_TENSOR) persist.push(name);
  }
  // the params stream: persistables sorted by name
  const params: PaddleModel['params'] = new Map();
  const dv = new DataView(pdiparams.buffer, pdiparams.byteOffset, pdiparams.byteLength);
  let off = 0;
  for (const name of [...persist].sort()) {
    const where = `${file}: parameter '${name}'`;
    if (off + 20 > pdiparams.byteLength)
      throw new Error(`${where}: the .pdiparams ends at byte ${pdiparams.byteLength}, before its header`);
    const start = off;
    if (dv.getUint32(off, true) !== 0 || dv.getBigUint64(off + 4, true) !== 0n || dv.getUint32(off + 12, true) !== 0)
      throw new Error(`${where}: bad LoDTensor header at byte ${off} (version, LoD levels, tensor version must be 0)`);
    const n = dv.getInt32(off + 16, true);
    if (n <= 0 || off + 20 + n > pdiparams.byteLength)
      throw new Error(`${where}: TensorDesc size ${n} at byte ${off + 16} runs past the file`);
    const desc = decode(PADDLE_SCHEMA, 'TensorDesc', pdiparams.subarray(off + 20, off + 20 + n), where);
    off += 20 + n;
    const d = desc.dims as number[],
      want = dims.get(name)!;
    if (d.join() !== want.join()) throw new Error(`${where}: stored dims [${d}], the program declares [${want}]`);
    const count = d.reduce((a, b) => a * b, 1),
      dt = desc.data_type as number;
    if (dt !== VT.FP32 && dt !== VT.FP16)
      throw new Error(`${where}: data_type ${dt} is not implemented (FP32, FP16 are)`);
    const bytes = count * (dt === VT.FP32 ? 4 : 2);
    if (off + bytes > pdiparams.byteLength)
      throw new Error(`${where}: data needs bytes ${off}..${off + bytes}, the .pdiparams has ${pdiparams.byteLength}`);
    const raw = pdiparams.slice(off, off + bytes);
    params.set(name, {
      data: dt === VT.FP32 ? new Float32Array(raw.buffer) : f16ToF32(new Uint16Array(raw.buffer)),
      dtype: dt === VT.FP32 ? 'FP32' : 'FP16',
      range: [start, off + bytes],
    });
    off += bytes;
  }
  if (off !== pdiparams.byteLength)
    throw new Error(`${file}: the parameters use ${off} bytes of the .pdiparams, which has ${pdiparams.byteLength}`);

  const written = new Set<string>([...params.keys(), 'feed']);
  const ops: PaddleOp[] = [];
  let feed = '',
    fetch = '';
  for (const [k, m] of (block.ops as Message[]).entries()) {
    const args = (list: Message[]) =>
      Object.fromEntries(list.map((v) => [v.parameter as string, v.arguments as string[]]));
    const op: PaddleOp = {
      type: m.type as string,
      inputs: args(m.inputs as Message[]),
      outputs: args(m.outputs as Message[]),
      attrs: Object.fromEntries((m.attrs as Message[]).map((a) => [a.name as string, attrValue(a)])),
    };
    const where = `${file}: op ${k} (${op.type})`;
    if (!SUPPORTED.includes(op.type))
      throw new Error(
        `${file}: op ${k} is the Paddle op '${op.type}', which this importer does not implement (it implements ${SUPPORTED.join(', ')})`,
      );
    for (const a of Object.values(op.inputs).flat()) {
      if (!dims.has(a)) throw new Error(`${where}: reads '${a}', which the block does not declare`);
      if (!written.has(a)) throw new Error(`${where}: reads '${a}' before anything writes it`);
    }
    const ins = (p: string) => (op.inputs[p] ?? []).map((a) => dims.get(a)!);
    const at = op.attrs as Record<string, any>;
    let out: Record<string, number[][]>;
    switch (op.type) {
      case 'feed':
        feed = op.outputs.Out[0];
        out = { Out: [dims.get(feed)!] };
        break;
      case 'fetch':
        fetch = op.inputs.X[0];
        out = { Out: [[]] };
        break;
      case 'conv2d': {
        const [x] = ins('Input'),
          [w] = ins('Filter'),
          s = at.strides,
          p = at.paddings,
          d = at.dilations;
        if (x[1] !== w[1] * at.groups)
          throw new Error(`${where}: input has ${x[1]} channels, the filter expects ${w[1]} x ${at.groups} groups`);
        if (p.length !== 2 || at.padding_algorithm !== 'EXPLICIT')
          throw new Error(`${where}: only explicit symmetric paddings [ph, pw] are implemented`);
        out = {
          Output: [
            [
              x[0],
              w[0],
              ...[0, 1].map((j) => Math.floor((x[2 + j] + 2 * p[j] - d[j] * (w[2 + j] - 1) - 1) / s[j]) + 1),
            ],
          ],
        };
        break;
      }
      case 'elementwise_add':
      case 'elementwise_sub':
      case 'elementwise_mul':
      case 'elementwise_div': {
        const [x] = ins('X'),
          [y] = ins('Y'),
          axis = at.axis ?? -1;
        const ya = axis === -1 ? y : [...Array(axis).fill(1), ...y, ...Array(x.length - axis - y.length).fill(1)];
        const r = Math.max(x.length, ya.length);
        out = {
          Out: [Array.from({ length: r }, (_, k2) => Math.max(x[x.length - r + k2] ?? 1, ya[ya.length - r + k2] ?? 1))],
        };
        break;
      }
      case 'silu':
      case 'sigmoid':
      case 'scale':
      case 'softmax':
        out = { Out: ins('X') };
        break;
      case 'concat': {
        const xs = ins('X'),
          ax = (at.axis + xs[0].length) % xs[0].length;
        out = { Out: [xs[0].map((v, j) => (j === ax ? xs.reduce((s, x) => s + x[j], 0) : v))] };
        break;
      }
      case 'split': {
        const [x] = ins('X'),
          ax = at.axis,
          sec = at.sections as number[];
        if (sec.reduce((a, b) => a + b, 0) !== x[ax])
          throw new Error(`${where}: sections [${sec}] do not cover ${x[ax]}`);
        out = { Out: sec.map((n) => x.map((v, j) => (j === ax ? n : v))) };
        break;
      }
      case 'slice': {
        const [x] = ins('Input'),
          [ax] = at.axes,
          [st] = at.starts,
          [en] = at.ends;
        out = { Out: [x.map((v, j) => (j === ax ? Math.min(en, v) - st : v))] };
        break;
      }
      case 'pool2d': {
        const [x] = ins('X'),
          kk = at.ksize,
          s = at.strides,
          p = at.paddings;
        if (at.pooling_type !== 'max' || at.global_pooling || at.ceil_mode || at.adaptive)
          throw new Error(`${where}: only max pooling, floor mode, not global/adaptive is implemented`);
        out = { Out: [[x[0], x[1], ...[0, 1].map((j) => Math.floor((x[2 + j] + 2 * p[j] - kk[j]) / s[j]) + 1)]] };
        break;
      }
      case 'nearest_interp_v2': {
        const [x] = ins('X'),
          sc = at.scale as number[];
        if (at.interp_method !== 'nearest' || sc.length !== 2)
          throw new Error(`${where}: only nearest by a 2-D scale is implemented`);
        out = { Out: [[x[0], x[1], x[2] * sc[0], x[3] * sc[1]]] };
        break;
      }
      case 'reshape2': {
        const [x] = ins('X'),
          s = at.shape as number[];
        if (s.reduce((a, b) => a * b, 1) !== x.reduce((a, b) => a * b, 1))
          throw new Error(`${where}: cannot reshape [${x}] to [${s}]`);
        out = { Out: [s], XShape: [[0, ...x]] };
        break;
      }
      case 'transpose2': {
        const [x] = ins('X');
        out = { Out: [(at.axis as number[]).map((a) => x[a])], XShape: [[0, ...x]] };
        break;
      }
      default:
        throw new Error(`${where}: unreachable`);
    }
    for (const [p, shapes] of Object.entries(out)) {
      const names = op.outputs[p] ?? [];
      if (names.length !== shapes.length)
        throw new Error(`${where}: output ${p} lists ${names.length} variables, the op writes ${shapes.length}`);
      names.forEach((a, j) => {
        if (!dims.has(a)) throw new Error(`${where}: writes '${a}', which the block does not declare`);
        if (written.has(a) && a !== 'fetch') throw new Error(`${where}: writes '${a}', which is already written`);
        if (op.type !== 'fetch' && dims.get(a)!.join() !== shapes[j].join())
          throw new Error(`${where}: '${a}' is declared [${dims.get(a)}], the op gives [${shapes[j]}]`);
        written.add(a);
      });
    }
    ops.push(op);
  }
  if (!feed || !fetch) throw new Error(`${file}: the program has no ${feed ? 'fetch' : 'feed'} op`);
  return { ops, dims, params, feed, fetch };
}
