// TFLite flatbuffers (format=tflite) from the TF graph of ./tf_lower.ts, written with our own
// FlatBuffers writer (engine/io/flatbuffers.ts) from TFLite's schema.fbs (schema version 3):
//
//   Conv2D [+ BiasAdd] -> CONV_2D (OHWI filter, bias) | Pad -> PAD | MaxPool -> MAX_POOL_2D
//   | ResizeNearestNeighbor -> RESIZE_NEAREST_NEIGHBOR | Sigmoid -> LOGISTIC | AddV2/Sub/Mul/RealDiv -> ADD/SUB/MUL/DIV
//   | ConcatV2 -> CONCATENATION | Transpose -> TRANSPOSE | Reshape -> RESHAPE | Slice -> SLICE | Softmax -> SOFTMAX
//   | Identity -> the same tensor.
//
// `half`: float constants stored as FLOAT16, each read through a DEQUANTIZE op (what TF's
// converter writes for `target_spec.supported_types = [tf.float16]`, Ultralytics' *_float16.tflite).
// The output's xywh rows are normalized by the image size, as Ultralytics' TFLite export leaves them.
// Ultralytics' metadata follows as it embeds it: a zip appended to the flatbuffer holding
// temp_meta.txt (Python's str() of the metadata dict), which AutoBackend reads with zipfile.
//
// Imports: engine/io (flatbuffers, zip, torch_pt's f32ToF16), ./tf_lower (types), ./metadata.

import { finish, str, table, vec, vecOf, type FbObject } from '../../engine/io/flatbuffers.js';
import { f32ToF16 } from '../../engine/io/torch_pt.js';
import type { TfGraph, TfNode, TfTensor } from './tf_lower.js';
import { buildZip } from '../../engine/io/zip.js';
import { pyRepr, pyReprStr, type ExportMetadata, type PyValue } from './metadata.js';

/** BuiltinOperator codes used here (schema.fbs). */
const OP = {
  ADD: 0,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEQUANTIZE: 6,
  LOGISTIC: 14,
  MAX_POOL_2D: 17,
  MUL: 18,
  RESHAPE: 22,
  SOFTMAX: 25,
  PAD: 34,
  TRANSPOSE: 39,
  SUB: 41,
  DIV: 42,
  SLICE: 65,
  RESIZE_NEAREST_NEIGHBOR: 97,
  QUANTIZE: 114,
} as const;
export type OpName = keyof typeof OP;
/** BuiltinOptions union type ids (position in the union + 1). */
const OPTIONS = {
  Conv2DOptions: 1,
  Pool2DOptions: 5,
  SoftmaxOptions: 9,
  ConcatenationOptions: 10,
  AddOptions: 11,
  ReshapeOptions: 17,
  MulOptions: 21,
  PadOptions: 22,
  TransposeOptions: 26,
  SubOptions: 28,
  DivOptions: 29,
  DequantizeOptions: 38,
  SliceOptions: 48,
  ResizeNearestNeighborOptions: 74,
  QuantizeOptions: 77,
} as const;
export const TensorType = { FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4, INT8: 9 } as const;

export interface TflTensor {
  name: string;
  shape: number[];
  type: number;
  /** constant data (raw little-endian bytes) */
  data?: Uint8Array;
  quant?: { scale: number[]; zeroPoint: number[]; dim?: number };
}
export interface TflOp {
  op: OpName;
  inputs: number[];
  outputs: number[];
  options?: { type: keyof typeof OPTIONS; fields: FbObject };
  /** the op version (schema's OperatorCode.version): 1 for float, 2-3 for int8 kernels */ version?: number;
}
export interface TflModel {
  tensors: TflTensor[];
  ops: TflOp[];
  inputs: number[];
  outputs: number[];
  description: string;
}

const bytesOf = (a: Float32Array | Int32Array | Uint16Array | Int8Array) =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The TF graph as TFLite tensors and operators (float32, or float16 constants with `half`). */
export function lowerToTflite(g: TfGraph, opts: { half?: boolean; description?: string } = {}): TflModel {
  const tensors: TflTensor[] = [];
  const ops: TflOp[] = [];
  const byName = new Map<string, TfNode>(g.nodes.map((n) => [n.name, n]));
  const ids = new Map<string, number>();
  const consumers = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.input) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  const shapes = new Map<string, number[]>();
  const addTensor = (t: TflTensor) => tensors.push(t) - 1;
  const constOf = (name: string): TfTensor => {
    const n = byName.get(name);
    if (n?.op !== 'Const') throw new Error(`tflite export: '${name}' must be a constant`);
    return (n.attr.value as { tensor: TfTensor }).tensor;
  };
  const intsOf = (name: string) => Array.from(constOf(name).data);
  /** a constant tensor; float ones through DEQUANTIZE when half */
  const constant = (name: string, t: TfTensor, shape = t.shape, data: Float32Array | Int32Array = t.data): number => {
    if (t.dtype === 'DT_INT32')
      return addTensor({ name, shape, type: TensorType.INT32, data: bytesOf(data as Int32Array) });
    if (!opts.half || shape.length < 2)
      return addTensor({ name, shape, type: TensorType.FLOAT32, data: bytesOf(data as Float32Array) });
    const h = addTensor({
      name: `${name}_fp16`,
      shape,
      type: TensorType.FLOAT16,
      data: bytesOf(f32ToF16(data as Float32Array)),
    });
    const f = addTensor({ name, shape, type: TensorType.FLOAT32 });
    ops.push({
      op: 'DEQUANTIZE',
      inputs: [h],
      outputs: [f],
      options: { type: 'DequantizeOptions', fields: table([]) },
    });
    return f;
  };
  const tensorOf = (name: string): number => {
    const known = ids.get(name);
    if (known !== undefined) return known;
    const n = byName.get(name);
    if (n?.op !== 'Const') throw new Error(`tflite export: '${name}' is read before it is written`);
    const id = constant(name, constOf(name));
    ids.set(name, id);
    return id;
  };
  const output = (n: TfNode, shape: number[]) => {
    const id = addTensor({ name: n.name, shape, type: TensorType.FLOAT32 });
    ids.set(n.name, id);
    shapes.set(n.name, shape);
    return id;
  };
  const shapeOf = (name: string): number[] => {
    const known = shapes.get(name);
    if (known) return known;
    if (byName.get(name)?.op === 'Const') return constOf(name).shape;
    throw new Error(`tflite export: no shape for '${name}'`);
  };
  const act = table([]);
  const none = (type: keyof typeof OPTIONS) => ({ type, fields: table([[0, 'i8', 0]]) }); // fused_activation_function NONE

  for (let k = 0; k < g.nodes.length; k++) {
    const n = g.nodes[k];
    const s = (name: string) => shapeOf(name);
    switch (n.op) {
      case 'Const':
        break;
      case 'Placeholder': {
        const shape = (n.attr.shape as { shape: number[] }).shape;
        const id = output(n, shape);
        void id;
        break;
      }
      case 'Conv2D': {
        // HWIO -> OHWI; a BiasAdd that reads only this conv becomes the op's bias
        const [x, wName] = n.input;
        const w = constOf(wName);
        const [kh, kw, ci, co] = w.shape;
        const ohwi = new Float32Array(w.data.length);
        for (let y = 0; y < kh; y++)
          for (let xx = 0; xx < kw; xx++)
            for (let i = 0; i < ci; i++)
              for (let o = 0; o < co; o++)
                ohwi[((o * kh + y) * kw + xx) * ci + i] = w.data[((y * kw + xx) * ci + i) * co + o];
        const wId = constant(wName, w, [co, kh, kw, ci], ohwi);
        const next = g.nodes[k + 1];
        const fuse = next?.op === 'BiasAdd' && next.input[0] === n.name && consumers.get(n.name) === 1;
        const bias = fuse
          ? tensorOf(next.input[1])
          : constant(`${n.name}/bias`, { dtype: 'DT_FLOAT', shape: [co], data: new Float32Array(co) });
        const [B, H, W] = s(x);
        const strides = (n.attr.strides as any).list.i as number[],
          same = (n.attr.padding as any).s === 'SAME';
        const oh = same ? Math.ceil(H / strides[1]) : Math.floor((H - kh) / strides[1]) + 1,
          ow = same ? Math.ceil(W / strides[2]) : Math.floor((W - kw) / strides[2]) + 1;
        const out = output(fuse ? next : n, [B, oh, ow, co]);
        ops.push({
          op: 'CONV_2D',
          inputs: [tensorOf(x), wId, bias],
          outputs: [out],
          options: {
            type: 'Conv2DOptions',
            fields: table([
              [0, 'i8', same ? 0 : 1],
              [1, 'i32', strides[2]],
              [2, 'i32', strides[1]],
              [3, 'i8', 0],
              [4, 'i32', 1],
              [5, 'i32', 1],
            ]),
          },
        });
        if (fuse) k++;
        break;
      }
      case 'Pad': {
        const p = intsOf(n.input[1]),
          [B, H, W, C] = s(n.input[0]);
        const out = output(n, [B + p[0] + p[1], H + p[2] + p[3], W + p[4] + p[5], C + p[6] + p[7]]);
        ops.push({
          op: 'PAD',
          inputs: [tensorOf(n.input[0]), tensorOf(n.input[1])],
          outputs: [out],
          options: { type: 'PadOptions', fields: act },
        });
        break;
      }
      case 'MaxPool': {
        const ks = (n.attr.ksize as any).list.i as number[],
          st = (n.attr.strides as any).list.i as number[];
        const out = output(n, s(n.input[0]));
        ops.push({
          op: 'MAX_POOL_2D',
          inputs: [tensorOf(n.input[0])],
          outputs: [out],
          options: {
            type: 'Pool2DOptions',
            fields: table([
              [0, 'i8', 0],
              [1, 'i32', st[2]],
              [2, 'i32', st[1]],
              [3, 'i32', ks[2]],
              [4, 'i32', ks[1]],
              [5, 'i8', 0],
            ]),
          },
        });
        break;
      }
      case 'ResizeNearestNeighbor': {
        const [B, , , C] = s(n.input[0]),
          [H, W] = intsOf(n.input[1]);
        const out = output(n, [B, H, W, C]);
        ops.push({
          op: 'RESIZE_NEAREST_NEIGHBOR',
          inputs: [tensorOf(n.input[0]), tensorOf(n.input[1])],
          outputs: [out],
          options: {
            type: 'ResizeNearestNeighborOptions',
            fields: table([
              [0, 'bool', false],
              [1, 'bool', false],
            ]),
          },
        });
        break;
      }
      case 'Sigmoid': {
        const out = output(n, s(n.input[0]));
        ops.push({ op: 'LOGISTIC', inputs: [tensorOf(n.input[0])], outputs: [out] });
        break;
      }
      case 'AddV2':
      case 'Sub':
      case 'Mul':
      case 'RealDiv': {
        const [a, b] = n.input;
        const out = output(n, broadcast(s(a), s(b)));
        const op = ({ AddV2: 'ADD', Sub: 'SUB', Mul: 'MUL', RealDiv: 'DIV' } as const)[n.op];
        const type = ({ ADD: 'AddOptions', SUB: 'SubOptions', MUL: 'MulOptions', DIV: 'DivOptions' } as const)[op];
        ops.push({ op, inputs: [tensorOf(a), tensorOf(b)], outputs: [out], options: none(type) });
        break;
      }
      case 'ConcatV2': {
        const ins = n.input.slice(0, -1),
          axis = intsOf(n.input[n.input.length - 1])[0];
        const shape = [...s(ins[0])];
        shape[axis] = ins.reduce((t, i) => t + s(i)[axis], 0);
        const out = output(n, shape);
        ops.push({
          op: 'CONCATENATION',
          inputs: ins.map(tensorOf),
          outputs: [out],
          options: {
            type: 'ConcatenationOptions',
            fields: table([
              [0, 'i32', axis],
              [1, 'i8', 0],
            ]),
          },
        });
        break;
      }
      case 'Transpose': {
        const perm = intsOf(n.input[1]),
          x = s(n.input[0]);
        const out = output(
          n,
          perm.map((p) => x[p]),
        );
        ops.push({
          op: 'TRANSPOSE',
          inputs: [tensorOf(n.input[0]), tensorOf(n.input[1])],
          outputs: [out],
          options: { type: 'TransposeOptions', fields: act },
        });
        break;
      }
      case 'Reshape': {
        const shape = intsOf(n.input[1]);
        const out = output(n, shape);
        ops.push({
          op: 'RESHAPE',
          inputs: [tensorOf(n.input[0]), tensorOf(n.input[1])],
          outputs: [out],
          options: { type: 'ReshapeOptions', fields: table([[0, 'offset', vec('i32', shape)]]) },
        });
        break;
      }
      case 'Slice': {
        const size = intsOf(n.input[2]);
        const out = output(n, size);
        ops.push({
          op: 'SLICE',
          inputs: [tensorOf(n.input[0]), tensorOf(n.input[1]), tensorOf(n.input[2])],
          outputs: [out],
          options: { type: 'SliceOptions', fields: act },
        });
        break;
      }
      case 'Softmax': {
        const out = output(n, s(n.input[0]));
        ops.push({
          op: 'SOFTMAX',
          inputs: [tensorOf(n.input[0])],
          outputs: [out],
          options: { type: 'SoftmaxOptions', fields: table([[0, 'f32', 1]]) },
        });
        break;
      }
      case 'Identity': {
        ids.set(n.name, tensorOf(n.input[0]));
        shapes.set(n.name, s(n.input[0]));
        break;
      }
      default:
        throw new Error(`tflite export: no TFLite rule for the TF op '${n.op}' (node '${n.name}')`);
    }
  }
  // Ultralytics' TFLite output: xywh divided by the image width/height (its Detect head normalizes for
  // tflite/edgetpu, AutoBackend multiplies back); class scores and keypoints as they are
  const out = ids.get(g.output.name)!;
  const [B, C, A] = tensors[out].shape,
    [, H, W] = g.input.shape;
  const norm = new Float32Array(C).fill(1);
  norm.set([1 / W, 1 / H, 1 / W, 1 / H]);
  const k = addTensor({ name: 'xywh_norm', shape: [1, C, 1], type: TensorType.FLOAT32, data: bytesOf(norm) });
  const y = addTensor({ name: 'Identity', shape: [B, C, A], type: TensorType.FLOAT32 });
  ops.push({ op: 'MUL', inputs: [out, k], outputs: [y], options: none('MulOptions') });
  return { tensors, ops, inputs: [ids.get(g.input.name)!], outputs: [y], description: opts.description ?? 'yolo-ts' };
}

function broadcast(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length),
    out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1,
      y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`tflite export: shapes [${a}] and [${b}] do not broadcast`);
    out.push(Math.max(x, y));
  }
  return out;
}

/** The flatbuffer ('TFL3'), with extra metadata entries (name -> bytes) in Model.metadata. */
export function encodeTflite(m: TflModel, metadata: Record<string, Uint8Array> = {}): Uint8Array {
  const codes = [...new Set(m.ops.map((o) => o.op))];
  const version = (c: OpName) => Math.max(...m.ops.filter((o) => o.op === c).map((o) => o.version ?? 1));
  const buffers: FbObject[] = [table([])]; // buffer 0: the empty sentinel
  const tensor = (t: TflTensor) => {
    let buffer = 0;
    if (t.data) buffer = buffers.push(table([[0, 'offset', vec('u8', t.data, 16)]])) - 1;
    const q =
      t.quant &&
      table([
        [2, 'offset', vec('f32', t.quant.scale)],
        [3, 'offset', vec('i64', t.quant.zeroPoint)],
        [6, 'i32', t.quant.dim ?? 0],
      ]);
    return table([
      [0, 'offset', vec('i32', t.shape)],
      [1, 'i8', t.type],
      [2, 'u32', buffer],
      [3, 'offset', str(t.name)],
      q && [4, 'offset', q],
    ]);
  };
  const tensors = m.tensors.map(tensor);
  const meta = Object.entries(metadata).map(([name, bytes]) =>
    table([
      [0, 'offset', str(name)],
      [1, 'u32', buffers.push(table([[0, 'offset', vec('u8', bytes, 16)]])) - 1],
    ]),
  );
  const operators = m.ops.map((o) =>
    table([
      [0, 'u32', codes.indexOf(o.op)],
      [1, 'offset', vec('i32', o.inputs)],
      [2, 'offset', vec('i32', o.outputs)],
      o.options && [3, 'u8', OPTIONS[o.options.type]],
      o.options && [4, 'offset', o.options.fields],
    ]),
  );
  const subgraph = table([
    [0, 'offset', vecOf(tensors)],
    [1, 'offset', vec('i32', m.inputs)],
    [2, 'offset', vec('i32', m.outputs)],
    [3, 'offset', vecOf(operators)],
    [4, 'offset', str('main')],
  ]);
  const model = table([
    [0, 'u32', 3],
    [
      1,
      'offset',
      vecOf(
        codes.map((c) =>
          table([
            [0, 'i8', OP[c]],
            [2, 'i32', version(c)],
            [3, 'i32', OP[c]],
          ]),
        ),
      ),
    ],
    [2, 'offset', vecOf([subgraph])],
    [3, 'offset', str(m.description)],
    [4, 'offset', vecOf(buffers)],
    ...(meta.length ? [[6, 'offset', vecOf(meta)] as const] : []),
  ] as any);
  return finish(model, 'TFL3');
}

/** Python's str() of the metadata dict (names with int keys), what Ultralytics writes to temp_meta.txt. */
export function pyDictStr(m: ExportMetadata): string {
  return `{${Object.entries(m)
    .map(([k, v]) => `${pyReprStr(k)}: ${pyRepr(v as PyValue, k === 'names')}`)
    .join(', ')}}`;
}

/**
 * The model with Ultralytics' metadata as its MetadataPopulator leaves it readable: a zip archive
 * appended to the flatbuffer holding temp_meta.txt, which AutoBackend opens with zipfile (a zip is
 * read from its end) and reads with ast.literal_eval. TFLite runtimes ignore trailing bytes.
 */
export function tfliteWithMetadata(model: Uint8Array, m: ExportMetadata): Uint8Array {
  const zip = buildZip([{ name: 'temp_meta.txt', data: new TextEncoder().encode(pyDictStr(m)) }], { align: 1 });
  const total = zip.reduce((s, c) => s + c.length, model.length);
  const out = new Uint8Array(total);
  out.set(model);
  let off = model.length;
  for (const c of zip) (out.set(c, off), (off += c.length));
  return out;
}
