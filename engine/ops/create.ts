// Creating tensors: from host data, constants, ranges and seeded random numbers.
import { Tensor } from '../tensor.js';
import { allocArray, arrayFrom, dtypeOf, type DType, type TypedArray } from '../dtype.js';
import { cpu, type Device, type WebGPUDevice } from '../device.js';
import { fmt, numel, type Shape } from '../shape.js';
import { random, randomNormal } from '../random.js';

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

/** A tensor holding `data` (row-major), shape defaulting to 1-D. */
export function tensor(data: ArrayLike<number> | TypedArray, shape?: Shape, opts: CreateOptions = {}): Tensor {
  const dtype = opts.dtype ?? (ArrayBuffer.isView(data) ? dtypeOf(data as TypedArray) : 'f32');
  const s = shape ? [...shape] : [data.length];
  if (numel(s) !== data.length)
    throw new Error(`tensor: ${data.length} values do not fill shape ${fmt(s)} (${numel(s)} elements)`);
  const device = opts.device ?? cpu; // as torch: cpu unless asked (getDevice() picks the run's device)
  const t = Tensor.uninitialized(s, dtype, device); // every element set or uploaded below
  if (device.type === 'cpu' || device.type === 'wasm') t.storage.array!.set(data);
  else if (device.type === 'meta')
    t.storage.array = arrayFrom(dtype, data); // a traced constant keeps its values
  else {
    const arr =
      ArrayBuffer.isView(data) && dtypeOf(data as TypedArray) === dtype ? (data as TypedArray) : arrayFrom(dtype, data);
    if (arr.length) (device as WebGPUDevice).gpu.upload(t.storage.buffer!, arr);
  }
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  const dtype = opts.dtype ?? 'f32';
  const device = opts.device ?? cpu;
  if (device.type === 'cpu' || device.type === 'wasm') {
    // straight into the tensor's own block (a memset on wasm), not a host array copied in after
    const t = Tensor.empty(shape, dtype, device);
    if (value !== 0) t.storage.array!.fill(value);
    if (opts.requiresGrad) t.requiresGrad = true;
    return t;
  }
  const data = allocArray(dtype, numel(shape));
  if (value !== 0) data.fill(value);
  return tensor(data, shape, { ...opts, dtype });
}

export const zeros = (shape: Shape, opts: CreateOptions = {}) => full(shape, 0, opts);
export const ones = (shape: Shape, opts: CreateOptions = {}) => full(shape, 1, opts);
export const zerosLike = (t: Tensor, opts: CreateOptions = {}) =>
  full(t.shape, 0, { dtype: t.dtype, device: t.device, ...opts });
export const onesLike = (t: Tensor, opts: CreateOptions = {}) =>
  full(t.shape, 1, { dtype: t.dtype, device: t.device, ...opts });
export const fullLike = (t: Tensor, v: number, opts: CreateOptions = {}) =>
  full(t.shape, v, { dtype: t.dtype, device: t.device, ...opts });

/** [start, end) in steps; `arange(n)` is 0..n-1. i32 unless a bound or the step is fractional. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new Error('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = opts.dtype ?? ([start, end, step].every(Number.isInteger) ? 'i32' : 'f32');
  const data = allocArray(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return tensor(data, [n], { ...opts, dtype });
}

/** Uniform [0, 1), from the seeded global generator (engine/random.ts). */
export function rand(shape: Shape, opts: CreateOptions = {}): Tensor {
  const data = allocArray(opts.dtype ?? 'f32', numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = random();
  return tensor(data, shape, opts);
}

/** Standard normal, from the seeded global generator. */
export function randn(shape: Shape, opts: CreateOptions = {}): Tensor {
  const data = allocArray(opts.dtype ?? 'f32', numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = randomNormal();
  return tensor(data, shape, opts);
}
