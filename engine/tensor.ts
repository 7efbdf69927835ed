// Tensor: a strided view (shape, strides, offset) of a Storage that lives on one device.
// Views share storage (reshape of contiguous data, permute, narrow, expand); ops that need
// contiguous input call `.contiguous()`. Reading values back is explicit and async: `await t.data()`.
import { allocArray, isFloat, type DType, type TypedArray } from './dtype.js';
import type { Device, WebGPUDevice } from './device.js';
import { contiguousStrides, fmt, isContiguous, numel, stridedIndices, type Shape } from './shape.js';
import { trackTensor, untrackTensor } from './memory.js';
import type { GradFn } from './autograd.js';
import { hostRead } from './graph/hook.js';
import * as ops from './ops/index.js';

/**
 * Memory of one tensor or of several views: a TypedArray on cpu, a GPUBuffer on webgpu, a block
 * [ptr, ptr + 4 * size) of the shared WebAssembly.Memory on wasm (with `array` a view over it, so
 * host loops read and write it in place).
 */
export class Storage {
  private refs = 0;
  constructor(
    readonly device: Device,
    readonly dtype: DType,
    /** capacity in elements */
    readonly size: number,
    public array: TypedArray | null,
    public buffer: GPUBuffer | null,
    /** wasm: byte offset of the block in the device's memory (-1 elsewhere) */
    public ptr = -1,
  ) {}

  /** `zero: false` (wasm) leaves a reused block as it was: only for outputs an op writes in full. */
  static alloc(device: Device, dtype: DType, size: number, zero = true): Storage {
    if (device.type === 'cpu') return new Storage(device, dtype, size, allocArray(dtype, size), null);
    if (device.type === 'meta') return new Storage(device, dtype, size, null, null); // shapes only
    if (dtype === 'f64')
      throw new Error(
        `f64 tensors exist only on the cpu device (${device.type === 'wasm' ? 'the wasm kernels are f32' : 'WGSL has no f64'})`,
      );
    if (device.type === 'wasm') {
      const ptr = device.wasm.alloc(Math.max(size, 1) * 4);
      const array = dtype === 'i32' ? device.wasm.i32(ptr, size) : device.wasm.f32(ptr, size);
      if (zero) device.wasm.zero(ptr, size * 4); // blocks are reused: zero them like the cpu device's fresh arrays
      return new Storage(device, dtype, size, array, null, ptr);
    }
    return new Storage(device, dtype, size, null, device.gpu.createBuffer(Math.max(size, 1) * 4));
  }

  retain() {
    this.refs++;
  }

  release() {
    if (--this.refs > 0) return;
    if (this.buffer) (this.device as WebGPUDevice).gpu.releaseBuffer(this.buffer);
    if (this.ptr >= 0 && this.device.type === 'wasm') this.device.wasm.free(this.ptr);
    this.ptr = -1;
    this.buffer = null;
    this.array = null;
  }

  get released() {
    return this.refs <= 0 && !this.array && !this.buffer;
  }
}

// Safety net: a GPU tensor that is garbage-collected without dispose() gives its memory back.
const finalizer = new FinalizationRegistry<Storage>((s) => s.release());

export class Tensor {
  readonly isTensor = true;
  /** set by ops on outputs of differentiable computations; null on leaves */
  gradFn: GradFn | null = null;
  grad: Tensor | null = null;
  private _requiresGrad = false;
  private disposed = false;

  constructor(
    readonly storage: Storage,
    readonly shape: readonly number[],
    readonly strides: readonly number[] = contiguousStrides(shape),
    readonly offset = 0,
  ) {
    storage.retain();
    trackTensor(this);
    if (storage.buffer || storage.ptr >= 0) finalizer.register(this, storage, this);
  }

  /** A new uninitialized contiguous tensor. */
  static empty(shape: Shape, dtype: DType, device: Device): Tensor {
    return new Tensor(Storage.alloc(device, dtype, numel(shape)), [...shape]);
  }

  /**
   * Like `empty`, without zeroing a reused wasm block (webgpu's pooled buffers are never zeroed
   * either): for an op's output that every path writes in full before anything reads it. Saves a
   * memset of every such output (most of a training step's bytes).
   */
  static uninitialized(shape: Shape, dtype: DType, device: Device): Tensor {
    return new Tensor(Storage.alloc(device, dtype, numel(shape), false), [...shape]);
  }

  get dtype(): DType {
    return this.storage.dtype;
  }
  get device(): Device {
    return this.storage.device;
  }
  get ndim() {
    return this.shape.length;
  }
  get numel() {
    return numel(this.shape);
  }
  get isContiguous() {
    return isContiguous(this.shape, this.strides);
  }
  get isDisposed() {
    return this.disposed;
  }

  get requiresGrad() {
    return this._requiresGrad;
  }
  set requiresGrad(v: boolean) {
    if (v && !isFloat(this.dtype))
      throw new Error(`requiresGrad: only floating-point tensors can require gradients, got ${this.dtype}`);
    this._requiresGrad = v;
  }

  /** Marks a leaf as requiring gradients (chainable, like torch's requires_grad_()). */
  requiresGrad_(v = true): this {
    this.requiresGrad = v;
    return this;
  }

  size(axis?: number): number | readonly number[] {
    return axis === undefined ? this.shape : this.shape[axis < 0 ? axis + this.ndim : axis];
  }

  // ---- host access --------------------------------------------------------------------------

  /** The values in row-major order of `shape`, as a fresh TypedArray. */
  data(): Promise<TypedArray> {
    if (this.device.type === 'meta' && !this.disposed) hostRead(this, 'data'); // throws now, inside a trace, not later
    return this.readData();
  }

  private async readData(): Promise<TypedArray> {
    this.assertAlive('data');
    if (this.device.type === 'cpu' || this.device.type === 'wasm') return this.readCpu();
    const src = this.isContiguous ? this : ops.contiguous(this);
    const bytes = await (this.device as WebGPUDevice).gpu.read(src.storage.buffer!, src.offset * 4, this.numel * 4);
    if (src !== this) src.dispose();
    return this.dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes);
  }

  /** Synchronous read, cpu and wasm devices only (the reference backend and tests use it). */
  dataSync(): TypedArray {
    this.assertAlive('dataSync');
    if (this.device.type === 'meta') hostRead(this, 'dataSync');
    if (this.device.type !== 'cpu' && this.device.type !== 'wasm')
      throw new Error('dataSync: only for cpu and wasm tensors; use `await t.data()` on webgpu');
    return this.readCpu();
  }

  private readCpu(): TypedArray {
    const src = this.storage.array!;
    const n = this.numel;
    const idx = stridedIndices(this.shape, this.strides, this.offset);
    if (!idx) return src.slice(this.offset, this.offset + n);
    const out = allocArray(this.dtype, n);
    for (let i = 0; i < n; i++) out[i] = src[idx[i]];
    return out;
  }

  /** The single value of a one-element tensor. */
  item(): Promise<number> {
    if (this.numel !== 1)
      throw new Error(`item: tensor of shape ${fmt(this.shape)} has ${this.numel} elements, expected 1`);
    return this.data().then((d) => d[0]);
  }

  /** Nested JS arrays, like torch's tolist(). */
  async tolist(): Promise<any> {
    const d = await this.data();
    const build = (axis: number, base: number): any => {
      if (axis === this.ndim) return d[base];
      const step = numel(this.shape.slice(axis + 1));
      return Array.from({ length: this.shape[axis] }, (_, i) => build(axis + 1, base + i * step));
    };
    return build(0, 0);
  }

  /** A copy on another device (gradients do not flow across). */
  async to(device: Device): Promise<Tensor> {
    if (device === this.device) return this;
    return ops.tensor(await this.data(), this.shape, { dtype: this.dtype, device });
  }

  // ---- lifetime -----------------------------------------------------------------------------

  /** Frees the memory now (views keep shared storage alive until they are disposed too). */
  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    untrackTensor(this);
    finalizer.unregister(this);
    const saved = this.gradFn?.saved;
    this.gradFn = null;
    this.storage.release();
    saved?.forEach((s) => s.dispose()); // this output's backward can no longer run
  }

  assertAlive(op: string) {
    if (this.disposed) throw new Error(`${op}: tensor of shape ${fmt(this.shape)} was already disposed`);
  }

  toString() {
    return `Tensor(shape=${fmt(this.shape)}, dtype=${this.dtype}, device=${this.device.type}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- autograd -----------------------------------------------------------------------------

  backward(grad?: Tensor) {
    ops.backward(this, grad);
  }

  /** Same storage, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.strides, this.offset);
  }

  // ---- methods that read like PyTorch; each is the op of the same name in engine/ops ----------

  add(o: Tensor | number) {
    return ops.add(this, o);
  }
  sub(o: Tensor | number) {
    return ops.sub(this, o);
  }
  mul(o: Tensor | number) {
    return ops.mul(this, o);
  }
  div(o: Tensor | number) {
    return ops.div(this, o);
  }
  pow(o: Tensor | number) {
    return ops.pow(this, o);
  }
  neg() {
    return ops.neg(this);
  }
  exp() {
    return ops.exp(this);
  }
  log() {
    return ops.log(this);
  }
  sqrt() {
    return ops.sqrt(this);
  }
  abs() {
    return ops.abs(this);
  }
  sigmoid() {
    return ops.sigmoid(this);
  }
  relu() {
    return ops.relu(this);
  }
  silu() {
    return ops.silu(this);
  }
  tanh() {
    return ops.tanh(this);
  }
  clamp(min?: number | null, max?: number | null) {
    return ops.clamp(this, min, max);
  }
  sum(axes?: number | number[], keepdim = false) {
    return ops.sum(this, axes, keepdim);
  }
  mean(axes?: number | number[], keepdim = false) {
    return ops.mean(this, axes, keepdim);
  }
  max(axis?: number, keepdim = false) {
    return ops.max(this, axis, keepdim);
  }
  min(axis?: number, keepdim = false) {
    return ops.min(this, axis, keepdim);
  }
  argmax(axis?: number, keepdim = false) {
    return ops.argmax(this, axis, keepdim);
  }
  reshape(...shape: number[] | [number[]]) {
    return ops.reshape(this, flatArgs(shape));
  }
  view(...shape: number[] | [number[]]) {
    return ops.reshape(this, flatArgs(shape));
  }
  permute(...axes: number[] | [number[]]) {
    return ops.permute(this, flatArgs(axes));
  }
  transpose(a = 0, b = 1) {
    return ops.transpose(this, a, b);
  }
  narrow(axis: number, start: number, length: number) {
    return ops.narrow(this, axis, start, length);
  }
  expand(...shape: number[] | [number[]]) {
    return ops.expand(this, flatArgs(shape));
  }
  squeeze(axis?: number) {
    return ops.squeeze(this, axis);
  }
  unsqueeze(axis: number) {
    return ops.unsqueeze(this, axis);
  }
  flatten(start = 0, end = -1) {
    return ops.flatten(this, start, end);
  }
  contiguous() {
    return ops.contiguous(this);
  }
  cast(dtype: DType) {
    return ops.cast(this, dtype);
  }
}

function flatArgs(a: number[] | [number[]]): number[] {
  return Array.isArray(a[0]) ? (a[0] as number[]) : (a as number[]);
}
