// ONNX operators run through the engine's ops, for OnnxSession (./onnx_runtime.ts).
//
// A value is either a device Tensor (activations) or a HostTensor: initializers, Constant outputs
// and everything computed only from them or from shapes (Shape -> Gather -> Range ... as dynamic
// exports compute anchors). Host values are small; ops with only host inputs run on the host, and
// an op that meets a device tensor uploads its host inputs (the session caches the uploads of
// constants). Host floats are Float32Array, so host arithmetic rounds as float32 does; host
// integers (int64 in ONNX) are Float64Array, exact for any shape arithmetic.
//
// Covered: everything the exporter writes, plus the few ops a torch export of the same model adds
// (Identity, ConstantOfShape, Squeeze, MatMul-free DFL variants are not needed).
//
// Imports: engine.

import {
  Tensor,
  add,
  cast,
  concat,
  conv2d,
  div,
  expand,
  indexSelect,
  maxPool2d,
  mul,
  permute,
  reshape,
  sigmoid,
  silu,
  slice,
  softmax,
  split,
  sub,
  tensor,
  upsampleNearest2d,
  type Device,
} from '../../engine/index.js';
import { DataType, type AttributeProto, type TensorProto } from '../../engine/io/onnx_proto.js';
import { f16ToF32 } from '../../engine/io/safetensors.js';

export class HostTensor {
  constructor(
    readonly dtype: 'float' | 'int',
    readonly shape: readonly number[],
    readonly data: Float32Array | Float64Array,
  ) {
    if (data.length !== shape.reduce((a, b) => a * b, 1))
      throw new Error(`HostTensor: ${data.length} values for shape [${shape.join(', ')}]`);
  }
  static ints(values: ArrayLike<number>, shape: readonly number[] = [values.length]) {
    return new HostTensor('int', shape, Float64Array.from(values));
  }
}
export type Value = Tensor | HostTensor;

export interface OpContext {
  device: Device;
  opset: number;
  /** the value on the device (host values uploaded; constants once per session) */
  dev(v: Value | undefined, what: string): Tensor;
}

/** A node's attributes by name, with typed getters. */
export class Attrs {
  private readonly m = new Map<string, AttributeProto>();
  constructor(
    list: AttributeProto[] = [],
    readonly op: string,
  ) {
    for (const a of list) this.m.set(a.name, a);
  }
  has(n: string) {
    return this.m.has(n);
  }
  int(n: string, def?: number): number {
    const a = this.m.get(n);
    if (a?.i !== undefined) return Number(a.i);
    if (def === undefined) throw new Error(`${this.op}: missing attribute '${n}'`);
    return def;
  }
  ints(n: string, def?: number[]): number[] {
    const a = this.m.get(n);
    if (a) return (a.ints ?? []).map(Number);
    if (def === undefined) throw new Error(`${this.op}: missing attribute '${n}'`);
    return def;
  }
  float(n: string, def: number): number {
    return this.m.get(n)?.f ?? def;
  }
  str(n: string, def: string): string {
    const s = this.m.get(n)?.s;
    return s ? new TextDecoder().decode(s) : def;
  }
  tensor(n: string): TensorProto | undefined {
    return this.m.get(n)?.t;
  }
}

// ---- tensors from the file ---------------------------------------------------------------------

/** A TensorProto (initializer or Constant) as a host value; float16 and double become float32. */
/** The most elements one ONNX tensor may declare (1 GiB of float32): more is a corrupt or hostile file. */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

export function fromProto(t: TensorProto, what: string): HostTensor {
  const dims = (t.dims ?? []).map(Number);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new Error(`${what}: dims [${dims.join(', ')}] are not non-negative integers (corrupt file)`);
  const n = dims.reduce((a, b) => a * b, 1);
  if (n > MAX_TENSOR_ELEMENTS)
    throw new Error(
      `${what}: dims [${dims.join(', ')}] declare ${n} elements, more than the ${MAX_TENSOR_ELEMENTS} one tensor may hold (corrupt file)`,
    );
  const raw = t.raw_data;
  const typed = [t.float_data, t.int32_data, t.int64_data, t.double_data].find((d) => d && d.length);
  if (!raw && typed && typed.length !== n)
    throw new Error(
      `${what}: holds ${typed.length} values, expected ${n} for dims [${dims.join(', ')}] (truncated or corrupt)`,
    );
  const view = (bytes: number) => {
    if (!raw) return null;
    if (raw.length !== n * bytes)
      throw new Error(
        `${what}: raw_data holds ${raw.length} bytes, expected ${n * bytes} for dims [${dims.join(', ')}] (truncated or corrupt)`,
      );
    return raw.slice().buffer; // aligned copy
  };
  switch (t.data_type) {
    case DataType.FLOAT: {
      const b = view(4);
      return new HostTensor('float', dims, b ? new Float32Array(b) : Float32Array.from(t.float_data ?? []));
    }
    case DataType.FLOAT16: {
      const b = view(2);
      // without raw_data, float16 bits sit in int32_data
      return new HostTensor('float', dims, f16ToF32(b ? new Uint16Array(b) : Uint16Array.from(t.int32_data ?? [])));
    }
    case DataType.DOUBLE: {
      const b = view(8);
      return new HostTensor('float', dims, Float32Array.from(b ? new Float64Array(b) : (t.double_data ?? [])));
    }
    case DataType.INT64: {
      const b = view(8);
      return new HostTensor(
        'int',
        dims,
        b ? Float64Array.from(new BigInt64Array(b), Number) : Float64Array.from(t.int64_data ?? []),
      );
    }
    case DataType.INT32: {
      const b = view(4);
      return new HostTensor('int', dims, Float64Array.from(b ? new Int32Array(b) : (t.int32_data ?? [])));
    }
    default:
      throw new Error(
        `${what}: tensor data type ${t.data_type} is not supported (float, float16, double, int32, int64)`,
      );
  }
}

// ---- host helpers ------------------------------------------------------------------------------

const isHost = (v: Value | undefined): v is HostTensor => v instanceof HostTensor;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function host(v: Value | undefined, what: string): HostTensor {
  if (v instanceof HostTensor) return v;
  throw new Error(
    `${what}: needs a value known before the run (a constant or a shape), got a computed tensor${v ? ` of shape [${v.shape.join(', ')}]` : ''}`,
  );
}
const hostInts = (v: Value | undefined, what: string) => Array.from(host(v, what).data);

function normAxis(axis: number, rank: number, what: string) {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${what}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy broadcasting of two host tensors through fn. */
function hostBinary(a: HostTensor, b: HostTensor, fn: (x: number, y: number) => number, what: string): HostTensor {
  const r = Math.max(a.shape.length, b.shape.length);
  const pa = [...Array(r - a.shape.length).fill(1), ...a.shape],
    pb = [...Array(r - b.shape.length).fill(1), ...b.shape];
  const shape = pa.map((d, i) => {
    if (d !== pb[i] && d !== 1 && pb[i] !== 1)
      throw new Error(`${what}: shapes [${a.shape}] and [${b.shape}] do not broadcast`);
    return d === 1 ? pb[i] : d;
  });
  const dtype = a.dtype === 'float' || b.dtype === 'float' ? 'float' : 'int';
  const out = dtype === 'float' ? new Float32Array(numel(shape)) : new Float64Array(numel(shape));
  const strides = (p: number[]) => {
    const s = new Array(r).fill(0);
    let acc = 1;
    for (let i = r - 1; i >= 0; i--) ((s[i] = p[i] === 1 ? 0 : acc), (acc *= p[i]));
    return s;
  };
  const sa = strides(pa),
    sb = strides(pb),
    idx = new Array(r).fill(0);
  for (let k = 0; k < out.length; k++) {
    let ia = 0,
      ib = 0;
    for (let i = 0; i < r; i++) ((ia += idx[i] * sa[i]), (ib += idx[i] * sb[i]));
    out[k] = fn(a.data[ia], b.data[ib]);
    for (let i = r - 1; i >= 0 && ++idx[i] === shape[i]; i--) idx[i] = 0;
  }
  return new HostTensor(dtype, shape, out);
}

/** Reshape's target: 0 copies the input dimension (allowzero=0), one -1 is inferred. */
export function reshapeTarget(inShape: readonly number[], spec: number[], what: string): number[] {
  const out = spec.map((d, i) => (d === 0 ? inShape[i] : d));
  const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1),
    total = numel(inShape);
  const j = out.indexOf(-1);
  if (j >= 0) out[j] = known ? total / known : 0;
  if (numel(out) !== total || !Number.isInteger(out[Math.max(j, 0)]))
    throw new Error(`${what}: cannot reshape [${inShape.join(', ')}] to [${spec.join(', ')}]`);
  return out;
}

/** Row-major gather of a host tensor along `axis` (for Gather, Slice, Concat on the host). */
function hostTake(x: HostTensor, axis: number, indices: number[]): HostTensor {
  const outer = numel(x.shape.slice(0, axis)),
    inner = numel(x.shape.slice(axis + 1)),
    n = x.shape[axis];
  const out = new (x.data.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(
    outer * indices.length * inner,
  );
  let k = 0;
  for (let o = 0; o < outer; o++)
    for (const i of indices) for (let j = 0; j < inner; j++) out[k++] = x.data[(o * n + i) * inner + j];
  const shape = [...x.shape];
  shape[axis] = indices.length;
  return new HostTensor(x.dtype, shape, out);
}

// ---- the operators -----------------------------------------------------------------------------

type OpFn = (ins: (Value | undefined)[], a: Attrs, ctx: OpContext) => Value[];

const binary =
  (dev: (x: Tensor, y: Tensor) => Tensor, hostFn: (x: number, y: number, int: boolean) => number): OpFn =>
  (ins, a, ctx) => {
    const [x, y] = ins;
    if (isHost(x) && isHost(y)) {
      const int = x.dtype === 'int' && y.dtype === 'int';
      return [hostBinary(x, y, (p, q) => hostFn(p, q, int), a.op)];
    }
    return [dev(ctx.dev(x, a.op), ctx.dev(y, a.op))];
  };

/** ONNX pads [top, left, bottom, right] -> the engine's symmetric (y, x) padding. */
function padsOf(a: Attrs, what: string): [number, number] {
  const ap = a.str('auto_pad', 'NOTSET');
  if (ap !== 'NOTSET' && ap !== 'VALID')
    throw new Error(`${what}: auto_pad=${ap} is not supported (explicit pads only)`);
  const p = a.ints('pads', [0, 0, 0, 0]);
  if (p.length !== 4 || p[0] !== p[2] || p[1] !== p[3])
    throw new Error(`${what}: pads [${p.join(', ')}] are not symmetric (only 2-D, same padding before and after)`);
  return [p[0], p[1]];
}

export const OPS: Record<string, OpFn> = {
  Identity: (ins) => [ins[0]!],
  Add: binary(add, (x, y) => x + y),
  Sub: binary(sub, (x, y) => x - y),
  Mul: binary(mul, (x, y) => x * y),
  Div: binary(div, (x, y, int) => (int ? Math.trunc(x / y) : x / y)),
  Sigmoid: (ins, a, ctx) => [sigmoid(ctx.dev(ins[0], a.op))],

  Conv: (ins, a, ctx) => {
    const x = ctx.dev(ins[0], a.op),
      w = ctx.dev(ins[1], a.op),
      b = ins[2] ? ctx.dev(ins[2], a.op) : undefined;
    if (x.ndim !== 4) throw new Error(`${a.op}: only 2-D convolutions, got input [${x.shape.join(', ')}]`);
    return [conv2d(x, w, b, convOpts(a))];
  },
  /** Conv -> Sigmoid -> Mul fused by the session into one conv with the SiLU epilogue. */
  ConvSiLU: (ins, a, ctx) => {
    const x = ctx.dev(ins[0], a.op),
      w = ctx.dev(ins[1], a.op),
      b = ins[2] ? ctx.dev(ins[2], a.op) : undefined;
    return [conv2d(x, w, b, { ...convOpts(a), act: 'silu' })];
  },
  SiLU: (ins, a, ctx) => [silu(ctx.dev(ins[0], a.op))],

  MaxPool: (ins, a, ctx) => {
    if (a.int('ceil_mode', 0)) throw new Error(`${a.op}: ceil_mode=1 is not supported`);
    if (a.int('storage_order', 0)) throw new Error(`${a.op}: storage_order=1 is not supported`);
    const k = a.ints('kernel_shape');
    return [
      maxPool2d(ctx.dev(ins[0], a.op), {
        kernelSize: [k[0], k[1]],
        stride: pair(a.ints('strides', [1, 1])),
        padding: padsOf(a, a.op),
        dilation: pair(a.ints('dilations', [1, 1])),
      }),
    ];
  },

  Resize: (ins, a, ctx) => {
    const x = ctx.dev(ins[0], a.op);
    const mode = a.str('mode', 'nearest'),
      coord = a.str('coordinate_transformation_mode', 'half_pixel'),
      nearest = a.str('nearest_mode', 'round_prefer_floor');
    // For integer upscales these all pick source pixel floor(y / s): asymmetric+floor, or half-pixel
    // centres with either rounding (no ties occur).
    const ok =
      mode === 'nearest' &&
      ((coord === 'asymmetric' && nearest === 'floor') ||
        (['half_pixel', 'pytorch_half_pixel'].includes(coord) && nearest !== 'floor' && nearest !== 'ceil'));
    if (!ok)
      throw new Error(
        `${a.op}: only nearest upsampling by integer factors is supported (got mode=${mode}, coordinate_transformation_mode=${coord}, nearest_mode=${nearest})`,
      );
    let s: number[];
    if (ins[2] && host(ins[2], a.op).data.length) s = Array.from(host(ins[2], a.op).data);
    else if (ins[3]) s = hostInts(ins[3], a.op).map((d, i) => d / x.shape[i]);
    else throw new Error(`${a.op}: neither scales nor sizes given`);
    if (s.length !== 4 || s[0] !== 1 || s[1] !== 1 || !Number.isInteger(s[2]) || !Number.isInteger(s[3]))
      throw new Error(`${a.op}: scales [${s.join(', ')}] must be [1, 1, integer, integer]`);
    return [upsampleNearest2d(x, [s[2], s[3]])];
  },

  Concat: (ins, a, ctx) => {
    const xs = ins.filter((v): v is Value => !!v);
    const axis = normAxis(a.int('axis'), xs[0].shape.length, a.op);
    if (xs.every(isHost)) {
      const parts = xs as HostTensor[];
      const outer = numel(parts[0].shape.slice(0, axis));
      const shape = [...parts[0].shape];
      shape[axis] = parts.reduce((s, p) => s + p.shape[axis], 0);
      const out = new (parts.some((p) => p.dtype === 'float') ? Float32Array : Float64Array)(numel(shape));
      let k = 0;
      for (let o = 0; o < outer; o++)
        for (const p of parts) {
          const len = numel(p.shape.slice(axis));
          out.set(p.data.subarray(o * len, (o + 1) * len), k);
          k += len;
        }
      return [new HostTensor(parts[0].dtype, shape, out)];
    }
    return [
      concat(
        xs.map((v) => ctx.dev(v, a.op)),
        axis,
      ),
    ];
  },

  Split: (ins, a, ctx) => {
    const x = ctx.dev(ins[0], a.op);
    const axis = normAxis(a.int('axis', 0), x.ndim, a.op);
    const sizes = ins[1] ? hostInts(ins[1], a.op) : a.has('split') ? a.ints('split') : null;
    if (!sizes) throw new Error(`${a.op}: equal splits need the output count; give split sizes`);
    return split(x, sizes, axis);
  },

  Reshape: (ins, a) => {
    if (a.int('allowzero', 0)) throw new Error(`${a.op}: allowzero=1 is not supported`);
    const x = ins[0]!;
    const shape = reshapeTarget(x.shape, hostInts(ins[1], a.op), a.op);
    return [isHost(x) ? new HostTensor(x.dtype, shape, x.data) : reshape(x, shape)];
  },

  Transpose: (ins, a, ctx) => {
    const x = ctx.dev(ins[0], a.op);
    return [
      permute(
        x,
        a.ints(
          'perm',
          x.shape.map((_, i) => x.ndim - 1 - i),
        ),
      ),
    ];
  },

  Softmax: (ins, a, ctx) => {
    const x = ctx.dev(ins[0], a.op);
    if (ctx.opset >= 13) return [softmax(x, normAxis(a.int('axis', -1), x.ndim, a.op))];
    // before opset 13: softmax over everything from `axis` on, as a 2-D matrix
    const axis = normAxis(a.int('axis', 1), x.ndim, a.op);
    const flat = reshape(x, [numel(x.shape.slice(0, axis)), numel(x.shape.slice(axis))]);
    return [reshape(softmax(flat, 1), x.shape)];
  },

  Slice: (ins, a, ctx) => {
    let x = ins[0]!;
    const starts = ctx.opset >= 10 ? hostInts(ins[1], a.op) : a.ints('starts');
    const ends = ctx.opset >= 10 ? hostInts(ins[2], a.op) : a.ints('ends');
    const axes =
      ctx.opset >= 10 && ins[3]
        ? hostInts(ins[3], a.op)
        : a.ints(
            'axes',
            starts.map((_, i) => i),
          );
    const steps = ins[4] ? hostInts(ins[4], a.op) : starts.map(() => 1);
    axes.forEach((ax, i) => {
      const axis = normAxis(ax, x.shape.length, a.op),
        n = x.shape[axis];
      if (steps[i] < 1) throw new Error(`${a.op}: negative or zero steps are not supported`);
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
      const s = clamp(starts[i]),
        e = clamp(ends[i]);
      if (isHost(x)) {
        const idx: number[] = [];
        for (let k = s; k < e; k += steps[i]) idx.push(k);
        x = hostTake(x, axis, idx);
      } else x = slice(x, axis, s, e, steps[i]);
    });
    return [x];
  },

  Gather: (ins, a, ctx) => {
    const x = ins[0]!,
      axis = normAxis(a.int('axis', 0), x.shape.length, a.op);
    const idxT = host(ins[1], a.op),
      n = x.shape[axis];
    const idx = Array.from(idxT.data, (i) => (i < 0 ? i + n : i));
    if (idx.some((i) => i < 0 || i >= n)) throw new Error(`${a.op}: index out of range for axis of size ${n}`);
    const outShape = [...x.shape.slice(0, axis), ...idxT.shape, ...x.shape.slice(axis + 1)];
    if (isHost(x)) return [new HostTensor(x.dtype, outShape, hostTake(x, axis, idx).data)];
    const t = indexSelect(x, axis, tensor(Int32Array.from(idx), [idx.length], { dtype: 'i32', device: ctx.device }));
    return [reshape(t, outShape)];
  },

  Shape: (ins, a) => {
    const s = ins[0]!.shape,
      r = s.length;
    const norm = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    return [HostTensor.ints(s.slice(norm(a.int('start', 0)), norm(a.int('end', r))))];
  },

  Cast: (ins, a) => {
    const to = a.int('to'),
      x = ins[0]!;
    const toFloat = [DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE].includes(to as 1);
    const toInt = [DataType.INT64, DataType.INT32].includes(to as 7);
    if (!toFloat && !toInt) throw new Error(`${a.op}: cast to data type ${to} is not supported`);
    if (isHost(x))
      return [
        new HostTensor(
          toFloat ? 'float' : 'int',
          x.shape,
          toFloat ? Float32Array.from(x.data) : Float64Array.from(x.data, Math.trunc),
        ),
      ];
    return [cast(x, toFloat ? 'f32' : 'i32')];
  },

  Unsqueeze: (ins, a, ctx) => {
    const x = ins[0]!;
    const axes = ctx.opset >= 13 ? hostInts(ins[1], a.op) : a.ints('axes');
    const r = x.shape.length + axes.length,
      shape = [...x.shape];
    for (const ax of axes.map((v) => normAxis(v, r, a.op)).sort((p, q) => p - q)) shape.splice(ax, 0, 1);
    return [isHost(x) ? new HostTensor(x.dtype, shape, x.data) : reshape(x, shape)];
  },

  Squeeze: (ins, a, ctx) => {
    const x = ins[0]!;
    const given = ctx.opset >= 13 ? (ins[1] ? hostInts(ins[1], a.op) : null) : a.has('axes') ? a.ints('axes') : null;
    const axes = given
      ? given.map((v) => normAxis(v, x.shape.length, a.op))
      : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    for (const ax of axes)
      if (x.shape[ax] !== 1) throw new Error(`${a.op}: axis ${ax} of shape [${x.shape.join(', ')}] is not 1`);
    const shape = x.shape.filter((_, i) => !axes.includes(i));
    return [isHost(x) ? new HostTensor(x.dtype, shape, x.data) : reshape(x, shape)];
  },

  Range: (ins, a) => {
    const [start, limit, delta] = ins.map((v) => host(v, a.op));
    const s = start.data[0],
      l = limit.data[0],
      d = delta.data[0];
    const n = Math.max(Math.ceil((l - s) / d), 0);
    const out = start.dtype === 'float' ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = s + i * d;
    return [new HostTensor(start.dtype, [n], out)];
  },

  Expand: (ins, a) => {
    const x = ins[0]!,
      spec = hostInts(ins[1], a.op);
    // bidirectional broadcasting of x's shape and spec
    const r = Math.max(x.shape.length, spec.length);
    const px = [...Array(r - x.shape.length).fill(1), ...x.shape],
      ps = [...Array(r - spec.length).fill(1), ...spec];
    const shape = px.map((d, i) => (d === 1 ? ps[i] : d));
    if (isHost(x))
      return [
        hostBinary(
          x,
          new HostTensor(x.dtype, shape, new (x.data.constructor as Float64ArrayConstructor)(numel(shape))),
          (p) => p,
          a.op,
        ),
      ];
    return [expand(x, shape)];
  },

  ConstantOfShape: (ins, a) => {
    const shape = hostInts(ins[0], a.op);
    const t = a.tensor('value');
    const v = t ? fromProto(t, a.op) : new HostTensor('float', [1], new Float32Array([0]));
    const out = new (v.data.constructor as Float64ArrayConstructor)(numel(shape)).fill(v.data[0]);
    return [new HostTensor(v.dtype, shape, out)];
  },

  Constant: (_ins, a) => {
    const t = a.tensor('value');
    if (t) return [fromProto(t, a.op)];
    if (a.has('value_float')) return [new HostTensor('float', [], new Float32Array([a.float('value_float', 0)]))];
    if (a.has('value_floats')) throw new Error(`${a.op}: value_floats is not supported`);
    if (a.has('value_int')) return [HostTensor.ints([a.int('value_int')], [])];
    if (a.has('value_ints')) return [HostTensor.ints(a.ints('value_ints'))];
    throw new Error(`${a.op}: no value attribute`);
  },
};

const pair = (v: number[]): [number, number] => [v[0], v[1] ?? v[0]];

function convOpts(a: Attrs) {
  return {
    stride: pair(a.ints('strides', [1, 1])),
    padding: padsOf(a, a.op),
    dilation: pair(a.ints('dilations', [1, 1])),
    groups: a.int('group', 1),
  };
}

/** The ops an OnnxSession can run. */
export const SUPPORTED_OPS = Object.keys(OPS).filter((o) => o !== 'ConvSiLU' && o !== 'SiLU');
