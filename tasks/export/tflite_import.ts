// Reading a float32 / float16 .tflite back as a TF graph (GraphDef JSON + weights) that TfSession
// (./tf_runtime.ts) executes with engine ops: the importer behind YOLO('x.tflite'). Each builtin op
// becomes the TF op it came from (CONV_2D -> Conv2D + BiasAdd with the OHWI filter as HWIO, DEQUANTIZE
// of a float16 constant -> a float32 Const, ...), and Ultralytics' metadata is read from the zip
// appended to the file (temp_meta.txt, a Python dict literal). Boxes come out of TFLite models
// normalized by the image size (Ultralytics' convention); they are multiplied back here, as AutoBackend does.
//
// Imports: engine/io (flatbuffers, safetensors' f16ToF32), ./metadata.

import { rootTable, type FbTable } from '../../engine/io/flatbuffers.js';
import { f16ToF32 } from '../../engine/io/safetensors.js';
import { parsePyLiteral, type ExportMetadata } from './metadata.js';

const CODE: Record<number, string> = {
  114: 'QUANTIZE',
  0: 'ADD',
  2: 'CONCATENATION',
  3: 'CONV_2D',
  6: 'DEQUANTIZE',
  14: 'LOGISTIC',
  17: 'MAX_POOL_2D',
  18: 'MUL',
  22: 'RESHAPE',
  25: 'SOFTMAX',
  34: 'PAD',
  39: 'TRANSPOSE',
  41: 'SUB',
  42: 'DIV',
  65: 'SLICE',
  97: 'RESIZE_NEAREST_NEIGHBOR',
};
const SIMPLE: Record<string, string> = {
  ADD: 'AddV2',
  SUB: 'Sub',
  MUL: 'Mul',
  DIV: 'RealDiv',
  LOGISTIC: 'Sigmoid',
  SOFTMAX: 'Softmax',
  PAD: 'Pad',
  TRANSPOSE: 'Transpose',
  RESHAPE: 'Reshape',
  SLICE: 'Slice',
  RESIZE_NEAREST_NEIGHBOR: 'ResizeNearestNeighbor',
};

export function tfliteToTfjs(src: Uint8Array, file: string) {
  const bytes = Uint8Array.from(src); // a plain copy: a Node Buffer's slice() is a view, and the copies below must own their bytes
  const model = rootTable(bytes, 'TFL3', file);
  const buffers = model.tables(4);
  const codes = model.tables(1).map((c) => Math.max(c.scalar(0, 'i8'), c.scalar(3, 'i32')));
  const [sg] = model.tables(2);
  if (!sg) throw new Error(`${file}: no subgraph`);
  const tensors = sg.tables(0).map((t: FbTable) => {
    const q = t.table(4),
      scale = q?.scalars(2, 'f32') ?? [];
    return {
      shape: t.scalars(0, 'i32'),
      type: t.scalar(1, 'i8'),
      data: buffers[t.scalar(2, 'u32')]?.bytes(0) ?? new Uint8Array(0),
      quant: scale.length ? { scale, zeroPoint: q!.scalars(3, 'i64').map(Number), dim: q!.scalar(6, 'i32', 0) } : null,
    };
  });
  /** an int8 / int32 quantized constant as float32: (q - zero_point) * scale, per channel along `dim` */
  const dequant = (t: (typeof tensors)[number]): Float32Array => {
    const q = t.type === 9 ? new Int8Array(t.data.slice().buffer) : new Int32Array(t.data.slice().buffer);
    const { scale, zeroPoint, dim } = t.quant!;
    const inner = t.shape.slice(dim + 1).reduce((a, b) => a * b, 1),
      n = t.shape[dim] ?? 1;
    return Float32Array.from(q, (v, k) => {
      const c = scale.length > 1 ? Math.floor(k / inner) % n : 0;
      return (v - zeroPoint[c]) * scale[c];
    });
  };
  const f32Bytes = (f: Float32Array) => new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  /** an int8 activation read back as float: FakeQuant (round to the int8 grid and back) named as the tensor */
  const fakeQuant = (i: number, from: string) => {
    const { scale, zeroPoint } = tensors[i].quant!;
    node.push({
      name: name(i),
      op: 'FakeQuant',
      input: [from],
      attr: { T: { type: 'DT_FLOAT' }, scale: { f: scale[0] }, zero_point: { i: zeroPoint[0] } },
    });
  };
  const isInt8Act = (i: number) => tensors[i].type === 9 && !tensors[i].data.length && !!tensors[i].quant;
  const node: { name: string; op: string; input?: string[]; attr: Record<string, unknown> }[] = [];
  const weightSpecs: { name: string; shape: number[]; dtype: string }[] = [];
  const parts: Uint8Array[] = [];
  const name = (i: number) => `t${i}`;
  const defined = new Set<number>();
  const konst = (nm: string, shape: number[], dtype: 'float32' | 'int32', data: Uint8Array) => {
    node.push({ name: nm, op: 'Const', attr: { dtype: { type: dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32' } } });
    weightSpecs.push({ name: nm, shape, dtype });
    parts.push(data);
  };
  const ref = (i: number): string => {
    if (defined.has(i)) return name(i);
    const t = tensors[i];
    if (!t.data.length) throw new Error(`${file}: tensor ${i} is read before it is written`);
    if (t.quant && (t.type === 9 || t.type === 2)) konst(name(i), t.shape, 'float32', f32Bytes(dequant(t)));
    else if (t.type !== 0 && t.type !== 2)
      throw new Error(
        `${file}: constant tensor ${i} has type ${t.type}; float32, int32 and quantized int8 / int32 are read`,
      );
    else konst(name(i), t.shape, t.type === 0 ? 'float32' : 'int32', t.data.slice());
    defined.add(i);
    return name(i);
  };
  const ints = (l: number[]) => ({ list: { i: l.map(String) } });
  const s = (v: string) => ({ s: Buffer.from(v).toString('base64') });
  for (const i of sg.scalars(1, 'i32')) {
    const int8 = isInt8Act(i); // a full-integer model: AutoBackend quantizes the float image with the input's scale and zero point
    node.push({
      name: int8 ? `${name(i)}/float` : name(i),
      op: 'Placeholder',
      attr: {
        dtype: { type: 'DT_FLOAT' },
        shape: { shape: { dim: tensors[i].shape.map((d) => ({ size: String(d) })) } },
      },
    });
    if (int8) fakeQuant(i, `${name(i)}/float`);
    defined.add(i);
  }
  for (const op of sg.tables(3)) {
    const code = CODE[codes[op.scalar(0, 'u32')]];
    if (!code)
      throw new Error(`${file}: builtin operator ${codes[op.scalar(0, 'u32')]} is not supported by this importer`);
    const ins = op.scalars(1, 'i32'),
      [out] = op.scalars(2, 'i32');
    const opt = op.table(4);
    const emit = (tfOp: string, inputs: string[], attr: Record<string, unknown> = {}, nm = name(out)) => {
      node.push({ name: nm, op: tfOp, input: inputs, attr: { T: { type: 'DT_FLOAT' }, ...attr } });
      return nm;
    };
    switch (code) {
      case 'QUANTIZE':
        emit('Identity', [ref(ins[0])]); // the FakeQuant below rounds to the output's grid
        break;
      case 'DEQUANTIZE': {
        const t = tensors[ins[0]];
        if (!t.data.length) {
          emit('Identity', [ref(ins[0])]);
          break;
        } // an int8 activation: already on its grid
        if (t.type === 9 && t.quant) {
          konst(name(out), t.shape, 'float32', f32Bytes(dequant(t)));
          break;
        }
        if (t.type !== 1)
          throw new Error(`${file}: DEQUANTIZE of a type-${t.type} tensor; float16 and int8 constants are read`);
        const h = new Uint16Array(t.data.slice().buffer);
        const f = f16ToF32(h);
        konst(name(out), t.shape, 'float32', new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
        break;
      }
      case 'CONV_2D': {
        const w = tensors[ins[1]];
        let wData: Float32Array;
        if (w.data.length) wData = w.quant ? dequant(w) : new Float32Array(w.data.slice().buffer);
        else {
          const k = weightSpecs.findIndex((x) => x.name === name(ins[1])); // a dequantized filter
          if (k < 0) throw new Error(`${file}: CONV_2D filter ${ins[1]} is not a constant`);
          wData = new Float32Array(parts[k].slice().buffer);
        }
        const [co, kh, kw, ci] = w.shape,
          hwio = new Float32Array(wData.length);
        for (let o = 0; o < co; o++)
          for (let y = 0; y < kh; y++)
            for (let x = 0; x < kw; x++)
              for (let c = 0; c < ci; c++)
                hwio[((y * kw + x) * ci + c) * co + o] = wData[((o * kh + y) * kw + x) * ci + c];
        konst(`${name(out)}/filter`, [kh, kw, ci, co], 'float32', new Uint8Array(hwio.buffer));
        const same = opt?.scalar(0, 'i8') === 0;
        const conv = emit(
          'Conv2D',
          [ref(ins[0]), `${name(out)}/filter`],
          {
            strides: ints([1, opt?.scalar(2, 'i32', 1) ?? 1, opt?.scalar(1, 'i32', 1) ?? 1, 1]),
            padding: s(same ? 'SAME' : 'VALID'),
          },
          `${name(out)}/conv`,
        );
        if (ins[2] >= 0) emit('BiasAdd', [conv, ref(ins[2])]);
        else emit('Identity', [conv]);
        break;
      }
      case 'MAX_POOL_2D':
        emit('MaxPool', [ref(ins[0])], {
          ksize: ints([1, opt!.scalar(4, 'i32'), opt!.scalar(3, 'i32'), 1]),
          strides: ints([1, opt!.scalar(2, 'i32'), opt!.scalar(1, 'i32'), 1]),
          padding: s(opt!.scalar(0, 'i8') === 0 ? 'SAME' : 'VALID'),
        });
        break;
      case 'CONCATENATION': {
        const axisName = `${name(out)}/axis`;
        konst(axisName, [], 'int32', new Uint8Array(Int32Array.of(opt!.scalar(0, 'i32')).buffer));
        emit('ConcatV2', [...ins.map(ref), axisName]);
        break;
      }
      default:
        emit(SIMPLE[code], ins.map(ref));
    }
    if (isInt8Act(out)) {
      const last = node[node.length - 1];
      last.name = `${name(out)}/float`;
      fakeQuant(out, last.name);
    }
    defined.add(out);
  }
  const [outT] = sg.scalars(2, 'i32'),
    [inT] = sg.scalars(1, 'i32');
  // AutoBackend: xywh come out of a TFLite model divided by the image size; multiply them back
  const C = tensors[outT].shape[1],
    [, H, W] = tensors[inT].shape,
    scale = new Float32Array(C).fill(1);
  scale.set([W, H, W, H]);
  konst('xywh_denorm', [1, C, 1], 'float32', new Uint8Array(scale.buffer));
  node.push({ name: 'Identity', op: 'Mul', input: [ref(outT), 'xywh_denorm'], attr: { T: { type: 'DT_FLOAT' } } });
  const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) (data.set(p, off), (off += p.length));
  return {
    modelTopology: { node, library: {}, versions: {} },
    format: 'graph-model',
    weightSpecs,
    weightData: data.buffer,
  };
}

/** Ultralytics' metadata from the zip appended to a .tflite (temp_meta.txt, stored), or null. */
export function tfliteMetadata(bytes: Uint8Array, file: string): ExportMetadata | null {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const want = new TextEncoder().encode('temp_meta.txt');
  for (let p = bytes.length - 30; p >= 0; p--) {
    if (dv.getUint32(p, true) !== 0x04034b50) continue;
    const nameLen = dv.getUint16(p + 26, true),
      extra = dv.getUint16(p + 28, true);
    const nm = bytes.subarray(p + 30, p + 30 + nameLen);
    if (nameLen !== want.length || !nm.every((b, i) => b === want[i])) continue;
    if (dv.getUint16(p + 8, true) !== 0)
      throw new Error(`${file}: temp_meta.txt is compressed; only stored entries are read`);
    const size = dv.getUint32(p + 18, true),
      start = p + 30 + nameLen + extra;
    return parsePyLiteral(new TextDecoder().decode(bytes.subarray(start, start + size))) as unknown as ExportMetadata;
  }
  return null;
}
