// torch.gather along one axis, plus the index checks that gather, scatterAdd and indexSelect share.
// Kernel: shaders/gather.wgsl (also used by indexSelect, with an expanded index view).
import { Tensor } from '../tensor.js';
import { metaOp } from '../graph/hook.js';
import { fmt, normAxis, stridedIndices } from '../shape.js';
import { record } from '../autograd.js';
import { onHost, type WebGPUDevice } from '../device.js';
import { zeros } from './create.js';
import { scatterAddInto } from './scatter_add.js';
import { gatherWasm } from '../backends/wasm/ops_index.js';

const MAX_RANK = 8; // the kernels' Params hold 8 dimensions

/**
 * out[..., i, ...] = x[..., index[..., i, ...], ...] along `axis` (torch.gather).
 * index: i32 with x's rank and index.shape[d] <= x.shape[d] for d != axis; out has index's shape.
 * On cpu an out-of-range index throws; on webgpu it reads as 0 (checking would need a readback).
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const ax = checkIndexed('gather', x, axis, index);
  const out = gatherRaw('gather', x, ax, index);
  // Each x element receives the sum of the output gradients that read it.
  return record(out, 'gather', [x], (g) => [
    scatterAddInto('gather', zeros(x.shape, { dtype: g.dtype, device: g.device }), ax, index, g),
  ]);
}

/**
 * Checks shared by gather and scatterAdd (torch's rules): index is i32 with x's rank, fits x on
 * every axis but `axis`, and fits src (when given) on every axis. Returns the normalized axis.
 */
export function checkIndexed(op: string, x: Tensor, axis: number, index: Tensor, src?: Tensor): number {
  x.assertAlive(op);
  index.assertAlive(op);
  src?.assertAlive(op);
  const shapes = `x ${fmt(x.shape)}, index ${fmt(index.shape)}${src ? `, src ${fmt(src.shape)}` : ''}`;
  if (index.dtype !== 'i32') throw new Error(`${op}: index must be i32, got ${index.dtype} (${shapes})`);
  if (x.ndim === 0) throw new Error(`${op}: x must have at least one dimension (${shapes})`);
  if (x.ndim > MAX_RANK)
    throw new Error(`${op}: rank ${x.ndim} exceeds the kernel's ${MAX_RANK} dimensions (${shapes})`);
  if (index.ndim !== x.ndim) throw new Error(`${op}: index must have the same rank as x (${shapes})`);
  if (index.device !== x.device || (src && src.device !== x.device))
    throw new Error(`${op}: operands are on different devices (${shapes})`);
  const ax = normAxis(op, axis, x.ndim);
  for (let d = 0; d < x.ndim; d++)
    if (d !== ax && index.shape[d] > x.shape[d])
      throw new Error(`${op}: index is larger than x at axis ${d} (${shapes})`);
  if (src) {
    if (src.dtype !== x.dtype)
      throw new Error(`${op}: src dtype ${src.dtype} differs from x dtype ${x.dtype} (${shapes})`);
    if (src.ndim !== x.ndim) throw new Error(`${op}: src must have the same rank as x (${shapes})`);
    for (let d = 0; d < x.ndim; d++)
      if (index.shape[d] > src.shape[d]) throw new Error(`${op}: index is larger than src at axis ${d} (${shapes})`);
  }
  return ax;
}

/** Throws (cpu only) when an index value falls outside [0, dim). `values` are the index's values. */
export function checkIndexRange(
  op: string,
  values: ArrayLike<number>,
  dim: number,
  ax: number,
  x: Tensor,
  index: Tensor,
) {
  for (let i = 0; i < values.length; i++) {
    const j = values[i];
    if (j < 0 || j >= dim)
      throw new Error(
        `${op}: index ${j} is out of range for axis ${ax} of size ${dim} (x ${fmt(x.shape)}, index ${fmt(index.shape)})`,
      );
  }
}

/**
 * gather without checks of the shapes or the graph; `ax` is normalized. `index` may be any
 * strided (even expanded) view. `checkRange`: false when the caller already checked the values.
 */
export function gatherRaw(op: string, x: Tensor, ax: number, index: Tensor, checkRange = true): Tensor {
  const out = Tensor.empty(index.shape, x.dtype, x.device);
  if (x.device.type === 'meta') return metaOp('gather', [x, index], { axis: ax }, out);
  const n = index.numel;
  if (n === 0) return out;
  const dim = x.shape[ax];
  if (onHost(x.device)) {
    // wasm reads the index in place: no copy of it when the caller already checked its values
    if (x.device.type === 'wasm' && !checkRange && gatherWasm(x.device.wasm, x, ax, index, out)) return out;
    const j = index.dataSync(); // row-major over the index (= output) shape
    if (checkRange) checkIndexRange(op, j, dim, ax, x, index);
    if (x.device.type === 'wasm' && gatherWasm(x.device.wasm, x, ax, index, out)) return out; // one task per fibre
    // Offsets of x at the index's coordinates with the axis coordinate 0; the index adds j * stride.
    const st = [...x.strides];
    const axisStride = st[ax];
    st[ax] = 0;
    const at = stridedIndices(index.shape, st, x.offset);
    const a = x.storage.array!,
      o = out.storage.array!;
    for (let i = 0; i < n; i++) o[i] = a[(at ? at[i] : x.offset + i) + j[i] * axisStride];
  } else {
    const gpu = (x.device as WebGPUDevice).gpu;
    gpu.dispatch(
      { file: 'gather.wgsl' },
      { x: x.storage.buffer!, idx: index.storage.buffer!, out: out.storage.buffer! },
      {
        n,
        rank: x.ndim,
        axis: ax,
        dim,
        off_x: x.offset,
        off_idx: index.offset,
        shape: index.shape,
        st_x: x.strides,
        st_idx: index.strides,
      },
      gpu.grid1d(n, 256),
    );
  }
  return out;
}
