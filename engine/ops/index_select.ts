// torch.index_select: whole slices of x picked along one axis by a 1-D i32 index.
// No kernel of its own: the 1-D index is viewed (not copied) as an index of the output's shape,
// with stride 0 on every other axis, and handed to the gather kernel; the backward is the
// matching scatterAdd (an index_add into zeros).
import type { Tensor } from '../tensor.js';
import { fmt, normAxis } from '../shape.js';
import { record } from '../autograd.js';
import { zeros } from './create.js';
import { expand, reshape } from './view.js';
import { checkIndexRange, gatherRaw } from './gather.js';
import { scatterAddInto } from './scatter_add.js';

/**
 * out = x with `axis` replaced by index.length: out[..., i, ...] = x[..., index[i], ...].
 * On cpu an out-of-range index throws; on webgpu it reads as 0 (checking would need a readback).
 */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  x.assertAlive('indexSelect');
  index.assertAlive('indexSelect');
  const shapes = `x ${fmt(x.shape)}, index ${fmt(index.shape)}`;
  if (index.dtype !== 'i32') throw new Error(`indexSelect: index must be i32, got ${index.dtype} (${shapes})`);
  if (index.ndim > 1) throw new Error(`indexSelect: index must be 1-D (${shapes})`);
  if (x.ndim === 0) throw new Error(`indexSelect: x must have at least one dimension (${shapes})`);
  if (index.device !== x.device) throw new Error(`indexSelect: operands are on different devices (${shapes})`);
  const ax = normAxis('indexSelect', axis, x.ndim);
  if (x.device.type === 'cpu' || x.device.type === 'wasm')
    checkIndexRange('indexSelect', index.dataSync(), x.shape[ax], ax, x, index);
  const n = index.numel;
  const outShape = x.shape.map((d, i) => (i === ax ? n : d));
  // (n) → (1, .., n, .., 1) → outShape with stride 0 on the other axes
  const spread = expand(
    reshape(
      index,
      x.shape.map((_, i) => (i === ax ? n : 1)),
    ),
    outShape,
  );
  const out = gatherRaw('indexSelect', x, ax, spread, false);
  return record(out, 'indexSelect', [x], (g) => [
    scatterAddInto('indexSelect', zeros(x.shape, { dtype: g.dtype, device: g.device }), ax, spread, g),
  ]);
}
