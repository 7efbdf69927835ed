// Pointwise ops as one table: a row is name, WGSL expression, CPU lambda and gradient.
// One kernel (shaders/elementwise.wgsl) runs them all over strided, broadcast operands.
import { Tensor } from '../tensor.js';
import { promote, wgslType, type DType } from '../dtype.js';
import {
  broadcastShapes,
  broadcastStrides,
  contiguousStrides,
  fmt,
  isContiguous,
  numel,
  stridedIndices,
  sameShape,
} from '../shape.js';
import { record } from '../autograd.js';
import type { WebGPUDevice } from '../device.js';
import { pointwiseWasm } from '../backends/wasm/ops_elementwise.js';
import { pointwiseStridedWasm } from '../backends/wasm/ops_strided.js';
import { sumTo } from './reduce.js';
import { full, zerosLike } from './create.js';
import { metaOp } from '../graph/hook.js';
import { roundHalfEven } from '../math.js';

type Grad1 = (x: Tensor, y: Tensor, g: Tensor, alpha: number, beta: number) => Tensor;
type Grad2 = (a: Tensor, b: Tensor, y: Tensor, g: Tensor) => [Tensor | null, Tensor | null];

export interface Row {
  wgsl: string; // expression of x, y, z, p.alpha, p.beta
  cpu: (x: number, y: number, z: number, alpha: number, beta: number) => number;
  /** output dtype: 'same' as the promoted input, or fixed ('f32' for masks; f64 stays f64) */
  out?: 'same' | 'mask' | DType;
}

const sigm = (v: number) => 1 / (1 + Math.exp(-v));
const mask = (c: boolean) => (c ? 1 : 0);

// ---- the table -------------------------------------------------------------------------------

const UNARY = {
  identity: { wgsl: 'x', cpu: (x) => x },
  neg: { wgsl: '-x', cpu: (x) => -x },
  exp: { wgsl: 'exp(x)', cpu: Math.exp },
  log: { wgsl: 'log(x)', cpu: Math.log },
  sqrt: { wgsl: 'sqrt(x)', cpu: Math.sqrt },
  abs: { wgsl: 'abs(x)', cpu: Math.abs },
  sign: { wgsl: 'sign(x)', cpu: Math.sign },
  floor: { wgsl: 'floor(x)', cpu: Math.floor },
  ceil: { wgsl: 'ceil(x)', cpu: Math.ceil },
  round: { wgsl: 'round(x)', cpu: (x) => roundHalfEven(x) }, // WGSL and torch round half to even
  reciprocal: { wgsl: '1.0 / x', cpu: (x) => 1 / x },
  sigmoid: { wgsl: '1.0 / (1.0 + exp(-x))', cpu: sigm },
  relu: { wgsl: 'max(x, 0.0)', cpu: (x) => Math.max(x, 0) },
  silu: { wgsl: 'x / (1.0 + exp(-x))', cpu: (x) => x * sigm(x) },
  tanh: { wgsl: 'tanh(x)', cpu: Math.tanh },
  atan: { wgsl: 'atan(x)', cpu: Math.atan },
  sin: { wgsl: 'sin(x)', cpu: Math.sin },
  cos: { wgsl: 'cos(x)', cpu: Math.cos },
  // log(1 + exp(x)) without overflow
  softplus: {
    wgsl: 'max(x, 0.0) + log(1.0 + exp(-abs(x)))',
    cpu: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
  },
  clamp: { wgsl: 'min(max(x, p.alpha), p.beta)', cpu: (x, _y, _z, lo, hi) => Math.min(Math.max(x, lo), hi) },
  add_scalar: { wgsl: 'x + p.alpha', cpu: (x, _y, _z, a) => x + a },
  mul_scalar: { wgsl: 'x * p.alpha', cpu: (x, _y, _z, a) => x * a },
  div_scalar: { wgsl: 'x / p.alpha', cpu: (x, _y, _z, a) => x / a },
  rsub_scalar: { wgsl: 'p.alpha - x', cpu: (x, _y, _z, a) => a - x },
  rdiv_scalar: { wgsl: 'p.alpha / x', cpu: (x, _y, _z, a) => a / x },
  pow_scalar: { wgsl: 'powf(x, p.alpha)', cpu: (x, _y, _z, a) => x ** a },
  cast: { wgsl: 'x', cpu: (x) => x }, // output dtype chosen by the caller; i32 casts truncate toward 0 like torch
  not: { wgsl: 'select(0.0, 1.0, x == 0.0)', cpu: (x) => mask(x === 0), out: 'mask' },
  isfinite: { wgsl: 'select(0.0, 1.0, abs(x) <= 3.40282346e38)', cpu: (x) => mask(Number.isFinite(x)), out: 'mask' },
} satisfies Record<string, Row>;

const BINARY = {
  add: { wgsl: 'x + y', cpu: (x, y) => x + y },
  sub: { wgsl: 'x - y', cpu: (x, y) => x - y },
  mul: { wgsl: 'x * y', cpu: (x, y) => x * y },
  div: { wgsl: 'x / y', cpu: (x, y) => x / y },
  pow: { wgsl: 'powf(x, y)', cpu: (x, y) => x ** y },
  maximum: { wgsl: 'max(x, y)', cpu: (x, y) => Math.max(x, y) },
  minimum: { wgsl: 'min(x, y)', cpu: (x, y) => Math.min(x, y) },
  eq: { wgsl: 'select(0.0, 1.0, x == y)', cpu: (x, y) => mask(x === y), out: 'mask' },
  ne: { wgsl: 'select(0.0, 1.0, x != y)', cpu: (x, y) => mask(x !== y), out: 'mask' },
  lt: { wgsl: 'select(0.0, 1.0, x < y)', cpu: (x, y) => mask(x < y), out: 'mask' },
  le: { wgsl: 'select(0.0, 1.0, x <= y)', cpu: (x, y) => mask(x <= y), out: 'mask' },
  gt: { wgsl: 'select(0.0, 1.0, x > y)', cpu: (x, y) => mask(x > y), out: 'mask' },
  ge: { wgsl: 'select(0.0, 1.0, x >= y)', cpu: (x, y) => mask(x >= y), out: 'mask' },
  // Fused backward rows: one dispatch instead of a chain (x = forward input or output, y = grad).
  sigmoid_backward: { wgsl: 'y * x * (1.0 - x)', cpu: (s, g) => g * s * (1 - s) },
  silu_backward: {
    wgsl: 'y * (1.0 / (1.0 + exp(-x))) * (1.0 + x * (1.0 - 1.0 / (1.0 + exp(-x))))',
    cpu: (x, g) => {
      const s = sigm(x);
      return g * s * (1 + x * (1 - s));
    },
  },
  relu_backward: { wgsl: 'select(0.0, y, x > 0.0)', cpu: (x, g) => (x > 0 ? g : 0) },
  tanh_backward: { wgsl: 'y * (1.0 - x * x)', cpu: (t, g) => g * (1 - t * t) },
} satisfies Record<string, Row>;

const TERNARY = {
  where: { wgsl: 'select(z, y, x != 0.0)', cpu: (c, a, b) => (c !== 0 ? a : b), out: 'same' },
  // clamp backward: pass the grad where lo <= x <= hi
  clamp_backward: {
    wgsl: 'select(0.0, y, x >= p.alpha && x <= p.beta)',
    cpu: (x, g, _z, lo, hi) => (x >= lo && x <= hi ? g : 0),
  },
} satisfies Record<string, Row>;

export type UnaryOp = keyof typeof UNARY;
export type BinaryOp = keyof typeof BINARY;
const ROWS: Record<string, Row> = { ...UNARY, ...BINARY, ...TERNARY };
/** Every row name: the op names elementwise nodes carry in a traced graph (engine/graph). */
export const ELEMENTWISE_OPS: ReadonlySet<string> = new Set(Object.keys(ROWS));

/** A table row by name (a compiled forward composes rows into one kernel's expression). */
export function elementwiseRow(op: string): Readonly<Row> {
  const row = ROWS[op];
  if (!row) throw new Error(`elementwise: no table row named '${op}'`);
  return row;
}

// ---- the launcher ----------------------------------------------------------------------------

/**
 * Runs one table row. Operands broadcast against each other; the result is a new contiguous
 * tensor, or, when `into` is given, is written through that (possibly strided) view.
 */
export function pointwise(
  op: string,
  inputs: Tensor[],
  opts: { alpha?: number; beta?: number; dtype?: DType; into?: Tensor } = {},
): Tensor {
  const row = ROWS[op];
  const device = inputs[0].device;
  for (const t of inputs) {
    t.assertAlive(op);
    if (t.device !== device)
      throw new Error(`${op}: operands are on different devices (${inputs.map((t) => t.device.type).join(', ')})`);
  }
  // `where` promotes only its value operands; the condition may be any dtype.
  const valueDtypes = (op === 'where' ? inputs.slice(1) : inputs).map((t) => t.dtype);
  const promoted = valueDtypes.reduce(promote);
  const dtype =
    opts.dtype ??
    (row.out === 'mask' ? (promoted === 'f64' ? 'f64' : 'f32') : row.out && row.out !== 'same' ? row.out : promoted);
  const shape = broadcastShapes(op, ...inputs.map((t) => t.shape));
  const out = opts.into ?? Tensor.uninitialized(shape, dtype, device); // every path below writes all of it
  if (opts.into && !sameShape(opts.into.shape, shape))
    throw new Error(`${op}: cannot write a result of shape ${fmt(shape)} into a view of shape ${fmt(opts.into.shape)}`);
  const alpha = opts.alpha ?? 0,
    beta = opts.beta ?? 0;
  if (device.type === 'meta') {
    if (opts.into) throw new Error(`${op}: an in-place write into a view cannot be traced (meta device)`);
    return metaOp(
      op,
      inputs,
      {
        ...(row.wgsl.includes('p.alpha') && { alpha }),
        ...(row.wgsl.includes('p.beta') && { beta }),
        ...(op === 'cast' && { dtype }),
      },
      out,
    );
  }
  if (numel(shape) === 0) return out;
  // Scalars reach the GPU as f32; round them the same way on cpu so both devices agree exactly.
  const f32 = inputs.every((t) => t.dtype !== 'f64');
  if (device.type === 'cpu')
    runCpu(row, inputs, out, shape, f32 ? Math.fround(alpha) : alpha, f32 ? Math.fround(beta) : beta);
  else if (device.type === 'wasm') {
    // SIMD kernels for contiguous and per-channel layouts; the cpu loop over the memory views for the rest
    if (
      !pointwiseWasm(device.wasm, op, inputs, out, shape, Math.fround(alpha), Math.fround(beta)) &&
      !pointwiseStridedWasm(device.wasm, op, inputs, out, shape, Math.fround(alpha), Math.fround(beta)) // strided views
    )
      runCpu(row, inputs, out, shape, Math.fround(alpha), Math.fround(beta));
  } else runGpu(op, row, inputs, out, shape, alpha, beta);
  return out;
}

function runCpu(row: Row, inputs: Tensor[], out: Tensor, shape: number[], alpha: number, beta: number) {
  const n = numel(shape);
  const src = inputs.map((t) => t.storage.array!);
  const idx = inputs.map((t) => stridedIndices(shape, broadcastStrides(t.shape, t.strides, shape), t.offset));
  const off = inputs.map((t) => t.offset);
  const oIdx = stridedIndices(shape, out.strides, out.offset);
  const dst = out.storage.array!;
  const toInt = out.dtype === 'i32';
  const [a, b, c] = [0, 1, 2].map((k) => src[k] ?? src[0]);
  const [ia, ib, ic] = [0, 1, 2].map((k) => (k < src.length ? idx[k] : null));
  const [oa, ob, oc] = [0, 1, 2].map((k) => off[k] ?? 0);
  for (let i = 0; i < n; i++) {
    const x = a[ia ? ia[i] : oa + i];
    const y = src.length > 1 ? b[ib ? ib[i] : ob + i] : 0;
    const z = src.length > 2 ? c[ic ? ic[i] : oc + i] : 0;
    const v = row.cpu(x, y, z, alpha, beta);
    dst[oIdx ? oIdx[i] : out.offset + i] = toInt ? Math.trunc(v) : v;
  }
}

function runGpu(op: string, row: Row, inputs: Tensor[], out: Tensor, shape: number[], alpha: number, beta: number) {
  const gpu = (out.device as WebGPUDevice).gpu;
  if (shape.length > 8) throw new Error(`${op}: rank ${shape.length} exceeds the elementwise kernel's 8 dimensions`);
  const strides = inputs.map((t) => broadcastStrides(t.shape, t.strides, shape));
  const outContig = isContiguous(shape, out.strides);
  const fast =
    outContig && inputs.every((t, k) => sameShape(t.shape, shape) && isContiguous(shape, strides[k])) ? 1 : 0;
  const types = inputs.map((t) => wgslType(t.dtype));
  const n = numel(shape);
  gpu.dispatch(
    {
      file: 'elementwise.wgsl',
      slots: { TA: types[0], TB: types[1] ?? 'f32', TC: types[2] ?? 'f32', TOUT: wgslType(out.dtype), EXPR: row.wgsl },
    },
    {
      a: inputs[0].storage.buffer!,
      ...(inputs[1] && { b: inputs[1].storage.buffer! }),
      ...(inputs[2] && { c: inputs[2].storage.buffer! }),
      out: out.storage.buffer!,
    },
    {
      n,
      rank: shape.length,
      fast,
      alpha,
      beta,
      from_out: 0,
      off_out: out.offset,
      off_a: inputs[0].offset,
      off_b: inputs[1]?.offset ?? 0,
      off_c: inputs[2]?.offset ?? 0,
      shape,
      st_out: outContig ? contiguousStrides(shape) : out.strides,
      st_a: strides[0],
      st_b: strides[1] ?? [],
      st_c: strides[2] ?? [],
    },
    gpu.grid1d(n, 256),
  );
}

// ---- differentiable wrappers -----------------------------------------------------------------

function unary(op: UnaryOp, x: Tensor, grad: Grad1 | null, alpha = 0, beta = 0): Tensor {
  const y = pointwise(op, [x], { alpha, beta });
  if (!grad) return y;
  return record(y, op, [x], (g) => [grad(x, y.detach(), g, alpha, beta)]);
}

export const neg = (x: Tensor): Tensor => unary('neg', x, (_x, _y, g) => neg(g));
export const exp = (x: Tensor): Tensor => unary('exp', x, (_x, y, g) => mul(g, y));
export const log = (x: Tensor): Tensor => unary('log', x, (x, _y, g) => div(g, x));
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x, (_x, y, g) => div(g, mul(y, 2)));
export const abs = (x: Tensor): Tensor => unary('abs', x, (x, _y, g) => mul(g, pointwise('sign', [x])));
export const sign = (x: Tensor): Tensor => unary('sign', x, null);
export const floor = (x: Tensor): Tensor => unary('floor', x, null);
export const ceil = (x: Tensor): Tensor => unary('ceil', x, null);
export const round = (x: Tensor): Tensor => unary('round', x, null);
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x, (_x, y, g) => neg(mul(g, mul(y, y))));
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x, (_x, y, g) => pointwise('sigmoid_backward', [y, g]));
export const relu = (x: Tensor): Tensor => unary('relu', x, (x, _y, g) => pointwise('relu_backward', [x, g]));
export const silu = (x: Tensor): Tensor => unary('silu', x, (x, _y, g) => pointwise('silu_backward', [x, g]));
export const tanh = (x: Tensor): Tensor => unary('tanh', x, (_x, y, g) => pointwise('tanh_backward', [y, g]));
export const atan = (x: Tensor): Tensor => unary('atan', x, (x, _y, g) => div(g, add(mul(x, x), 1)));
export const sin = (x: Tensor): Tensor => unary('sin', x, (x, _y, g) => mul(g, cos(x)));
export const cos = (x: Tensor): Tensor => unary('cos', x, (x, _y, g) => neg(mul(g, sin(x))));
export const softplus = (x: Tensor): Tensor => unary('softplus', x, (x, _y, g) => mul(g, sigmoid(x)));
export const isfinite = (x: Tensor): Tensor => unary('isfinite', x, null);

/** Clamps to [min, max]; either bound may be omitted. The gradient passes where x is inside. */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  const lo = min ?? -Infinity,
    hi = max ?? Infinity;
  if (lo > hi) throw new Error(`clamp: min ${lo} is greater than max ${hi}`);
  // ±Infinity survive the f32 uniform: WGSL compares against them correctly.
  return unary('clamp', x, (x, _y, g, a, b) => pointwise('clamp_backward', [x, g], { alpha: a, beta: b }), lo, hi);
}

/** Converts dtype (float → i32 truncates toward zero). Not differentiable. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return pointwise('cast', [x], { dtype });
}

/** A contiguous copy (or x itself when already contiguous). Gradients flow through. */
export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous && x.offset === 0 && x.storage.size === x.numel) return x;
  return unary('identity', x, (_x, _y, g) => g);
}

/** A contiguous copy, always. */
export function clone(x: Tensor): Tensor {
  return unary('identity', x, (_x, _y, g) => g);
}

/** Writes `src` (broadcast) through the view `dst` in place. Not differentiable. */
export function assign(dst: Tensor, src: Tensor): Tensor {
  if (dst.dtype !== src.dtype && !(dst.dtype !== 'i32' && src.dtype !== 'i32'))
    throw new Error(`assign: dtype ${src.dtype} into ${dst.dtype}`);
  const b = broadcastShapes('assign', dst.shape, src.shape);
  if (!sameShape(b, dst.shape))
    throw new Error(`assign: a value of shape ${fmt(src.shape)} does not fit a view of shape ${fmt(dst.shape)}`);
  if (!sameShape(src.shape, dst.shape)) src = expandTo(src, dst.shape);
  return pointwise('identity', [src], { into: dst });
}

function expandTo(t: Tensor, shape: readonly number[]): Tensor {
  return new Tensor(t.storage, shape, broadcastStrides(t.shape, t.strides, shape), t.offset);
}

// ---- binary ops with broadcasting, and numbers in either place ---------------------------------

type Operand = Tensor | number;

function binary(op: BinaryOp, a: Tensor, b: Tensor, grad: Grad2 | null): Tensor {
  const y = pointwise(op, [a, b]);
  if (!grad) return y;
  return record(y, op, [a, b], (g) => {
    const [ga, gb] = grad(a, b, y.detach(), g);
    return [ga && sumTo(ga, a.shape), gb && sumTo(gb, b.shape)];
  });
}

function scalarLike(v: number, like: Tensor) {
  return full([], v, { dtype: like.dtype === 'i32' && !Number.isInteger(v) ? 'f32' : like.dtype, device: like.device });
}

export function add(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number')
    return typeof a === 'number' ? full([], a + b) : unary('add_scalar', a, (_x, _y, g) => g, b);
  if (typeof a === 'number') return add(b, a);
  return binary('add', a, b, (_a, _b, _y, g) => [g, g]);
}

export function sub(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number')
    return typeof a === 'number' ? full([], a - b) : unary('add_scalar', a, (_x, _y, g) => g, -b);
  if (typeof a === 'number') return unary('rsub_scalar', b, (_x, _y, g) => neg(g), a);
  return binary('sub', a, b, (_a, _b, _y, g) => [g, neg(g)]);
}

export function mul(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number')
    return typeof a === 'number' ? full([], a * b) : unary('mul_scalar', a, (_x, _y, g, s) => mul(g, s), b);
  if (typeof a === 'number') return mul(b, a);
  return binary('mul', a, b, (a, b, _y, g) => [a.requiresGrad ? mul(g, b) : null, b.requiresGrad ? mul(g, a) : null]);
}

export function div(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number')
    return typeof a === 'number' ? full([], a / b) : unary('div_scalar', a, (_x, _y, g, s) => div(g, s), b);
  if (typeof a === 'number') return unary('rdiv_scalar', b, (x, y, g) => neg(div(mul(g, y), x)), a);
  return binary('div', a, b, (a, b, y, g) => [
    a.requiresGrad ? div(g, b) : null,
    b.requiresGrad ? neg(div(mul(g, y), b)) : null,
  ]);
}

export function pow(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number') {
    if (typeof a === 'number') return full([], a ** b);
    return unary('pow_scalar', a, (x, _y, g, e) => mul(g, mul(pointwise('pow_scalar', [x], { alpha: e - 1 }), e)), b);
  }
  if (typeof a === 'number') a = scalarLike(a, b);
  return binary('pow', a, b, (a, b, y, g) => [
    a.requiresGrad ? mul(g, mul(b, pow(a, sub(b, 1)))) : null,
    b.requiresGrad ? mul(g, mul(y, log(a))) : null,
  ]);
}

/** Elementwise max; on ties the gradient goes to `a` (as torch.maximum splits it, we do not). */
export function maximum(a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  return binary('maximum', x, y, (a, b, _y, g) => {
    const m = pointwise('ge', [a, b]);
    return [mul(g, m), mul(g, pointwise('not', [m]))];
  });
}

export function minimum(a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  return binary('minimum', x, y, (a, b, _y, g) => {
    const m = pointwise('le', [a, b]);
    return [mul(g, m), mul(g, pointwise('not', [m]))];
  });
}

function operands(a: Operand, b: Operand): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') return [full([], a), full([], b)];
  if (typeof a === 'number') return [scalarLike(a, b as Tensor), b as Tensor];
  if (typeof b === 'number') return [a, scalarLike(b, a)];
  return [a, b];
}

const compare = (op: BinaryOp) => (a: Operand, b: Operand) => binary(op, ...operands(a, b), null);
export const eq = compare('eq');
export const ne = compare('ne');
export const lt = compare('lt');
export const le = compare('le');
export const gt = compare('gt');
export const ge = compare('ge');

/** where(cond, a, b): a where cond != 0, else b; all three broadcast. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  const out = pointwise('where', [cond, x, y]);
  return record(out, 'where', [x, y], (g) => {
    const zero = zerosLike(g);
    return [
      x.requiresGrad ? sumTo(pointwise('where', [cond, g, zero]), x.shape) : null,
      y.requiresGrad ? sumTo(pointwise('where', [cond, zero, g]), y.shape) : null,
    ];
  });
}
