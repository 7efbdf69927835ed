// concat, split, chunk: joining tensors along an axis and cutting one into pieces.
// concat writes each input through a `narrow` view of the output with `assign` (the strided
// elementwise copy), so it needs no shader of its own; its gradient is the same narrow of the
// output gradient. split/chunk return `narrow` views (no copy), each with narrow's backward.
import { Tensor } from '../tensor.js';
import { promote } from '../dtype.js';
import { fmt, normAxis, numel } from '../shape.js';
import { record } from '../autograd.js';
import { assign, cast } from './elementwise.js';
import { narrow } from './view.js';
import { metaOp } from '../graph/hook.js';

/** Joins tensors along `axis` (torch.cat): every shape must match except along `axis`. */
export function concat(tensors: Tensor[], axis: number): Tensor {
  if (!tensors.length) throw new Error('concat: expected at least one tensor, got an empty list');
  const first = tensors[0];
  if (first.ndim === 0) throw new Error('concat: zero-dimensional tensors cannot be concatenated');
  const a = normAxis('concat', axis, first.ndim);
  const shapes = () => tensors.map((t) => fmt(t.shape)).join(', ');
  for (const t of tensors) {
    t.assertAlive('concat');
    if (t.device !== first.device)
      throw new Error(`concat: tensors are on different devices (${tensors.map((t) => t.device.type).join(', ')})`);
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== a && d !== first.shape[i]))
      throw new Error(`concat: shapes ${shapes()} must match except along axis ${axis}`);
  }
  // Like torch.cat, mixed dtypes promote (i32 + f32 → f32).
  const dtype = tensors.map((t) => t.dtype).reduce(promote);
  const sizes = tensors.map((t) => t.shape[a]);
  const shape = [...first.shape];
  shape[a] = sizes.reduce((s, d) => s + d, 0);
  const out = Tensor.uninitialized(shape, dtype, first.device); // (..., sum of sizes, ...); the parts tile it
  if (first.device.type === 'meta') return metaOp('concat', tensors, { axis: a }, out);
  // Seen as (outer, total * inner), each contiguous input is a (outer, len * inner) block: the
  // copy then runs at rank 2, with far less index arithmetic than at the tensor's own rank.
  const outer = numel(shape.slice(0, a)),
    inner = numel(shape.slice(a + 1));
  const flat = new Tensor(out.storage, [outer, shape[a] * inner]);
  let start = 0;
  for (const t of tensors) {
    const len = t.shape[a];
    if (len > 0) {
      const src = cast(t, dtype);
      const [from, to] = src.isContiguous
        ? [
            new Tensor(src.storage, [outer, len * inner], [len * inner, 1], src.offset),
            narrowView(flat, start * inner, len * inner),
          ]
        : [src, narrowView(out, start, len, a)];
      assign(to, from);
      for (const v of [from, to, src]) if (v !== t) v.dispose();
    }
    start += len;
  }
  flat.dispose();
  const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((s, d) => s + d, 0));
  return record(out, 'concat', tensors, (g) =>
    tensors.map((t, i) => (t.requiresGrad ? narrow(g, a, starts[i], sizes[i]) : null)),
  );
}

/** A raw view of elements [start, start + len) along `axis` (no autograd: it is only written). */
function narrowView(x: Tensor, start: number, len: number, axis = 1): Tensor {
  const shape = [...x.shape];
  shape[axis] = len;
  return new Tensor(x.storage, shape, x.strides, x.offset + start * x.strides[axis]);
}

/**
 * Cuts x along `axis` (torch.split): a number is the size of every piece (the last may be
 * smaller); a list gives each piece's size and must add up to the axis length.
 * The pieces are views of x.
 */
export function split(x: Tensor, sizes: number | number[], axis: number): Tensor[] {
  x.assertAlive('split');
  const a = normAxis('split', axis, x.ndim);
  const n = x.shape[a];
  let list: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes < 0 || (sizes === 0 && n > 0))
      throw new Error(
        `split: piece size must be a positive integer, got ${sizes} for axis ${axis} of shape ${fmt(x.shape)}`,
      );
    list = [];
    for (let s = 0; s < n; s += sizes) list.push(Math.min(sizes, n - s));
    if (n === 0) list.push(0);
  } else {
    const total = sizes.reduce((s, d) => s + d, 0);
    if (sizes.some((d) => !Number.isInteger(d) || d < 0) || total !== n)
      throw new Error(
        `split: sizes [${sizes.join(', ')}] must be non-negative integers adding up to ${n} (axis ${axis} of shape ${fmt(x.shape)})`,
      );
    list = sizes;
  }
  const out: Tensor[] = [];
  let start = 0;
  for (const len of list) {
    out.push(narrow(x, a, start, len));
    start += len;
  }
  return out;
}

/**
 * Cuts x into `chunks` pieces along `axis` (torch.chunk): each of size ceil(n / chunks), the last
 * smaller, so there may be fewer than `chunks` pieces. The pieces are views of x.
 */
export function chunk(x: Tensor, chunks: number, axis: number): Tensor[] {
  if (!Number.isInteger(chunks) || chunks < 1)
    throw new Error(`chunk: chunks must be a positive integer, got ${chunks}`);
  const a = normAxis('chunk', axis, x.ndim);
  return split(x, Math.max(1, Math.ceil(x.shape[a] / chunks)), a);
}
