// A Core ML ML Program (MIL, opset CoreML5 / iOS15, specificationVersion 6) from a fixed-size traced
// graph, with the MIL ops coremltools' PyTorch converter gives for these ops (MIL op reference,
// coremltools.converters.mil.mil.ops.defs.iOS15):
//
//   the image input scaled by 1/255 (ImageType scale) -> mul | conv2d -> conv (+ bias; silu after a
//   fused SiLU) | silu | sigmoid | add/sub/mul/div -> add/sub/mul/real_div (scalars as immediates)
//   | concat | tiling narrows -> split; a lone narrow -> slice_by_index | max_pool2d -> max_pool
//   | upsample_nearest2d -> upsample_nearest_neighbor | reshape | permute -> transpose | softmax
//   | dfl -> reshape, transpose, softmax, conv(0..15), reshape | weights and constants -> const ops
//   reading weights/weight.bin (blob v2: 64-byte storage header, per blob a 64-byte metadata record
//   (sentinel 0xDEADBEEF, dtype, size, data offset) and the data, all 64-byte aligned).
// palettize (int8=True): weights of more than 512 elements as constexpr_lut_to_dense (8-bit k-means
// table + uint8 indices, ./palettize.ts), the opset CoreML6 (iOS16), as coremltools' palettize_weights
// leaves Ultralytics' program.
// half=True: a FLOAT16 program (fp16 weights and activations, cast after the input and before the
// output), which is what coremltools' default compute precision gives Ultralytics.
//
// Imports: engine (fp16, protobuf), engine/graph, ./coreml_proto, ./palettize, ./ncnn_lower (tileGroup).
import { f32ToF16 } from '../../engine/io/torch_pt.js';
import type { Message } from '../../engine/io/protobuf.js';
import type { Graph } from '../../engine/graph/index.js';
import { BLOB_FLOAT16, BLOB_FLOAT32, BLOB_SENTINEL, BLOB_UINT8, MIL, WEIGHT_FILE } from './coreml_proto.js';
import { palettize } from './palettize.js';
import { f16ToF32 } from '../../engine/io/safetensors.js';
import { tileGroup } from './ncnn_lower.js';

export const tensorType = (dataType: number, dims: number[]): Message => ({
  tensorType: { dataType, rank: dims.length, dimensions: dims.map((d) => ({ constant: { size: d } })) },
});

/** An immediate Value: floats (FLOAT32 / FLOAT16 as bytes), ints (INT32), bools, strings. */
export function immediate(dataType: number, dims: number[], values: number[] | string[] | boolean[]): Message {
  let tensor: Message;
  if (dataType === MIL.STRING) tensor = { strings: { values } };
  else if (dataType === MIL.BOOL) tensor = { bools: { values: (values as boolean[]).map((b) => (b ? 1 : 0)) } };
  else if (dataType === MIL.INT32 || dataType === MIL.UINT32) tensor = { ints: { values } };
  else if (dataType === MIL.FLOAT16)
    tensor = { bytes: { values: new Uint8Array(f32ToF16(Float32Array.from(values as number[])).buffer) } };
  else tensor = { floats: { values } };
  return { type: tensorType(dataType, dims), immediateValue: { tensor } };
}

export interface MilFiles {
  program: Message;
  outputName: string;
  outputShape: number[];
  weights: Uint8Array;
  opTypes: Map<string, number>;
}

/** palettize: weights of more than `threshold` elements as constexpr_lut_to_dense (nbits k-means table), opset CoreML6 (iOS16). */
export function lowerToMil(
  g: Graph,
  o: { half: boolean; read: (id: number) => Float32Array; palettize?: { nbits: number; threshold: number } },
): MilFiles {
  const opset = o.palettize ? 'CoreML6' : 'CoreML5';
  const ft = o.half ? MIL.FLOAT16 : MIL.FLOAT32;
  const ops: Message[] = [];
  const blobs: Uint8Array[] = [];
  let blobEnd = 64; // after the storage header
  const names = new Map<number, string>();
  const shapes = new Map<string, number[]>();
  let nv = 0;
  const fresh = () => `var_${nv++}`;
  const ints = (v: number[]) => ({ value: immediate(MIL.INT32, [v.length], v) });
  const int = (v: number) => ({ value: immediate(MIL.INT32, [], [v]) });
  const float = (v: number) => ({ value: immediate(ft, [], [v]) });
  const str = (v: string) => ({ value: immediate(MIL.STRING, [], [v]) });
  const bool = (v: boolean) => ({ value: immediate(MIL.BOOL, [], [v]) });
  type Bind = { name: string } | { value: Message };
  const ref = (n: string): Bind => ({ name: n });
  const op = (type: string, inputs: Record<string, Bind | Bind[]>, outShapes: number[][], dtype = ft): string[] => {
    const outs = outShapes.map((s) => {
      const n = fresh();
      shapes.set(n, s);
      return n;
    });
    ops.push({
      type,
      inputs: Object.entries(inputs).map(([key, b]) => ({ key, value: { arguments: Array.isArray(b) ? b : [b] } })),
      outputs: outs.map((n, k) => ({ name: n, type: tensorType(dtype, outShapes[k]) })),
    });
    return outs;
  };
  /** one blob record + data in weight.bin; returns the record's offset */
  const blob = (bytes: Uint8Array, blobType: number): number => {
    const meta = new Uint8Array(64),
      dv = new DataView(meta.buffer);
    const metaAt = blobEnd,
      dataAt = metaAt + 64;
    dv.setUint32(0, BLOB_SENTINEL, true);
    dv.setUint32(4, blobType, true);
    dv.setBigUint64(8, BigInt(bytes.byteLength), true);
    dv.setBigUint64(16, BigInt(dataAt), true);
    const padded = (bytes.byteLength + 63) & ~63;
    const chunk = new Uint8Array(64 + padded);
    (chunk.set(meta), chunk.set(bytes, 64));
    blobs.push(chunk);
    blobEnd += chunk.byteLength;
    return metaAt;
  };
  const floatBytes = (data: Float32Array) =>
    o.half ? new Uint8Array(f32ToF16(data).buffer) : new Uint8Array(Float32Array.from(data).buffer);
  const blobValue = (dataType: number, dims: number[], offset: number): Message => ({
    type: tensorType(dataType, dims),
    blobFileValue: { fileName: WEIGHT_FILE, offset },
  });
  const constant = (label: string, data: Float32Array, dims: number[]): string => {
    const n = label.replace(/[^A-Za-z0-9_]/g, '_');
    shapes.set(n, dims);
    const pal = o.palettize;
    if (pal && data.length > pal.threshold) {
      // coremltools' palettize_weights: a constexpr_lut_to_dense whose lut/indices/shape are attributes (iOS16/17 serialization)
      const { lut, indices } = palettize(data, pal.nbits, o.half ? (v) => f16ToF32(f32ToF16(v)) : (v) => v);
      ops.push({
        type: 'constexpr_lut_to_dense',
        outputs: [{ name: n, type: tensorType(ft, dims) }],
        attributes: [
          { key: 'name', value: immediate(MIL.STRING, [], [n]) },
          {
            key: 'lut',
            value: blobValue(ft, [lut.length], blob(floatBytes(lut), o.half ? BLOB_FLOAT16 : BLOB_FLOAT32)),
          },
          { key: 'indices', value: blobValue(MIL.UINT8, [indices.length], blob(indices, BLOB_UINT8)) },
          { key: 'shape', value: immediate(MIL.UINT32, [dims.length], dims) },
        ],
      });
      return n;
    }
    const at = blob(floatBytes(data), o.half ? BLOB_FLOAT16 : BLOB_FLOAT32);
    ops.push({
      type: 'const',
      outputs: [{ name: n, type: tensorType(ft, dims) }],
      attributes: [
        { key: 'name', value: immediate(MIL.STRING, [], [n]) },
        { key: 'val', value: blobValue(ft, dims, at) },
      ],
    });
    return n;
  };
  const value = (id: number): string => {
    const known = names.get(id);
    if (known) return known;
    const v = g.values[id];
    if (v.kind === 'input' || v.kind === 'node')
      throw new Error(`CoreML export: value %${id} is read before it is written`);
    const n = constant(v.name ?? `const_${id}`, o.read(id), g.shapeOf(id));
    names.set(id, n);
    return n;
  };
  const conv = (x: string, w: string, b: string | null, out: number[], a: Record<string, any>) =>
    op(
      'conv',
      {
        x: ref(x),
        weight: ref(w),
        ...(b ? { bias: ref(b) } : {}),
        strides: ints(a.stride),
        pad_type: str('custom'),
        pad: ints([a.padding[0], a.padding[0], a.padding[1], a.padding[1]]),
        dilations: ints(a.dilation),
        groups: int(a.groups),
      },
      [out],
    )[0];

  const input = g.inputs[0],
    inShape = g.shapeOf(input);
  let x0 = op(
    'mul',
    { x: ref('image'), y: { value: immediate(MIL.FLOAT32, [], [1 / 255]) } },
    [inShape],
    MIL.FLOAT32,
  )[0];
  if (o.half) x0 = op('cast', { x: ref(x0), dtype: str('fp16') }, [inShape])[0];
  names.set(input, x0);
  const tiled = new Set<number>();
  for (const n of g.nodes) {
    if (tiled.has(n.id)) continue;
    const a = n.attrs as Record<string, any>;
    const out = g.shapeOf(n.outputs[0]);
    const x = () => ref(value(n.inputs[0]!));
    let y: string;
    switch (n.op) {
      case 'conv2d': {
        const w = n.inputs[1]!,
          b = n.inputs[2];
        y = conv(value(n.inputs[0]!), value(w), b == null ? null : value(b), out, a);
        if (a.act === 'silu') y = op('silu', { x: ref(y) }, [out])[0];
        else if (a.act) throw new Error(`CoreML export: conv2d activation '${a.act}' has no rule (at '${n.module}')`);
        break;
      }
      case 'silu':
        y = op('silu', { x: x() }, [out])[0];
        break;
      case 'sigmoid':
        y = op('sigmoid', { x: x() }, [out])[0];
        break;
      case 'identity':
        y = value(n.inputs[0]!);
        break;
      case 'add':
      case 'sub':
      case 'mul':
      case 'div':
        y = op(n.op === 'div' ? 'real_div' : n.op, { x: x(), y: ref(value(n.inputs[1]!)) }, [out])[0];
        break;
      case 'add_scalar':
        y = op('add', { x: x(), y: float(a.alpha) }, [out])[0];
        break;
      case 'mul_scalar':
        y = op('mul', { x: x(), y: float(a.alpha) }, [out])[0];
        break;
      case 'div_scalar':
        y = op('real_div', { x: x(), y: float(a.alpha) }, [out])[0];
        break;
      case 'concat':
        y = op('concat', { values: n.inputs.map((i) => ref(value(i!))), axis: int(a.axis), interleave: bool(false) }, [
          out,
        ])[0];
        break;
      case 'softmax':
        y = op('softmax', { x: x(), axis: int(a.axis) }, [out])[0];
        break;
      case 'permute':
        y = op('transpose', { x: x(), perm: ints(a.axes) }, [out])[0];
        break;
      case 'reshape':
        y = op('reshape', { x: x(), shape: ints(out) }, [out])[0];
        break;
      case 'narrow': {
        const group = tileGroup(g, n);
        if (group) {
          group.forEach((m) => tiled.add(m.id));
          const outs = op(
            'split',
            { x: x(), split_sizes: ints(group.map((m) => m.attrs.length as number)), axis: int(a.axis) },
            group.map((m) => g.shapeOf(m.outputs[0])),
          );
          group.forEach((m, k) => names.set(m.outputs[0], outs[k]));
          continue;
        }
        const inS = g.shapeOf(n.inputs[0]!);
        const begin = inS.map((_, k) => (k === a.axis ? a.start : 0)),
          end = inS.map((d, k) => (k === a.axis ? a.start + a.length : d));
        y = op('slice_by_index', { x: x(), begin: ints(begin), end: ints(end) }, [out])[0];
        break;
      }
      case 'max_pool2d':
        y = op(
          'max_pool',
          {
            x: x(),
            kernel_sizes: ints(a.kernelSize),
            strides: ints(a.stride),
            pad_type: str('custom'),
            pad: ints([a.padding[0], a.padding[0], a.padding[1], a.padding[1]]),
            ceil_mode: bool(false),
          },
          [out],
        )[0];
        break;
      case 'upsample_nearest2d':
        y = op(
          'upsample_nearest_neighbor',
          {
            x: x(),
            scale_factor_height: { value: immediate(MIL.FLOAT32, [], [a.scale[0]]) },
            scale_factor_width: { value: immediate(MIL.FLOAT32, [], [a.scale[1]]) },
          },
          [out],
        )[0];
        break;
      case 'dfl': {
        const c1 = a.regMax as number,
          [B, , A] = g.shapeOf(n.inputs[0]!);
        const v = op('reshape', { x: x(), shape: ints([B, 4, c1, A]) }, [[B, 4, c1, A]])[0];
        const t = op('transpose', { x: ref(v), perm: ints([0, 2, 1, 3]) }, [[B, c1, 4, A]])[0];
        const s = op('softmax', { x: ref(t), axis: int(1) }, [[B, c1, 4, A]])[0];
        const w = constant(
          `${n.module}.conv.weight`,
          Float32Array.from({ length: c1 }, (_, k) => k),
          [1, c1, 1, 1],
        );
        const c = conv(s, w, null, [B, 1, 4, A], { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 });
        y = op('reshape', { x: ref(c), shape: ints([B, 4, A]) }, [[B, 4, A]])[0];
        break;
      }
      default:
        throw new Error(`CoreML export: no MIL rule for the op '${n.op}' (at '${n.module}')`);
    }
    names.set(n.outputs[0], y);
  }
  let outName = value(g.outputIds()[0]);
  const outShape = shapes.get(outName)!;
  if (o.half) outName = op('cast', { x: ref(outName), dtype: str('fp32') }, [outShape], MIL.FLOAT32)[0];
  const program: Message = {
    version: 1,
    functions: [
      {
        key: 'main',
        value: {
          inputs: [{ name: 'image', type: tensorType(MIL.FLOAT32, inShape) }],
          opset,
          block_specializations: [{ key: opset, value: { outputs: [outName], operations: ops } }],
        },
      },
    ],
  };
  const weights = new Uint8Array(blobEnd);
  const hv = new DataView(weights.buffer);
  hv.setUint32(0, blobs.length, true); // storage_header: count, version 2
  hv.setUint32(4, 2, true);
  let at = 64;
  for (const b of blobs) (weights.set(b, at), (at += b.byteLength));
  const opTypes = new Map<string, number>();
  for (const p of ops) opTypes.set(p.type as string, (opTypes.get(p.type as string) ?? 0) + 1);
  return { program, outputName: outName, outputShape: outShape, weights, opTypes };
}
