// Reductions: sum, mean, max, min, argmax, argmin over any set of axes.
// Reduced axes that form one block of a contiguous tensor are read in place as (outer, r, inner);
// otherwise they are permuted to the end first.
import { Tensor } from '../tensor.js';
import { wgslType } from '../dtype.js';
import { fmt, normAxes, normAxis, numel } from '../shape.js';
import { record } from '../autograd.js';
import { onHost, type WebGPUDevice } from '../device.js';
import { sumWasm } from '../backends/wasm/ops_reduce.js';
import { extremumWasm } from '../backends/wasm/ops_index.js';
import { contiguous, eq, mul } from './elementwise.js';
import { expand, permute, reshape } from './view.js';
import { arange } from './create.js';
import { metaOp } from '../graph/hook.js';

type ReduceOp = 'sum' | 'max' | 'min';
const OP_CODE: Record<ReduceOp, number> = { sum: 0, max: 1, min: 2 };
const WIDE_ROWS = 256; // rows at least this long get a workgroup each

/** Keepdim shape of x with `axes` reduced to 1. */
function keptShape(shape: readonly number[], axes: number[]) {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/**
 * Reduces x over `axes`; returns values in keepdim shape (and argument indices along the single
 * reduced axis for max/min).
 */
function reduceRaw(
  name: string,
  x: Tensor,
  axes: number[],
  op: ReduceOp,
  scale: number,
): { values: Tensor; indices: Tensor | null } {
  x.assertAlive(name);
  if (x.dtype === 'i32' && op === 'sum') x = x.cast('f32');
  const kshape = keptShape(x.shape, axes);
  if (x.device.type === 'meta') {
    const values = Tensor.empty(kshape, x.dtype, x.device),
      indices = op === 'sum' ? null : Tensor.empty(kshape, 'i32', x.device);
    metaOp('reduce', [x], { op, axes, scale }, indices ? [values, indices] : values);
    return { values, indices };
  }
  // Permute reduced axes into one block at the end unless they already form a block.
  const sorted = [...axes].sort((a, b) => a - b);
  const isBlock = sorted.every((a, i) => i === 0 || a === sorted[i - 1] + 1);
  let src = x;
  let lo = sorted[0] ?? 0,
    hi = (sorted[sorted.length - 1] ?? -1) + 1;
  if (!isBlock) {
    const keepAxes = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    src = permute(x, [...keepAxes, ...sorted]);
    lo = keepAxes.length;
    hi = x.ndim;
  }
  src = contiguous(src);
  const outer = numel(src.shape.slice(0, lo)),
    r = numel(src.shape.slice(lo, hi)),
    inner = numel(src.shape.slice(hi));
  if (r === 0 && op !== 'sum')
    throw new Error(`${name}: cannot reduce an empty axis of a tensor of shape ${fmt(x.shape)}`);
  const values = Tensor.empty(kshape, x.dtype, x.device);
  const indices = op === 'sum' ? null : Tensor.empty(kshape, 'i32', x.device);
  if (x.device.type === 'wasm' && op === 'sum' && sumWasm(x.device.wasm, src, values, outer, r, inner, scale)) {
    // SIMD, threaded
  } else if (
    x.device.type === 'wasm' &&
    op !== 'sum' &&
    extremumWasm(x.device.wasm, src, values, indices!, outer, r, inner, op === 'min')
  ) {
    // max/min with positions: SIMD over columns, threaded over outer (the loop's rule exactly)
  } else if (onHost(x.device)) {
    const a = src.storage.array!,
      v = values.storage.array!,
      ix = indices?.storage.array;
    for (let o = 0; o < outer * inner; o++) {
      const oo = Math.floor(o / inner),
        ii = o % inner;
      let best = op === 'sum' ? 0 : a[oo * r * inner + ii],
        bi = 0;
      for (let k = op === 'sum' ? 0 : 1; k < r; k++) {
        const val = a[(oo * r + k) * inner + ii];
        if (op === 'sum') best += val;
        else if (op === 'max' ? val > best : val < best) ((best = val), (bi = k));
      }
      v[o] = op === 'sum' ? best * scale : best;
      if (ix) ix[o] = bi;
    }
  } else {
    const gpu = (x.device as WebGPUDevice).gpu;
    wgslType(x.dtype);
    if (x.dtype === 'i32') throw new Error(`${name}: i32 max/min is not supported on webgpu; cast to f32 first`);
    const wide = r >= WIDE_ROWS;
    const n = outer * inner;
    gpu.dispatch(
      { file: 'reduce.wgsl', entry: wide ? 'reduce_wide' : 'reduce_rows', constants: { OP: OP_CODE[op] } },
      { x: src.storage.buffer!, out: values.storage.buffer!, ...(indices && { idx: indices.storage.buffer! }) },
      { outer, r, inner, off: src.offset, scale },
      wide ? gpu.grid1d(n, 1) : gpu.grid1d(n, 64),
    );
  }
  if (src !== x) src.dispose();
  return { values, indices };
}

/** The raw reduction (keepdim shape, values scaled; indices for max/min): what a traced 'reduce' node replays. */
export function reduceKeepdim(
  x: Tensor,
  op: ReduceOp,
  axes: number[],
  scale = 1,
): { values: Tensor; indices: Tensor | null } {
  return reduceRaw(
    `reduce_${op}`,
    x,
    axes.map((a) => normAxis('reduce', a, x.ndim)),
    op,
    scale,
  );
}

function dropAxes(t: Tensor, axes: number[], keepdim: boolean) {
  return keepdim
    ? t
    : reshape(
        t,
        t.shape.filter((_, i) => !axes.includes(i)),
      );
}

/** Sum over axes (all when omitted). */
export function sum(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const ax = normAxes('sum', axes, x.ndim);
  const { values } = reduceRaw('sum', x, ax, 'sum', 1);
  const out = dropAxes(values, ax, keepdim);
  return record(out, 'sum', [x], (g) => [expand(reshape(g, values.shape), x.shape)]);
}

export function mean(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const ax = normAxes('mean', axes, x.ndim);
  const r = ax.reduce((a, i) => a * x.shape[i], 1);
  const { values } = reduceRaw('mean', x, ax, 'sum', 1 / r);
  const out = dropAxes(values, ax, keepdim);
  return record(out, 'mean', [x], (g) => [mul(expand(reshape(g, values.shape), x.shape), 1 / r)]);
}

function extremum(
  op: 'max' | 'min',
  x: Tensor,
  axis: number | undefined,
  keepdim: boolean,
  wantIndex: boolean,
): { values: Tensor; indices: Tensor | null } {
  if (axis === undefined) {
    const flat = reshape(x, [x.numel]);
    const r = extremum(op, flat, 0, false, wantIndex);
    return keepdim
      ? {
          values: reshape(
            r.values,
            x.shape.map(() => 1),
          ),
          indices: r.indices,
        }
      : r;
  }
  const ax = normAxis(op, axis, x.ndim);
  const { values, indices } = reduceRaw(op, x, [ax], op, 1);
  const out = dropAxes(values, [ax], keepdim);
  // The gradient goes to the first winning position, as torch.max(dim) does.
  record(out, op, [x], (g) => {
    const pos = reshape(
      arange(x.shape[ax], undefined, 1, { device: x.device }),
      x.shape.map((d, i) => (i === ax ? d : 1)),
    );
    const onehot = eq(pos, indices!);
    return [mul(onehot, reshape(g, values.shape))];
  });
  return { values: out, indices: dropAxes(indices!, [ax], keepdim) };
}

/** Maximum values along an axis (all elements when omitted). Use maxWithIndices for both. */
export const max = (x: Tensor, axis?: number, keepdim = false) => extremum('max', x, axis, keepdim, false).values;
export const min = (x: Tensor, axis?: number, keepdim = false) => extremum('min', x, axis, keepdim, false).values;
export const maxWithIndices = (x: Tensor, axis: number, keepdim = false) => extremum('max', x, axis, keepdim, true);
export const minWithIndices = (x: Tensor, axis: number, keepdim = false) => extremum('min', x, axis, keepdim, true);
export const argmax = (x: Tensor, axis?: number, keepdim = false) => extremum('max', x, axis, keepdim, true).indices!;
export const argmin = (x: Tensor, axis?: number, keepdim = false) => extremum('min', x, axis, keepdim, true).indices!;

/** Sums a broadcast gradient back down to `shape` (the inverse of broadcasting). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, [...shape]);
}
