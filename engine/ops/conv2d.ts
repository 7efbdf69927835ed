// 2-D convolution, as torch.nn.functional.conv2d: x (N, C, H, W), w (O, C/groups, kh, kw),
// optional bias (O), stride/padding/dilation per axis, groups. `act: 'silu'` fuses bias + SiLU
// into the epilogue (the inference kernel for a conv with its BatchNorm folded in).
// On webgpu the forward, grad-input and grad-weight are one GEMM core each with its own read and
// write hooks (shaders/conv2d*.wgsl, shaders/gemm_*.wgsl; the core per adapter is chosen in
// engine/backends/kernel_variants.ts). The cpu reference is plain loops.
import { Tensor } from '../tensor.js';
import type { TypedArray } from '../dtype.js';
import { fmt } from '../shape.js';
import { needsGrad, noGrad, record } from '../autograd.js';
import { tidy } from '../memory.js';
import type { WebGPUDevice } from '../device.js';
import { conv2dGradInputWasm, conv2dGradWeightWasm, conv2dWasm } from '../backends/wasm/ops_conv.js';
import { gemmLaunch } from '../backends/kernel_variants.js';
import { assign, contiguous, silu } from './elementwise.js';
import { zeros } from './create.js';
import { sum } from './reduce.js';
import { narrow, permute, reshape } from './view.js';
import { metaOp } from '../graph/hook.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
  /** fuse bias + SiLU into the output (still differentiable) */
  act?: 'silu' | null;
}

/** Everything about one convolution's shapes; pairs are (y, x). */
export interface ConvGeometry {
  n: number;
  c: number;
  h: number;
  w: number; // input
  o: number;
  kh: number;
  kw: number;
  groups: number;
  cg: number;
  og: number; // weight: cg = C / groups, og = O / groups
  oh: number;
  ow: number; // output
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** Validates shapes and options; throws `<op>: ...` naming the shapes. */
export function convGeometry(
  op: string,
  xShape: readonly number[],
  wShape: readonly number[],
  opts: Conv2dOptions = {},
): ConvGeometry {
  const shapes = `x ${fmt(xShape)}, w ${fmt(wShape)}`;
  if (xShape.length !== 4 || wShape.length !== 4)
    throw new Error(`${op}: expected x (N, C, H, W) and w (O, C/groups, kh, kw), got shapes ${shapes}`);
  const [sh, sw] = pair(opts.stride ?? 1),
    [ph, pw] = pair(opts.padding ?? 0),
    [dh, dw] = pair(opts.dilation ?? 1);
  const groups = opts.groups ?? 1;
  const ints = (vals: number[], min: number) => vals.every((v) => Number.isInteger(v) && v >= min);
  if (!ints([sh, sw], 1) || !ints([dh, dw], 1) || !ints([ph, pw], 0) || !ints([groups], 1))
    throw new Error(
      `${op}: stride/dilation must be positive integers, padding non-negative, groups positive; got ${JSON.stringify(opts)} for shapes ${shapes}`,
    );
  const [n, c, h, w] = xShape,
    [o, cg, kh, kw] = wShape;
  if (c !== cg * groups || o % groups !== 0)
    throw new Error(
      `${op}: x has ${c} channels and w expects ${cg} per group x ${groups} groups with ${o} outputs (must divide evenly); shapes ${shapes}`,
    );
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  if (oh < 1 || ow < 1 || kh < 1 || kw < 1)
    throw new Error(
      `${op}: the kernel does not fit the padded input (output ${oh}x${ow}); shapes ${shapes}, ${JSON.stringify(opts)}`,
    );
  return { n, c, h, w, o, kh, kw, groups, cg, og: o / groups, oh, ow, sh, sw, ph, pw, dh, dw };
}

function checkPair(op: string, a: Tensor, b: Tensor) {
  a.assertAlive(op);
  b.assertAlive(op);
  if (a.device !== b.device)
    throw new Error(`${op}: tensors are on different devices (${a.device.type}, ${b.device.type})`);
  if (a.dtype !== b.dtype || a.dtype === 'i32')
    throw new Error(`${op}: expected two float tensors of one dtype, got ${a.dtype} and ${b.dtype}`);
}

/** (N, C, H, W) x (O, C/groups, kh, kw) [+ bias (O)] → (N, O, OH, OW). */
export function conv2d(x: Tensor, w: Tensor, b?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  checkPair('conv2d', x, w);
  const g = convGeometry('conv2d', x.shape, w.shape, opts);
  if (b) {
    checkPair('conv2d', x, b);
    if (b.ndim !== 1 || b.shape[0] !== g.o)
      throw new Error(
        `conv2d: bias of shape ${fmt(b.shape)} does not match ${g.o} output channels (w ${fmt(w.shape)})`,
      );
  }
  const act = opts.act ?? null;
  if (act !== null && act !== 'silu') throw new Error(`conv2d: unknown act '${act}' (expected 'silu' or null)`);
  // Training: the SiLU is its own op, so its backward sees the pre-activation.
  if (act && needsGrad(x, w, b)) return silu(conv2d(x, w, b, { ...opts, act: null }));
  const out = Tensor.uninitialized([g.n, g.o, g.oh, g.ow], x.dtype, x.device); // written in full on every device
  if (x.device.type === 'meta')
    return metaOp(
      'conv2d',
      [x, w, b],
      { stride: [g.sh, g.sw], padding: [g.ph, g.pw], dilation: [g.dh, g.dw], groups: g.groups, act },
      out,
    );
  if (out.numel > 0) {
    if (x.device.type === 'cpu')
      conv2dCpu(x.dataSync(), w.dataSync(), b ? b.dataSync() : null, out.storage.array!, g, act === 'silu');
    else if (x.device.type === 'wasm') {
      const rt = x.device.wasm;
      withBlocks([x, w, b ?? null], ([xb, wb, bb]) =>
        conv2dWasm(rt, xb!, wb!, bb, { ptr: out.storage.ptr }, g, act === 'silu'),
      );
    } else conv2dGpu(x, w, b ?? null, out, g, act === 'silu');
  }
  const inputs = b ? [x, w, b] : [x, w];
  return record(out, 'conv2d', inputs, (gy) => [
    x.requiresGrad ? conv2dGradInput(gy, w, x.shape, opts) : null,
    w.requiresGrad ? conv2dGradWeight(x, gy, w.shape, opts) : null,
    b?.requiresGrad ? sum(gy, [0, 2, 3]) : null,
  ]);
}

/** dL/dx (N, C, H, W) from dL/dy (N, O, OH, OW) and w: the transposed convolution. */
export function conv2dGradInput(
  gy: Tensor,
  w: Tensor,
  inputShape: readonly number[],
  opts: Conv2dOptions = {},
): Tensor {
  checkPair('conv2dGradInput', gy, w);
  const g = convGeometry('conv2dGradInput', inputShape, w.shape, opts);
  const want = [g.n, g.o, g.oh, g.ow];
  if (fmt(gy.shape) !== fmt(want))
    throw new Error(
      `conv2dGradInput: grad of shape ${fmt(gy.shape)} does not match the output ${fmt(want)} of x ${fmt(inputShape)} and w ${fmt(w.shape)}`,
    );
  const gx = Tensor.uninitialized([g.n, g.c, g.h, g.w], gy.dtype, gy.device); // every phase written, even tapless ones
  if (gx.numel === 0) return gx;
  if (gy.device.type === 'cpu') convBackwardCpu('input', gy.dataSync(), w.dataSync(), gx.storage.array!, g);
  else if (gy.device.type === 'wasm') {
    const rt = gy.device.wasm;
    withBlocks([gy, w], ([gb, wb]) => conv2dGradInputWasm(rt, gb!, wb!, { ptr: gx.storage.ptr }, g));
  } else gradInputGpu(gy, w, gx, g);
  return gx;
}

/** dL/dw (O, C/groups, kh, kw) from x and dL/dy (N, O, OH, OW). */
export function conv2dGradWeight(
  x: Tensor,
  gy: Tensor,
  weightShape: readonly number[],
  opts: Conv2dOptions = {},
): Tensor {
  checkPair('conv2dGradWeight', x, gy);
  const g = convGeometry('conv2dGradWeight', x.shape, weightShape, opts);
  const want = [g.n, g.o, g.oh, g.ow];
  if (fmt(gy.shape) !== fmt(want))
    throw new Error(
      `conv2dGradWeight: grad of shape ${fmt(gy.shape)} does not match the output ${fmt(want)} of x ${fmt(x.shape)} and w ${fmt(weightShape)}`,
    );
  if (gy.device.type === 'cpu') {
    const gw = Tensor.empty([...weightShape], x.dtype, x.device);
    convBackwardCpu('weight', gy.dataSync(), x.dataSync(), gw.storage.array!, g);
    return gw;
  }
  if (gy.device.type === 'wasm') {
    const gw = Tensor.uninitialized([...weightShape], x.dtype, x.device), // disjoint blocks store all of it
      rt = gy.device.wasm;
    withBlocks([x, gy], ([xb, gb]) => conv2dGradWeightWasm(rt, xb!, gb!, { ptr: gw.storage.ptr }, g));
    return gw;
  }
  return gradWeightGpu(x, gy, g);
}

/** wasm: the tensors as contiguous blocks (a copy where a view is strided), freed after fn */
function withBlocks(ts: (Tensor | null)[], fn: (blocks: ({ ptr: number } | null)[]) => void) {
  const cs = ts.map((t) => (t && !(t.isContiguous && t.offset === 0) ? noGrad(() => contiguous(t)) : t));
  try {
    fn(cs.map((t) => (t ? { ptr: t.storage.ptr + 4 * t.offset } : null)));
  } finally {
    cs.forEach((c, i) => c !== ts[i] && c?.dispose());
  }
}

// ---- cpu reference: direct loops; accumulates in doubles, rounds once on store -------------

/**
 * Output element (n, o, oy, ox) goes to out[at.off + n * at.sb + o * at.sc + oy * OW + ox], and x is
 * read the same way through `xat`: contiguous by default; a compiled forward passes channel slices
 * of concat buffers.
 */
export function conv2dCpu(
  x: TypedArray,
  w: TypedArray,
  b: TypedArray | null,
  out: TypedArray,
  g: ConvGeometry,
  fuseSilu: boolean,
  at: PlaneLayout = { sb: g.o * g.oh * g.ow, sc: g.oh * g.ow, off: 0 },
  xat: PlaneLayout = { sb: g.c * g.h * g.w, sc: g.h * g.w, off: 0 },
) {
  for (let n = 0; n < g.n; n++)
    for (let o = 0; o < g.o; o++) {
      const c0 = Math.floor(o / g.og) * g.cg;
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) {
          let acc = 0;
          for (let c = 0; c < g.cg; c++)
            for (let ky = 0; ky < g.kh; ky++) {
              const iy = oy * g.sh - g.ph + ky * g.dh;
              if (iy < 0 || iy >= g.h) continue;
              const xrow = xat.off + n * xat.sb + (c0 + c) * xat.sc + iy * g.w,
                wrow = ((o * g.cg + c) * g.kh + ky) * g.kw;
              for (let kx = 0; kx < g.kw; kx++) {
                const ix = ox * g.sw - g.pw + kx * g.dw;
                if (ix >= 0 && ix < g.w) acc += x[xrow + ix] * w[wrow + kx];
              }
            }
          if (b) acc += b[o];
          if (fuseSilu) acc = acc / (1 + Math.exp(-acc));
          out[at.off + n * at.sb + o * at.sc + oy * g.ow + ox] = acc;
        }
    }
}

/**
 * The cpu backward: scatters every output gradient back through the window that produced it,
 * into dL/dx (reading w) or into dL/dw (reading x). Both walk the same taps in the same order.
 */
function convBackwardCpu(
  into: 'input' | 'weight',
  gy: TypedArray,
  other: TypedArray,
  out: TypedArray,
  g: ConvGeometry,
) {
  const acc = new Float64Array(out.length);
  const toInput = into === 'input';
  for (let n = 0; n < g.n; n++)
    for (let o = 0; o < g.o; o++) {
      const c0 = Math.floor(o / g.og) * g.cg;
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) {
          const d = gy[((n * g.o + o) * g.oh + oy) * g.ow + ox];
          if (d === 0) continue;
          for (let c = 0; c < g.cg; c++)
            for (let ky = 0; ky < g.kh; ky++) {
              const iy = oy * g.sh - g.ph + ky * g.dh;
              if (iy < 0 || iy >= g.h) continue;
              const xrow = ((n * g.c + c0 + c) * g.h + iy) * g.w,
                wrow = ((o * g.cg + c) * g.kh + ky) * g.kw;
              for (let kx = 0; kx < g.kw; kx++) {
                const ix = ox * g.sw - g.pw + kx * g.dw;
                if (ix < 0 || ix >= g.w) continue;
                if (toInput) acc[xrow + ix] += d * other[wrow + kx];
                else acc[wrow + kx] += d * other[xrow + ix];
              }
            }
        }
    }
  out.set(acc);
}

// ---- webgpu: one GEMM launch each; see the shaders for the hooks ------------------------------

const flag = (b: boolean) => (b ? 1 : 0);
/** 1x1, stride 1, no padding: output pixel i reads input pixel i (so 4 of them are one vec4). */
const pointwise = (g: ConvGeometry) => g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;

/**
 * A weight view (..., d) copied contiguous with its last dim zero-padded to a multiple of 4, so the
 * GEMM reads 4 of it as one aligned vec4. Outside the graph.
 */
const repack4 = (view: () => Tensor) =>
  noGrad(() =>
    tidy(() => {
      const v = view(),
        d = v.shape[v.ndim - 1],
        d4 = Math.ceil(d / 4) * 4;
      if (d4 === d) return contiguous(v);
      const out = zeros([...v.shape.slice(0, -1), d4], { dtype: v.dtype, device: v.device });
      assign(narrow(out, v.ndim - 1, 0, d), v);
      return out;
    }),
  );

const geometryParams = (g: ConvGeometry) => ({
  C: g.c,
  H: g.h,
  W: g.w,
  O: g.o,
  OH: g.oh,
  OW: g.ow,
  stride_y: g.sh,
  stride_x: g.sw,
  pad_y: g.ph,
  pad_x: g.pw,
  dil_y: g.dh,
  dil_x: g.dw,
});

/** (O, C/groups, kh, kw) → (O, kh, kw, Cg4): the layout the forward GEMM reads (a tap's channels contiguous). */
export const packConvWeight = (w: Tensor) => repack4(() => permute(w, [0, 2, 3, 1]));

/** Where a tensor's (H, W) planes lie in its buffer: batch and channel strides and an offset, in elements. */
export interface PlaneLayout {
  sb: number;
  sc: number;
  off: number;
}

/** The plane layout of a view whose planes are contiguous rows (strides [sb, sc, W, 1]), else null. */
export function planeLayout(t: Tensor): PlaneLayout | null {
  const [, , h, w] = t.shape,
    [sb, sc, sh, sw] = t.strides;
  return (sw === 1 || w === 1) && (sh === w || h === 1) ? { sb, sc, off: t.offset } : null;
}

function conv2dGpu(x: Tensor, w: Tensor, b: Tensor | null, out: Tensor, g: ConvGeometry, fuseSilu: boolean) {
  const xs = contiguous(x);
  const wp = packConvWeight(w);
  const bs = b ? contiguous(b) : null;
  conv2dGpuPacked(xs, wp, bs, out, g, fuseSilu);
  for (const [t, src] of [
    [xs, x],
    [wp, null],
    [bs, b],
  ] as const)
    if (t && t !== src) t.dispose();
}

/**
 * The forward launch, with the weight already packed (packConvWeight) and a contiguous bias. x and
 * out may be any views whose planes are contiguous (planeLayout): a compiled forward reads and
 * writes channel slices of concat buffers in place.
 */
export function conv2dGpuPacked(
  x: Tensor,
  wp: Tensor,
  b: Tensor | null,
  out: Tensor,
  g: ConvGeometry,
  fuseSilu: boolean,
) {
  const gpu = (x.device as WebGPUDevice).gpu;
  const xl = planeLayout(x),
    ol = planeLayout(out);
  if (!xl || !ol)
    throw new Error(
      `conv2d: input and output planes must be contiguous (strides ${fmt(x.strides)}, ${fmt(out.strides)})`,
    );
  const N = g.n * g.oh * g.ow;
  const { file, constants, grid } = gemmLaunch(gpu, 'conv2d', g.og, N, g.groups);
  checkGrid(gpu.limits.maxComputeWorkgroupsPerDimension, grid, 'conv2d', x, wp);
  const aligned = [g.oh * g.ow, xl.sb, xl.sc, xl.off, ol.sb, ol.sc, ol.off].every((v) => v % 4 === 0);
  gpu.dispatch(
    { file, constants: { ...constants, PLANE_VEC4: flag(aligned), POINTWISE: flag(pointwise(g)) } },
    {
      x: x.storage.buffer!,
      x4: x.storage.buffer!,
      w4: wp.storage.buffer!,
      ...(b && { bias: b.storage.buffer! }),
      out: out.storage.buffer!,
    },
    {
      M: g.og,
      N,
      seg_y: g.kh,
      seg_x: g.kw,
      seg_len: g.cg,
      ksplit: 1,
      cg4: wp.shape[3],
      ...geometryParams(g),
      has_bias: b ? 1 : 0,
      act: fuseSilu ? 1 : 0,
      x_sb: xl.sb,
      x_sc: xl.sc,
      x_off: xl.off,
      out_sb: ol.sb,
      out_sc: ol.sc,
      out_off: ol.off,
    },
    grid,
  );
}

function gradInputGpu(gy: Tensor, w: Tensor, gx: Tensor, g: ConvGeometry) {
  const gpu = (gy.device as WebGPUDevice).gpu;
  const gs = contiguous(gy);
  // (groups, Cg, kh, kw, Og4): for one input channel and tap, the group's outputs are contiguous
  const wt = repack4(() => permute(reshape(w, [g.groups, g.og, g.cg, g.kh, g.kw]), [0, 2, 3, 4, 1]));
  // One GEMM per stride phase (see shaders/conv2d_grad_input.wgsl): only the taps that land.
  for (let py = 0; py < g.sh; py++)
    for (let px = 0; px < g.sw; px++) {
      const ty = phaseTaps(py, g.sh, g.ph, g.dh, g.kh),
        tx = phaseTaps(px, g.sw, g.pw, g.dw, g.kw);
      const Hq = Math.ceil((g.h - py) / g.sh),
        Wq = Math.ceil((g.w - px) / g.sw);
      const N = g.n * Hq * Wq;
      if (N === 0) continue;
      const { file, constants, grid } = gemmLaunch(gpu, 'conv2d_grad_input', g.cg, N, g.groups);
      checkGrid(gpu.limits.maxComputeWorkgroupsPerDimension, grid, 'conv2dGradInput', gy, w);
      gpu.dispatch(
        {
          file,
          constants: {
            ...constants,
            PLANE_VEC4: flag(g.sh === 1 && g.sw === 1 && (g.h * g.w) % 4 === 0),
            POINTWISE: flag(pointwise(g)),
          },
        },
        { dy: gs.storage.buffer!, dy4: gs.storage.buffer!, w4: wt.storage.buffer!, dx: gx.storage.buffer! },
        {
          M: g.cg,
          N,
          seg_y: ty.count,
          seg_x: tx.count,
          seg_len: g.og,
          ksplit: 1,
          og4: wt.shape[4],
          C: g.c,
          H: g.h,
          W: g.w,
          O: g.o,
          OH: g.oh,
          OW: g.ow,
          kh: g.kh,
          kw: g.kw,
          stride_y: g.sh,
          stride_x: g.sw,
          phase_y: py,
          phase_x: px,
          Hq,
          Wq,
          ky0: ty.k0,
          kx0: tx.k0,
          kstep_y: ty.kstep,
          kstep_x: tx.kstep,
          c0_y: ty.c0,
          c0_x: tx.c0,
          dstep_y: ty.dstep,
          dstep_x: tx.dstep,
        },
        grid,
      );
    }
  if (gs !== gy) gs.dispose();
  wt.dispose();
}

/**
 * The taps k of one axis that reach input positions i = q * stride + phase: (phase + pad - k * dil)
 * must divide by stride. They are k = k0 + j * kstep (j < count), landing on output
 * q + c0 - j * dstep.
 */
export function phaseTaps(phase: number, stride: number, pad: number, dil: number, kernel: number) {
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const kstep = stride / gcd(stride, dil);
  let k0 = 0;
  while (k0 < Math.min(kernel, kstep) && (phase + pad - k0 * dil) % stride !== 0) k0++;
  if (k0 >= Math.min(kernel, kstep)) return { k0: 0, kstep, count: 0, c0: 0, dstep: 0 };
  return {
    k0,
    kstep,
    count: Math.ceil((kernel - k0) / kstep),
    c0: (phase + pad - k0 * dil) / stride,
    dstep: (kstep * dil) / stride,
  };
}

function gradWeightGpu(x: Tensor, gy: Tensor, g: ConvGeometry): Tensor {
  const gpu = (x.device as WebGPUDevice).gpu;
  const xs = contiguous(x),
    gs = contiguous(gy);
  const N = g.cg * g.kh * g.kw;
  const segments = g.n * g.oh;
  // K (every output pixel) is long and M x N small: split K so enough workgroups run at once,
  // then add the parts.
  const probe = gemmLaunch(gpu, 'conv2d_grad_weight', g.og, N, g.groups);
  const workgroups = probe.grid[0] * probe.grid[1] * probe.grid[2];
  const target = probe.variant === 'gpu' ? 512 : 64;
  const ksplit = Math.max(
    1,
    Math.min(
      segments,
      Math.ceil(target / workgroups),
      Math.floor(gpu.limits.maxComputeWorkgroupsPerDimension / g.groups),
    ),
  );
  const { file, constants, grid } = gemmLaunch(gpu, 'conv2d_grad_weight', g.og, N, g.groups * ksplit);
  checkGrid(gpu.limits.maxComputeWorkgroupsPerDimension, grid, 'conv2dGradWeight', x, gy);
  const parts = Tensor.empty([ksplit, g.o, g.cg, g.kh, g.kw], x.dtype, x.device);
  gpu.dispatch(
    { file, constants: { ...constants, A_VEC4: flag(g.ow % 4 === 0), ROW_VEC4: flag(N % 4 === 0) } },
    { dy: gs.storage.buffer!, dy4: gs.storage.buffer!, x: xs.storage.buffer!, dw: parts.storage.buffer! },
    { M: g.og, N, seg_y: segments, seg_x: 1, seg_len: g.ow, ksplit, ...geometryParams(g), kh: g.kh, kw: g.kw },
    grid,
  );
  if (xs !== x) xs.dispose();
  if (gs !== gy) gs.dispose();
  if (ksplit === 1) return reshape(parts, [g.o, g.cg, g.kh, g.kw]);
  const gw = sum(parts, 0);
  parts.dispose();
  return gw;
}

function checkGrid(max: number, grid: number[], op: string, a: Tensor, b: Tensor) {
  if (grid.some((d) => d > max))
    throw new Error(
      `${op}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} need a grid of [${grid}] workgroups, over this adapter's ${max} per dimension; split the batch`,
    );
}
