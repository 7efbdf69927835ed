// TFLite int8 (format=tflite int8=True, format=edgetpu): post-training quantization of the float
// TFLite model of ./tflite.ts, calibrated on images as Ultralytics' export does (the `data=` val split,
// letterboxed to imgsz, /255; onnx2tf then TF's converter quantize). Three files, onnx2tf's names:
//
//   _int8.tflite (onnx2tf's _dynamic_range_quant, renamed by Ultralytics; what `format=tflite int8=True`
//     returns): int8 conv filters read through DEQUANTIZE, float activations.
//   _integer_quant.tflite: int8 activations and weights, float32 input (QUANTIZE) and output (DEQUANTIZE).
//   _full_integer_quant.tflite: the same with int8 input and output (what edgetpu_compiler takes).
//
// Activations: asymmetric int8 from the calibrated per-tensor [min, max] (widened to hold 0), TF's
// scale = (max - min) / 255, zero_point = round(-128 - min / scale). Weights: symmetric int8 (zero point
// 0), per-tensor as Ultralytics asks onnx2tf (quant_type="per-tensor") or per output channel; biases
// int32 with scale = input scale * filter scale. The kernels' constraints (lite/kernels/*.cc Prepare):
// LOGISTIC and SOFTMAX output scale 1/256, zero point -128; MAX_POOL_2D, RESHAPE, TRANSPOSE, SLICE, PAD
// and RESIZE_NEAREST_NEIGHBOR keep their input's parameters; CONCATENATION's inputs share the output's
// (an int8 -> int8 QUANTIZE requantizes those that differ); no int8 DIV: a division by a constant
// becomes a MUL by its reciprocal.
//
// The decode tail (from the head's first TRANSPOSE/RESHAPE on: DFL, anchors, strides, keypoints, the
// final concat) mixes 0..1 scores with pixel coordinates in one tensor: one int8 scale cannot hold both
// (onnx2tf's full-int8 model loses the scores there). _integer_quant keeps that tail in float after a
// DEQUANTIZE per head output; _full_integer_quant (int8 out, for the Edge TPU) quantizes everything.
//
// Imports: engine (tensors for calibration), ./tflite, ./tflite_import, ./tf_runtime.

import { Tensor, tensor, type Device } from '../../engine/index.js';
import { TensorType, encodeTflite, type OpName, type TflModel, type TflOp, type TflTensor } from './tflite.js';
import { tfliteToTfjs } from './tflite_import.js';
import { TfSession } from './tf_runtime.js';
import { table } from '../../engine/io/flatbuffers.js';

export interface Range {
  min: number;
  max: number;
}
export type QuantMode = 'dynamic_range' | 'integer' | 'full_integer';
export interface QuantOptions {
  mode: QuantMode;
  perChannel?: boolean;
}

const f32 = (t: TflTensor) => new Float32Array(t.data!.slice().buffer);
const bytesOf = (a: Float32Array | Int32Array | Int8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
/** The int8 kernel versions TF's converter writes (lite/tools/versioning/op_version.cc). */
const INT8_VERSION: Partial<Record<OpName, number>> = {
  CONV_2D: 3,
  ADD: 2,
  SUB: 2,
  MUL: 2,
  CONCATENATION: 2,
  MAX_POOL_2D: 2,
  RESIZE_NEAREST_NEIGHBOR: 2,
  TRANSPOSE: 2,
  SOFTMAX: 2,
  LOGISTIC: 2,
  SLICE: 2,
  PAD: 2,
  RESHAPE: 1,
  QUANTIZE: 2,
  DEQUANTIZE: 2,
};
/** ops whose int8 output carries the input's scale and zero point */
const SAME_PARAMS = new Set<OpName>(['MAX_POOL_2D', 'RESHAPE', 'TRANSPOSE', 'SLICE', 'PAD', 'RESIZE_NEAREST_NEIGHBOR']);

/** Asymmetric int8 parameters for a calibrated range (TF's: the range widened to hold 0). */
export function activationParams(r: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(r.min, 0),
    hi = Math.max(r.max, 0);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale, zeroPoint: Math.max(-128, Math.min(127, Math.round(-128 - lo / scale))) };
}

/**
 * Per-tensor [min, max] of every activation of the float model over the calibration batches
 * (NCHW, /255, the model's batch), run through the engine (TfSession on `device`). Keyed by tensor index.
 */
export function calibrate(model: TflModel, batches: Iterable<Float32Array>, device: Device): Map<number, Range> {
  const art = tfliteToTfjs(encodeTflite(model), 'calibration') as any;
  const session = new TfSession(art, device, 'calibration', null);
  const ranges = new Map<number, Range>();
  const [B, H, W] = model.tensors[model.inputs[0]].shape;
  try {
    for (const x of batches) {
      const xt = tensor(x, [B, 3, H, W], { device });
      const [y] = session.run({ [session.inputNames[0]]: xt }, (name, v: Tensor) => {
        const m = /^t(\d+)$/.exec(name);
        if (!m) return;
        const d = v.dataSync() as Float32Array;
        let lo = Infinity,
          hi = -Infinity;
        for (let i = 0; i < d.length; i++) ((lo = Math.min(lo, d[i])), (hi = Math.max(hi, d[i])));
        const r = ranges.get(Number(m[1]));
        ranges.set(Number(m[1]), r ? { min: Math.min(r.min, lo), max: Math.max(r.max, hi) } : { min: lo, max: hi });
      });
      y.dispose();
      xt.dispose();
    }
  } finally {
    session.dispose();
  }
  return ranges;
}

/** The float model `m` quantized with the calibrated `ranges` (see the file comment for the modes). */
export function quantizeTflite(m: TflModel, ranges: Map<number, Range>, o: QuantOptions): TflModel {
  const tensors: TflTensor[] = m.tensors.map((t) => ({ ...t }));
  const ops: TflOp[] = [];
  const add = (t: TflTensor) => tensors.push(t) - 1;
  const none = (type: 'AddOptions' | 'MulOptions' | 'SubOptions') => ({ type, fields: table([[0, 'i8', 0]]) });
  const isConst = (i: number) => !!m.tensors[i].data;

  /** symmetric int8 filter (OHWI), per output channel or per tensor; returns the tensor and its scales */
  const filterCache = new Map<number, { id: number; scales: number[] }>();
  const quantFilter = (i: number, perChannel: boolean) => {
    const known = filterCache.get(i);
    if (known) return known;
    const t = m.tensors[i],
      w = f32(t),
      co = t.shape[0],
      per = w.length / co;
    const scales: number[] = [];
    const q = new Int8Array(w.length);
    const absMax = (a: number, b: number) => {
      let mx = 0;
      for (let k = a; k < b; k++) mx = Math.max(mx, Math.abs(w[k]));
      return mx;
    };
    const whole = absMax(0, w.length);
    for (let c = 0; c < co; c++) {
      const s = (perChannel ? absMax(c * per, (c + 1) * per) : whole) / 127 || 1;
      scales.push(s);
      for (let k = c * per; k < (c + 1) * per; k++) q[k] = Math.max(-127, Math.min(127, Math.round(w[k] / s)));
    }
    const id = add({
      name: `${t.name}_int8`,
      shape: t.shape,
      type: TensorType.INT8,
      data: bytesOf(q),
      quant: perChannel
        ? { scale: scales, zeroPoint: scales.map(() => 0), dim: 0 }
        : { scale: [scales[0]], zeroPoint: [0] },
    });
    const r = { id, scales: perChannel ? scales : scales.map(() => scales[0]) };
    filterCache.set(i, r);
    return r;
  };

  if (o.mode === 'dynamic_range') {
    // int8 filters through DEQUANTIZE, everything else float (TF's dynamic-range quantization for ops without hybrid kernels)
    for (const op of m.ops) {
      if (op.op !== 'CONV_2D') {
        ops.push(op);
        continue;
      }
      const { id } = quantFilter(op.inputs[1], true);
      const f = add({
        name: m.tensors[op.inputs[1]].name,
        shape: m.tensors[op.inputs[1]].shape,
        type: TensorType.FLOAT32,
      });
      ops.push({ op: 'DEQUANTIZE', inputs: [id], outputs: [f], version: 4 }); // per-channel int8 DEQUANTIZE: version 4
      ops.push({ ...op, inputs: [op.inputs[0], f, op.inputs[2]] });
    }
    return prune({ ...m, tensors, ops });
  }

  // the float tail (integer mode): from the first TRANSPOSE/RESHAPE on, and everything reading it
  const tail = new Set<TflOp>(),
    tailT = new Set<number>();
  if (o.mode === 'integer')
    for (const op of m.ops)
      if (op.op === 'TRANSPOSE' || op.op === 'RESHAPE' || op.inputs.some((i) => tailT.has(i)))
        (tail.add(op), op.outputs.forEach((y) => tailT.add(y)));

  const params = new Map<number, { scale: number; zeroPoint: number }>(); // int8 activations (new tensor ids)
  const setInt8 = (id: number, p: { scale: number; zeroPoint: number }) => {
    tensors[id] = { ...tensors[id], type: TensorType.INT8, quant: { scale: [p.scale], zeroPoint: [p.zeroPoint] } };
    params.set(id, p);
  };
  const rangeOf = (i: number) => {
    const r = ranges.get(i);
    if (!r) throw new Error(`tflite int8: no calibration range for '${m.tensors[i].name}'`);
    return r;
  };
  const q8 = new Map<number, number>(); // original tensor -> its int8 version where the original stays float
  const [input] = m.inputs;
  const inParams = { scale: 1 / 255, zeroPoint: -128 }; // images / 255 in [0, 1]
  if (o.mode === 'full_integer') setInt8(input, inParams);
  else {
    const qi = add({ name: `${m.tensors[input].name}_int8`, shape: m.tensors[input].shape, type: TensorType.INT8 });
    setInt8(qi, inParams);
    ops.push({
      op: 'QUANTIZE',
      inputs: [input],
      outputs: [qi],
      options: { type: 'QuantizeOptions', fields: table([]) },
      version: 2,
    });
    q8.set(input, qi);
  }
  /** an int8 constant (asymmetric, its own range) for elementwise operands */
  const constInt8 = (data: Float32Array, t: TflTensor) => {
    let lo = 0,
      hi = 0;
    for (const v of data) ((lo = Math.min(lo, v)), (hi = Math.max(hi, v)));
    const p = activationParams({ min: lo, max: hi });
    const q = Int8Array.from(data, (v) => Math.max(-128, Math.min(127, Math.round(v / p.scale) + p.zeroPoint)));
    return add({
      name: `${t.name}_int8`,
      shape: t.shape,
      type: TensorType.INT8,
      data: bytesOf(q),
      quant: { scale: [p.scale], zeroPoint: [p.zeroPoint] },
    });
  };
  const int8In = (i: number) => q8.get(i) ?? i;
  const deq = new Map<number, number>();
  const floatIn = (i: number) => {
    if (isConst(i) || !params.has(int8In(i))) return i;
    let f = deq.get(i);
    if (f === undefined) {
      f = add({ name: `${m.tensors[i].name}_dequant`, shape: m.tensors[i].shape, type: TensorType.FLOAT32 });
      ops.push({
        op: 'DEQUANTIZE',
        inputs: [int8In(i)],
        outputs: [f],
        options: { type: 'DequantizeOptions', fields: table([]) },
        version: 2,
      });
      deq.set(i, f);
    }
    return f;
  };
  const requant = (i: number, p: { scale: number; zeroPoint: number }) => {
    const src = params.get(i)!;
    if (Math.abs(src.scale - p.scale) <= 1e-9 * p.scale && src.zeroPoint === p.zeroPoint) return i;
    const r = add({ name: `${tensors[i].name}_requant`, shape: tensors[i].shape, type: TensorType.INT8 });
    setInt8(r, p);
    ops.push({
      op: 'QUANTIZE',
      inputs: [i],
      outputs: [r],
      options: { type: 'QuantizeOptions', fields: table([]) },
      version: 2,
    });
    return r;
  };

  for (const op of m.ops) {
    if (tail.has(op)) {
      ops.push({ ...op, inputs: op.inputs.map(floatIn) });
      continue;
    }
    const [y] = op.outputs;
    let ins = op.inputs.map((i) => (isConst(i) ? i : int8In(i)));
    let kind: OpName = op.op,
      options = op.options;
    switch (op.op) {
      case 'CONV_2D': {
        const x = ins[0],
          { id: w, scales } = quantFilter(op.inputs[1], !!o.perChannel);
        const sIn = params.get(x)!.scale,
          b = f32(m.tensors[op.inputs[2]]);
        const bq = Int32Array.from(b, (v, c) => Math.round(v / (sIn * scales[c])));
        const bs = scales.map((s) => sIn * s);
        const bias = add({
          // per-channel only with per-channel filters (XNNPack reads a per-channel bias as a per-channel conv)
          name: `${m.tensors[op.inputs[2]].name}_int32`,
          shape: [b.length],
          type: TensorType.INT32,
          data: bytesOf(bq),
          quant: o.perChannel ? { scale: bs, zeroPoint: bs.map(() => 0), dim: 0 } : { scale: [bs[0]], zeroPoint: [0] },
        });
        ins = [x, w, bias];
        setInt8(y, activationParams(rangeOf(y)));
        break;
      }
      case 'LOGISTIC':
      case 'SOFTMAX':
        setInt8(y, { scale: 1 / 256, zeroPoint: -128 });
        break;
      case 'DIV': {
        if (!isConst(op.inputs[1]))
          throw new Error(`tflite int8: DIV by a tensor ('${m.tensors[op.inputs[1]].name}') has no int8 kernel`);
        const c = f32(m.tensors[op.inputs[1]]).map((v) => 1 / v);
        ins = [ins[0], constInt8(c, m.tensors[op.inputs[1]])];
        kind = 'MUL';
        options = none('MulOptions');
        setInt8(y, activationParams(rangeOf(y)));
        break;
      }
      case 'ADD':
      case 'SUB':
      case 'MUL':
        ins = op.inputs.map((i) => (isConst(i) ? constInt8(f32(m.tensors[i]), m.tensors[i]) : int8In(i)));
        setInt8(y, activationParams(rangeOf(y)));
        break;
      case 'CONCATENATION': {
        const p = activationParams(rangeOf(y));
        setInt8(y, p);
        ins = ins.map((i) => requant(i, p));
        break;
      }
      default:
        if (!SAME_PARAMS.has(op.op)) throw new Error(`tflite int8: no int8 rule for ${op.op}`);
        setInt8(y, params.get(ins[0])!);
    }
    ops.push({ op: kind, inputs: ins, outputs: op.outputs, options, version: INT8_VERSION[kind] ?? 1 });
  }
  // integer mode: the output float (a DEQUANTIZE if the last op is int8)
  let outputs = m.outputs;
  if (o.mode === 'integer') outputs = m.outputs.map((i) => floatIn(i));
  return prune({ ...m, tensors, ops, outputs });
}

/** Drops the tensors no op reads or writes (the float filters that were quantized), renumbering the rest. */
function prune(m: TflModel): TflModel {
  const used = new Set<number>([...m.inputs, ...m.outputs]);
  for (const op of m.ops) for (const i of [...op.inputs, ...op.outputs]) if (i >= 0) used.add(i);
  const id = new Map<number, number>(),
    tensors: TflTensor[] = [];
  m.tensors.forEach((t, i) => {
    if (used.has(i)) id.set(i, tensors.push(t) - 1);
  });
  const map = (i: number) => (i < 0 ? i : id.get(i)!);
  return {
    ...m,
    tensors,
    ops: m.ops.map((op) => ({ ...op, inputs: op.inputs.map(map), outputs: op.outputs.map(map) })),
    inputs: m.inputs.map(map),
    outputs: m.outputs.map(map),
  };
}
