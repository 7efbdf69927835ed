// torch.topk: the k largest (or smallest) elements along an axis, sorted, with their indices.
// Ties go to the lower index first; NaN counts as larger than every number, as in torch.
// Kernel: shaders/topk.wgsl (one workgroup per row; see the cost note there).
import { Tensor } from '../tensor.js';
import { metaOp } from '../graph/hook.js';
import { fmt, normAxis, numel } from '../shape.js';
import { record } from '../autograd.js';
import { onHost, type WebGPUDevice } from '../device.js';
import { contiguous } from './elementwise.js';
import { zeros } from './create.js';
import { scatterAddInto } from './scatter_add.js';
import { topkWasm } from '../backends/wasm/ops_index.js';

/**
 * values, indices: x's shape with `axis` of length k. values are differentiable: the gradient of
 * each output goes back to the element it came from.
 */
export function topk(x: Tensor, k: number, axis = -1, largest = true): { values: Tensor; indices: Tensor } {
  x.assertAlive('topk');
  if (x.dtype === 'i32') throw new Error(`topk: expects a floating-point tensor, got i32 of shape ${fmt(x.shape)}`);
  if (x.ndim === 0) throw new Error('topk: x must have at least one dimension, got a 0-d tensor');
  const ax = normAxis('topk', axis, x.ndim);
  const r = x.shape[ax];
  if (!Number.isInteger(k) || k < 0 || k > r)
    throw new Error(`topk: k = ${k} is out of range for axis ${axis} of size ${r} (x shape ${fmt(x.shape)})`);
  const outShape = x.shape.map((d, i) => (i === ax ? k : d));
  const values = Tensor.empty(outShape, x.dtype, x.device);
  const indices = Tensor.empty(outShape, 'i32', x.device);
  if (x.device.type === 'meta')
    return (metaOp('topk', [x], { k, axis: ax, largest }, [values, indices]), { values, indices });
  const outer = numel(x.shape.slice(0, ax)),
    inner = numel(x.shape.slice(ax + 1));
  if (outer * k * inner > 0) {
    const src = contiguous(x);
    if (x.device.type === 'wasm' && topkWasm(x.device.wasm, src, values, indices, outer, r, inner, k, largest)) {
      // one task per row: insertion into the sorted list of k (the reference's order exactly)
    } else if (onHost(x.device))
      topkCpu(src.storage.array!, values.storage.array!, indices.storage.array!, outer, r, inner, k, largest);
    else {
      const gpu = (x.device as WebGPUDevice).gpu;
      const wg = r <= 64 ? 64 : 256; // short rows: fewer idle threads
      gpu.dispatch(
        { file: 'topk.wgsl', constants: { WG: wg, LARGEST: largest ? 1 : 0 } },
        { x: src.storage.buffer!, values: values.storage.buffer!, indices: indices.storage.buffer! },
        { outer, r, inner, k },
        gpu.grid1d(outer * inner, 1),
      );
    }
    if (src !== x) src.dispose();
  }
  record(values, 'topk', [x], (g) => [
    scatterAddInto('topk', zeros(x.shape, { dtype: g.dtype, device: g.device }), ax, indices, g),
  ]);
  return { values, indices };
}

/** The reference: per row, sort the positions by (value, index) in output order, keep k. */
function topkCpu(
  a: ArrayLike<number>,
  vals: { [i: number]: number },
  idx: { [i: number]: number },
  outer: number,
  r: number,
  inner: number,
  k: number,
  largest: boolean,
) {
  const order = new Int32Array(r);
  const row = new Float64Array(r);
  // larger(v, w): v comes first when largest; NaN above every number
  const sign = largest ? 1 : -1;
  const cmp = (i: number, j: number) => {
    const v = row[i],
      w = row[j];
    const nv = Number.isNaN(v),
      nw = Number.isNaN(w);
    if ((nv && nw) || v === w) return i - j;
    const larger = nv || nw ? nv : v > w;
    return larger ? -sign : sign;
  };
  for (let oo = 0; oo < outer; oo++) {
    for (let ii = 0; ii < inner; ii++) {
      const base = oo * r * inner + ii,
        outBase = oo * k * inner + ii;
      for (let i = 0; i < r; i++) ((row[i] = a[base + i * inner]), (order[i] = i));
      order.sort(cmp);
      for (let s = 0; s < k; s++) {
        vals[outBase + s * inner] = row[order[s]];
        idx[outBase + s * inner] = order[s];
      }
    }
  }
}
