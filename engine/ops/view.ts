// Views: new shape/strides/offset over the same storage, no kernel launched (except reshape of a
// non-contiguous tensor, which copies first). Each backward is the inverse view.
import { Tensor } from '../tensor.js';
import {
  broadcastShapes,
  broadcastStrides,
  fmt,
  inferReshape,
  isContiguous,
  normAxis,
  sameShape,
  contiguousStrides,
} from '../shape.js';
import { record } from '../autograd.js';
import { assign, contiguous } from './elementwise.js';
import { sumTo } from './reduce.js';
import { zeros } from './create.js';
import { metaOp } from '../graph/hook.js';

function view(x: Tensor, shape: number[], strides: number[], offset: number) {
  x.assertAlive('view');
  return new Tensor(x.storage, shape, strides, offset);
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferReshape('reshape', x.shape, shape);
  if (sameShape(target, x.shape)) return x;
  if (x.device.type === 'meta')
    return metaOp('reshape', [x], { shape: target }, view(x, target, contiguousStrides(target), 0));
  const src = isContiguous(x.shape, x.strides) ? x : contiguous(x);
  const out = view(src, target, contiguousStrides(target), src.offset);
  return record(out, 'reshape', [src], (g) => [reshape(g, src.shape)]);
}

export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normAxis('flatten', start, x.ndim),
    e = normAxis('flatten', end, x.ndim);
  if (s > e) throw new Error(`flatten: start axis ${start} is after end axis ${end} for shape ${fmt(x.shape)}`);
  const mid = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
}

export function permute(x: Tensor, axes: readonly number[]): Tensor {
  if (axes.length !== x.ndim)
    throw new Error(`permute: ${axes.length} axes given for a tensor of shape ${fmt(x.shape)}`);
  const ax = axes.map((a) => normAxis('permute', a, x.ndim));
  if (new Set(ax).size !== ax.length) throw new Error(`permute: axes [${axes}] repeat an axis`);
  const out = view(
    x,
    ax.map((a) => x.shape[a]),
    ax.map((a) => x.strides[a]),
    x.offset,
  );
  if (x.device.type === 'meta') return metaOp('permute', [x], { axes: ax }, out);
  const inverse = ax.map((_, i) => ax.indexOf(i));
  return record(out, 'permute', [x], (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, a: number, b: number): Tensor {
  const ax = [...x.shape.keys()];
  const i = normAxis('transpose', a, x.ndim),
    j = normAxis('transpose', b, x.ndim);
  [ax[i], ax[j]] = [ax[j], ax[i]];
  return permute(x, ax);
}

/** Elements [start, start + length) along an axis. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis('narrow', axis, x.ndim);
  if (start < 0) start += x.shape[a];
  if (start < 0 || length < 0 || start + length > x.shape[a])
    throw new Error(`narrow: [${start}, ${start + length}) is out of range for axis ${axis} of shape ${fmt(x.shape)}`);
  const shape = [...x.shape];
  shape[a] = length;
  const out = view(x, shape, [...x.strides], x.offset + start * x.strides[a]);
  if (x.device.type === 'meta') return metaOp('narrow', [x], { axis: a, start, length }, out);
  return record(out, 'narrow', [x], (g) => {
    const gx = zeros(x.shape, { dtype: g.dtype, device: g.device });
    assign(narrow(gx, a, start, length), g);
    return [gx];
  });
}

/** Python-style slice along one axis: start:end:step (negative start/end count from the end). */
export function slice(x: Tensor, axis: number, start = 0, end?: number, step = 1): Tensor {
  const a = normAxis('slice', axis, x.ndim),
    n = x.shape[a];
  if (step < 1 || !Number.isInteger(step)) throw new Error(`slice: step must be a positive integer, got ${step}`);
  const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s = clampIdx(start),
    e = clampIdx(end ?? n);
  const len = Math.max(0, Math.ceil((e - s) / step));
  if (step === 1) return narrow(x, a, s, len);
  const shape = [...x.shape],
    strides = [...x.strides];
  shape[a] = len;
  strides[a] *= step;
  const out = view(x, shape, strides, x.offset + s * x.strides[a]);
  if (x.device.type === 'meta') return metaOp('slice', [x], { axis: a, start: s, end: e, step }, out);
  return record(out, 'slice', [x], (g) => {
    const gx = zeros(x.shape, { dtype: g.dtype, device: g.device });
    assign(slice(gx, a, s, e, step), g);
    return [gx];
  });
}

/** Broadcasts to `shape` (-1 keeps a dimension) without copying: expanded axes get stride 0. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.ndim;
  const target = shape.map((d, i) => (d === -1 ? x.shape[i - lead] : d));
  if (lead < 0 || !sameShape(broadcastShapes('expand', x.shape, target), target))
    throw new Error(`expand: cannot expand shape ${fmt(x.shape)} to ${fmt(shape)}`);
  if (sameShape(target, x.shape)) return x;
  const out = view(x, target, broadcastStrides(x.shape, x.strides, target), x.offset);
  if (x.device.type === 'meta') return metaOp('expand', [x], { shape: target }, out);
  return record(out, 'expand', [x], (g) => [sumTo(g, x.shape)]);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined)
    return reshape(
      x,
      x.shape.filter((d) => d !== 1),
    );
  const a = normAxis('squeeze', axis, x.ndim);
  if (x.shape[a] !== 1) return x;
  return reshape(
    x,
    x.shape.filter((_, i) => i !== a),
  );
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis('unsqueeze', axis, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}
