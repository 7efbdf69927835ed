// 2-D max pooling, as torch.nn.functional.max_pool2d (ceil_mode=False): windows of
// kernelSize with stride (default = kernel), zero-or-more padding that counts as -inf, dilation.
// Forward keeps, per output, the position of its window's first maximum in the input plane
// (an i32 tensor like torch's return_indices); backward routes each output gradient there.
// The GPU backward is a gather (each input pixel visits the windows that could have chosen
// it), so it needs no atomics and sums in a fixed order; see shaders/max_pool2d.wgsl.
import { Tensor } from '../tensor.js';
import { metaOp } from '../graph/hook.js';
import { planeLayout } from './conv2d.js';
import { fmt } from '../shape.js';
import type { TypedArray } from '../dtype.js';
import { needsGrad, record } from '../autograd.js';
import { onHost, type WebGPUDevice } from '../device.js';
import { contiguous } from './elementwise.js';
import { maxPool2dBackwardWasm, maxPool2dIndicesWasm, type PoolWindow } from '../backends/wasm/ops_pool.js';

export interface MaxPool2dOptions {
  kernelSize: number | [number, number];
  /** default: the kernel size */
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
}

/** Window geometry, all pairs (height, width): the shape the wasm kernels take too. */
type Geometry = PoolWindow;

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

function geometry(
  name: string,
  shape: readonly number[],
  opts: MaxPool2dOptions,
): { g: Geometry; oh: number; ow: number } {
  if (shape.length !== 4) throw new Error(`${name}: expected a (N, C, H, W) tensor, got shape ${fmt(shape)}`);
  const [kh, kw] = pair(opts.kernelSize);
  const [sh, sw] = pair(opts.stride ?? opts.kernelSize);
  const [ph, pw] = pair(opts.padding ?? 0);
  const [dh, dw] = pair(opts.dilation ?? 1);
  const ints = (vals: number[], min: number) => vals.every((v) => Number.isInteger(v) && v >= min);
  if (!ints([kh, kw], 1))
    throw new Error(`${name}: kernelSize must be positive integers, got ${JSON.stringify(opts.kernelSize)}`);
  if (!ints([sh, sw], 1))
    throw new Error(`${name}: stride must be positive integers, got ${JSON.stringify(opts.stride)}`);
  if (!ints([dh, dw], 1))
    throw new Error(`${name}: dilation must be positive integers, got ${JSON.stringify(opts.dilation)}`);
  if (!ints([ph, pw], 0) || ph > kh / 2 || pw > kw / 2)
    throw new Error(
      `${name}: padding ${JSON.stringify(opts.padding)} must be non-negative integers at most half the kernel size [${kh}, ${kw}]`,
    );
  const [, , h, w] = shape;
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  if (oh < 1 || ow < 1)
    throw new Error(
      `${name}: input of shape ${fmt(shape)} is too small for kernel [${kh}, ${kw}] with padding [${ph}, ${pw}] and dilation [${dh}, ${dw}] (output would be ${oh}x${ow})`,
    );
  return { g: { kh, kw, sh, sw, ph, pw, dh, dw }, oh, ow };
}

/** (N, C, H, W) → (N, C, OH, OW). */
export function maxPool2d(x: Tensor, opts: MaxPool2dOptions): Tensor {
  if (x.device.type === 'meta') {
    x.assertAlive('maxPool2d');
    const { g, oh, ow } = geometry('maxPool2d', x.shape, opts);
    const attrs = { kernelSize: [g.kh, g.kw], stride: [g.sh, g.sw], padding: [g.ph, g.pw], dilation: [g.dh, g.dw] };
    return metaOp('max_pool2d', [x], attrs, Tensor.empty([x.shape[0], x.shape[1], oh, ow], x.dtype, x.device));
  }
  const { values, indices } = maxPool2dWithIndices(x, opts, false);
  indices?.dispose(); // the backward keeps its own handle
  return values;
}

/**
 * Values and, per output, the flat position y * W + x of the chosen input in its plane, like
 * torch's return_indices=True (i32 here). With `withIndices` false and no gradient to record
 * (inference), the kernel skips writing them and `indices` is null.
 */
export function maxPool2dWithIndices(
  x: Tensor,
  opts: MaxPool2dOptions,
  withIndices = true,
): { values: Tensor; indices: Tensor | null } {
  x.assertAlive('maxPool2d');
  const { g, oh, ow } = geometry('maxPool2d', x.shape, opts);
  const [n, c, h, w] = x.shape;
  const src = contiguous(x);
  const values = Tensor.empty([n, c, oh, ow], x.dtype, x.device);
  const indices = withIndices || needsGrad(x) ? Tensor.empty([n, c, oh, ow], 'i32', x.device) : null;
  if (values.numel > 0) {
    if (x.device.type === 'wasm' && !indices && x.dtype === 'f32') {
      // inference (no indices): the SIMD kernel, one task per plane
      x.device.wasm.parallel(
        'maxpool',
        [
          src.storage.ptr + 4 * src.offset,
          values.storage.ptr,
          h,
          w,
          oh,
          ow,
          g.kh,
          g.kw,
          g.sh,
          g.sw,
          g.ph,
          g.pw,
          g.dh,
          g.dw,
        ],
        n * c,
        Math.ceil(4096 / (oh * ow)),
      );
    } else if (x.device.type === 'wasm' && x.dtype === 'f32')
      maxPool2dIndicesWasm(x.device.wasm, src, values, indices!, g); // training: values + indices, one task per plane
    else if (onHost(x.device))
      poolCpu(src.storage.array!, values.storage.array!, indices?.storage.array ?? null, n * c, h, w, oh, ow, g);
    else {
      const gpu = (x.device as WebGPUDevice).gpu;
      gpu.dispatch(
        { file: 'max_pool2d.wgsl', entry: 'pool', constants: { WITH_INDICES: indices ? 1 : 0 } },
        { x: src.storage.buffer!, out: values.storage.buffer!, ...(indices && { idx: indices.storage.buffer! }) },
        { n: values.numel, h, w, oh, ow, ...g, neg_inf: -Infinity, ...contiguousPlanes(c, h, w, oh, ow) },
        gpu.grid1d(values.numel, 256),
      );
    }
  }
  if (src !== x) src.dispose();
  if (!needsGrad(x)) return { values, indices };
  // The backward owns its own handle on the indices (GradFn.saved), so a tidy() around the
  // forward (or the caller disposing the returned indices) cannot free them before backward runs;
  // it goes with `values` if the backward never reaches them.
  const saved = indices!.detach();
  record(values, 'max_pool2d', [x], (gy) => [maxPool2dBackward(gy, saved, x.shape, opts)], [saved]);
  return { values, indices };
}

/** Input gradient (N, C, H, W) from the output gradient and winner positions (N, C, OH, OW). */
export function maxPool2dBackward(
  gy: Tensor,
  indices: Tensor,
  inputShape: readonly number[],
  opts: MaxPool2dOptions,
): Tensor {
  const { g, oh, ow } = geometry('maxPool2dBackward', inputShape, opts);
  const [n, c, h, w] = inputShape;
  const want = [n, c, oh, ow];
  if (fmt(gy.shape) !== fmt(want) || fmt(indices.shape) !== fmt(want) || indices.dtype !== 'i32')
    throw new Error(
      `maxPool2dBackward: grad ${fmt(gy.shape)} and i32 indices ${fmt(indices.shape)} (${indices.dtype}) must both be ${fmt(want)}`,
    );
  const gs = contiguous(gy),
    is = contiguous(indices);
  const gx = Tensor.empty([n, c, h, w], gy.dtype, gy.device);
  if (gx.numel > 0) {
    if (gy.device.type === 'wasm' && gy.dtype === 'f32') maxPool2dBackwardWasm(gy.device.wasm, gs, is, gx);
    else if (onHost(gy.device)) {
      // Scatter in output order: the same per-input summation order as the GPU gather.
      const a = gs.storage.array!,
        ix = is.storage.array!,
        b = gx.storage.array!;
      b.fill(0);
      for (let pl = 0; pl < n * c; pl++)
        for (let o = 0; o < oh * ow; o++) {
          const k = ix[pl * oh * ow + o]; // out of the plane only for a window with no input tap
          if (k >= 0 && k < h * w) b[pl * h * w + k] += a[pl * oh * ow + o];
        }
    } else {
      const gpu = (gy.device as WebGPUDevice).gpu;
      gpu.dispatch(
        { file: 'max_pool2d.wgsl', entry: 'pool_backward' },
        { x: gs.storage.buffer!, out: gx.storage.buffer!, idx: is.storage.buffer! },
        { n: gx.numel, h, w, oh, ow, ...g, neg_inf: -Infinity, ...contiguousPlanes(c, h, w, oh, ow) },
        gpu.grid1d(gx.numel, 256),
      );
    }
  }
  if (gs !== gy) gs.dispose();
  if (is !== indices) is.dispose();
  return gx;
}

const contiguousPlanes = (c: number, h: number, w: number, oh: number, ow: number) => ({
  c,
  x_sb: c * h * w,
  x_sc: h * w,
  x_off: 0,
  out_sb: c * oh * ow,
  out_sc: oh * ow,
  out_off: 0,
  x_in_out: 0,
});

/**
 * The inference forward on webgpu into a given output view (no indices): x and out may be any
 * views whose (H, W) planes are contiguous (conv2d's planeLayout), even in one buffer, so a
 * compiled forward's SPPF pools write their slices of the concat they read from.
 */
export function maxPool2dInto(x: Tensor, out: Tensor, opts: MaxPool2dOptions) {
  const { g, oh, ow } = geometry('maxPool2d', x.shape, opts);
  const [, c, h, w] = x.shape;
  const xl = planeLayout(x),
    ol = planeLayout(out);
  if (!xl || !ol)
    throw new Error(
      `maxPool2d: input and output planes must be contiguous (strides ${fmt(x.strides)}, ${fmt(out.strides)})`,
    );
  const gpu = (x.device as WebGPUDevice).gpu;
  const same = x.storage.buffer === out.storage.buffer;
  gpu.dispatch(
    { file: 'max_pool2d.wgsl', entry: 'pool', constants: { WITH_INDICES: 0 } },
    { ...(!same && { x: x.storage.buffer! }), out: out.storage.buffer! },
    {
      n: out.numel,
      h,
      w,
      oh,
      ow,
      ...g,
      neg_inf: -Infinity,
      c,
      x_sb: xl.sb,
      x_sc: xl.sc,
      x_off: xl.off,
      out_sb: ol.sb,
      out_sc: ol.sc,
      out_off: ol.off,
      x_in_out: same ? 1 : 0,
    },
    gpu.grid1d(out.numel, 256),
  );
}

function poolCpu(
  a: TypedArray,
  out: TypedArray,
  idx: TypedArray | null,
  planes: number,
  h: number,
  w: number,
  oh: number,
  ow: number,
  g: Geometry,
) {
  for (let pl = 0; pl < planes; pl++) {
    const base = pl * h * w;
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        let y0 = oy * g.sh - g.ph,
          x0 = ox * g.sw - g.pw;
        while (y0 < 0) y0 += g.dh;
        while (x0 < 0) x0 += g.dw;
        let best = -Infinity,
          at = y0 * w + x0;
        for (let ky = 0; ky < g.kh; ky++) {
          const y = oy * g.sh - g.ph + ky * g.dh;
          if (y < 0 || y >= h) continue;
          for (let kx = 0; kx < g.kw; kx++) {
            const x = ox * g.sw - g.pw + kx * g.dw;
            if (x < 0 || x >= w) continue;
            const v = a[base + y * w + x];
            if (v > best || Number.isNaN(v)) ((best = v), (at = y * w + x));
          }
        }
        const o = (pl * oh + oy) * ow + ox;
        out[o] = best;
        if (idx) idx[o] = at;
      }
  }
}
