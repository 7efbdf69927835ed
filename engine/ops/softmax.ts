// softmax and log_softmax along one axis, numerically stable (the row max is subtracted first).
// Any axis is read in place as a contiguous (outer, r, inner) view, the way reductions read it:
// no transpose copy. Kernels: shaders/softmax.wgsl.
import { Tensor } from '../tensor.js';
import { fmt, normAxis, numel } from '../shape.js';
import { record } from '../autograd.js';
import { onHost, type WasmDevice, type WebGPUDevice } from '../device.js';
import { contiguous, exp, mul, sub } from './elementwise.js';
import { sum } from './reduce.js';
import { metaOp } from '../graph/hook.js';
import { softmaxBackwardWasm, softmaxWasm } from '../backends/wasm/ops_softmax.js';

const WIDE_ROWS = 256; // rows at least this long get a workgroup each

/** softmax(x) along `axis`: exp(x - max) / Σ exp(x - max). Output has x's shape. */
export function softmax(x: Tensor, axis = -1): Tensor {
  const ax = normAxis('softmax', axis, x.ndim);
  const y = softmaxRaw('softmax', x, ax, false);
  // dx = y * (g - Σ_axis g*y)
  return record(y, 'softmax', [x], (g) => {
    if (y.device.type === 'wasm') return [backwardWasm(y, g, ax, false)];
    const yd = y.detach();
    return [mul(yd, sub(g, sum(mul(g, yd), ax, true)))];
  });
}

/** log(softmax(x)) along `axis`, computed as x - max - log Σ exp(x - max). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const ax = normAxis('logSoftmax', axis, x.ndim);
  const y = softmaxRaw('logSoftmax', x, ax, true);
  // dx = g - softmax(x) * Σ_axis g, with softmax(x) = exp(y)
  return record(y, 'logSoftmax', [x], (g) =>
    y.device.type === 'wasm' ? [backwardWasm(y, g, ax, true)] : [sub(g, mul(exp(y.detach()), sum(g, ax, true)))],
  );
}

function softmaxRaw(name: string, x: Tensor, ax: number, log: boolean): Tensor {
  x.assertAlive(name);
  if (x.dtype === 'i32') throw new Error(`${name}: expects a floating-point tensor, got i32 of shape ${fmt(x.shape)}`);
  if (x.device.type === 'meta')
    return metaOp(log ? 'log_softmax' : 'softmax', [x], { axis: ax }, Tensor.empty(x.shape, x.dtype, x.device));
  const src = contiguous(x);
  const shape = x.shape.length ? x.shape : [1]; // a 0-d tensor is one row of length 1
  const outer = numel(shape.slice(0, ax)),
    r = shape[ax],
    inner = numel(shape.slice(ax + 1));
  const y = Tensor.empty(x.shape, x.dtype, x.device);
  if (outer * r * inner > 0) {
    if (x.device.type === 'wasm') softmaxWasm(x.device.wasm, src, y, outer, r, inner, log);
    else if (onHost(x.device)) softmaxCpu(src.storage.array!, y.storage.array!, src.offset, outer, r, inner, log);
    else {
      const gpu = (x.device as WebGPUDevice).gpu;
      const wide = r >= WIDE_ROWS;
      gpu.dispatch(
        { file: 'softmax.wgsl', entry: wide ? 'softmax_wide' : 'softmax_rows', constants: { LOG: log ? 1 : 0 } },
        { x: src.storage.buffer!, y: y.storage.buffer! },
        { outer, r, inner },
        wide ? gpu.grid1d(outer * inner, 1) : gpu.grid1d(outer * inner, 64),
      );
    }
  }
  if (src !== x) src.dispose();
  return y;
}

/** wasm: the same formulas as the backward closures above, fused into one kernel (one pass to sum, one to write). */
function backwardWasm(y: Tensor, g: Tensor, ax: number, log: boolean): Tensor {
  const shape = y.shape.length ? y.shape : [1];
  const gc = contiguous(g);
  const dx = Tensor.empty(y.shape, y.dtype, y.device);
  if (dx.numel > 0)
    softmaxBackwardWasm(
      (y.device as WasmDevice).wasm,
      y,
      gc,
      dx,
      numel(shape.slice(0, ax)),
      shape[ax],
      numel(shape.slice(ax + 1)),
      log,
    );
  if (gc !== g) gc.dispose();
  return dx;
}

/** The reference: three passes per row (max, Σ exp, write). */
function softmaxCpu(
  a: ArrayLike<number>,
  out: { [i: number]: number },
  off: number,
  outer: number,
  r: number,
  inner: number,
  log: boolean,
) {
  for (let oo = 0; oo < outer; oo++) {
    for (let ii = 0; ii < inner; ii++) {
      const base = oo * r * inner + ii;
      let m = -Infinity;
      for (let k = 0; k < r; k++) m = Math.max(m, a[off + base + k * inner]);
      let s = 0;
      for (let k = 0; k < r; k++) s += Math.exp(a[off + base + k * inner] - m);
      const logS = Math.log(s);
      for (let k = 0; k < r; k++) {
        const v = a[off + base + k * inner] - m;
        out[base + k * inner] = log ? v - logS : Math.exp(v) / s;
      }
    }
  }
}
