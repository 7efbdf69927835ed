// torch.Tensor.scatter_add, out of place: a copy of x with src added at the positions the index
// names along one axis. Kernel: shaders/scatter_add.wgsl (atomic adds: colliding writes on webgpu
// sum in an unspecified order, so f32 results may differ from cpu in the last bits).
import { Tensor } from '../tensor.js';
import { contiguousStrides, sameShape, stridedIndices } from '../shape.js';
import { record } from '../autograd.js';
import { onHost, type WebGPUDevice } from '../device.js';
import { assign, pointwise } from './elementwise.js';
import { narrow } from './view.js';
import { zeros } from './create.js';
import { checkIndexed, checkIndexRange, gatherRaw } from './gather.js';
import { scatterAddWasm } from '../backends/wasm/ops_index.js';

/**
 * x + scatter: out[..., index[..., i, ...], ...] += src[..., i, ...] along `axis`, for every
 * position of the index. index: i32 with x's rank, no larger than src on any axis and no larger
 * than x except along `axis`. Differentiable w.r.t. x and src.
 * On cpu an out-of-range index throws; on webgpu it is skipped (checking would need a readback).
 */
export function scatterAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const ax = checkIndexed('scatterAdd', x, axis, index, src);
  const out = scatterAddRaw('scatterAdd', x, ax, index, src);
  return record(out, 'scatterAdd', [x, src], (g) => [
    x.requiresGrad ? g : null,
    // Each used src element went to exactly one output element: read its gradient back from there.
    src.requiresGrad ? srcGrad(g, ax, index, src.shape) : null,
  ]);
}

/** (src shape) gradient: g gathered at the index, zero where src is larger than the index. */
function srcGrad(g: Tensor, ax: number, index: Tensor, srcShape: readonly number[]): Tensor {
  const picked = gatherRaw('scatterAdd', g, ax, index, false);
  if (sameShape(picked.shape, srcShape)) return picked;
  const full = zeros(srcShape, { dtype: g.dtype, device: g.device });
  const corner = index.shape.reduce((v: Tensor, len, d) => narrow(v, d, 0, len), full);
  assign(corner, picked);
  return full;
}

/** scatterAdd without checks of the shapes or the graph; `ax` is normalized. Returns a new tensor. */
export function scatterAddRaw(op: string, x: Tensor, ax: number, index: Tensor, src: Tensor): Tensor {
  return scatterAddInto(op, pointwise('identity', [x]), ax, index, src); // into a contiguous copy of x
}

/**
 * Adds src into `out` in place and returns it; `out` must be a fresh contiguous tensor (offset 0)
 * that nothing else reads yet. Backwards pass zeros here, which saves scatterAdd's copy of x.
 */
export function scatterAddInto(op: string, out: Tensor, ax: number, index: Tensor, src: Tensor): Tensor {
  const n = index.numel;
  if (n === 0) return out;
  const dim = out.shape[ax];
  // Offsets into out at the index's coordinates with the axis coordinate 0; the index adds j * stride.
  const st = contiguousStrides(out.shape);
  if (onHost(out.device)) {
    const j = index.dataSync(); // row-major over the index shape
    checkIndexRange(op, j, dim, ax, out, index);
    // wasm: one task per fibre along the axis (the adds into one element all come from one fibre, in cpu order)
    if (out.device.type === 'wasm' && scatterAddWasm(out.device.wasm, out, ax, index, src)) return out;
    const axisStride = st[ax];
    st[ax] = 0;
    const at = stridedIndices(index.shape, st, 0);
    const from = stridedIndices(index.shape, src.strides, src.offset);
    const s = src.storage.array!,
      o = out.storage.array!;
    for (let i = 0; i < n; i++) o[(at ? at[i] : i) + j[i] * axisStride] += s[from ? from[i] : src.offset + i];
  } else {
    const gpu = (out.device as WebGPUDevice).gpu;
    gpu.dispatch(
      { file: 'scatter_add.wgsl', constants: { IS_INT: out.dtype === 'i32' ? 1 : 0 } },
      { idx: index.storage.buffer!, src: src.storage.buffer!, out: out.storage.buffer! },
      {
        n,
        rank: out.ndim,
        axis: ax,
        dim,
        off_idx: index.offset,
        off_src: src.offset,
        shape: index.shape,
        st_out: st,
        st_idx: index.strides,
        st_src: src.strides,
      },
      gpu.grid1d(n, 256),
    );
  }
  return out;
}
