// Where a value lies inside a planned buffer: a strided view (shape, strides, offset in elements),
// as a Tensor is. The compiled forward (compile_plan.ts) works out every value's view without
// running anything: views of views, a concat's inputs as slices of its output.
import { contiguousStrides } from '../shape.js';

export interface Layout {
  shape: number[];
  strides: number[];
  offset: number;
}

export const contiguousLayout = (shape: readonly number[], offset = 0): Layout => ({
  shape: [...shape],
  strides: contiguousStrides(shape),
  offset,
});

export function isContiguousLayout(l: Layout): boolean {
  const c = contiguousStrides(l.shape);
  return l.shape.every((d, i) => d === 1 || l.strides[i] === c[i]);
}

export function narrowLayout(l: Layout, axis: number, start: number, length: number): Layout {
  const shape = [...l.shape];
  shape[axis] = length;
  return { shape, strides: [...l.strides], offset: l.offset + start * l.strides[axis] };
}

export function sliceLayout(l: Layout, axis: number, start: number, end: number, step: number): Layout {
  const shape = [...l.shape],
    strides = [...l.strides];
  shape[axis] = Math.max(0, Math.ceil((end - start) / step));
  strides[axis] *= step;
  return { shape, strides, offset: l.offset + start * l.strides[axis] };
}

export function permuteLayout(l: Layout, axes: readonly number[]): Layout {
  return { shape: axes.map((a) => l.shape[a]), strides: axes.map((a) => l.strides[a]), offset: l.offset };
}

/** Broadcast to `shape` (new leading axes and size-1 axes read stride 0). */
export function expandLayout(l: Layout, shape: readonly number[]): Layout {
  const lead = shape.length - l.shape.length;
  const strides = shape.map((d, i) => (i < lead ? 0 : l.shape[i - lead] === d ? l.strides[i - lead] : 0));
  return { shape: [...shape], strides, offset: l.offset };
}

/**
 * The same elements seen with a new shape, without moving them, when the strides allow it (as
 * torch's view: each run of old axes merged into, or split from, new axes must be contiguous among
 * itself); null when a copy is needed.
 */
export function reshapeLayout(l: Layout, shape: readonly number[]): Layout | null {
  if (isContiguousLayout(l)) return contiguousLayout(shape, l.offset);
  if (l.shape.includes(0) || shape.includes(0)) return null;
  const old = l.shape.map((d, i) => ({ d, s: l.strides[i] })).filter((o) => o.d !== 1);
  const strides: number[] = new Array(shape.length).fill(1);
  let oi = 0,
    ni = 0;
  for (;;) {
    while (ni < shape.length && shape[ni] === 1) ni++; // size-1 axes: any stride
    if (ni === shape.length || oi === old.length) break;
    // the smallest run of old axes [oi, oj) and new axes [ni, nj) with equal products
    let oj = oi + 1,
      nj = ni + 1,
      op = old[oi].d,
      np = shape[ni];
    while (op !== np) {
      if (op < np) {
        if (oj === old.length || old[oj - 1].s !== old[oj].d * old[oj].s) return null; // not contiguous among itself
        op *= old[oj++].d;
      } else {
        if (nj === shape.length) return null;
        np *= shape[nj++];
      }
    }
    let stride = old[oj - 1].s;
    for (let k = nj - 1; k >= ni; k--) {
      strides[k] = stride;
      stride *= shape[k];
    }
    oi = oj;
    ni = nj;
  }
  while (ni < shape.length && shape[ni] === 1) ni++;
  if (oi !== old.length || ni !== shape.length) return null;
  // size-1 axes: the stride a contiguous run would give them (keeps batch strides 4-aligned for the GEMM)
  for (let k = shape.length - 1; k >= 0; k--)
    if (shape[k] === 1) strides[k] = k + 1 < shape.length ? strides[k + 1] * shape[k + 1] : 1;
  return { shape: [...shape], strides, offset: l.offset };
}

/** The element offsets a layout covers, as [first, last] (for the overlap checks in tests). */
export function layoutSpan(l: Layout): [number, number] {
  let hi = l.offset;
  for (let i = 0; i < l.shape.length; i++) if (l.shape[i] > 0) hi += (l.shape[i] - 1) * l.strides[i];
  return [l.offset, hi];
}
