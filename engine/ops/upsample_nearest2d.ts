// Nearest-neighbour upsampling by integer factors, as torch.nn.Upsample(scale_factor=s,
// mode='nearest'): out[n, c, y, x] = in[n, c, floor(y / sh), floor(x / sw)].
// Backward sums the output gradient over each sh x sw block (shaders/upsample_nearest2d.wgsl).
import { Tensor } from '../tensor.js';
import { fmt } from '../shape.js';
import { record } from '../autograd.js';
import { ptrOf } from '../backends/wasm/abi.js';
import { upsampleBackwardWasm, upsampleWasm } from '../backends/wasm/ops_pool.js';
import { onHost, type WebGPUDevice } from '../device.js';
import { contiguous } from './elementwise.js';
import { metaOp } from '../graph/hook.js';
import { planeLayout } from './conv2d.js';

function scales(op: string, x: Tensor, scale: number | [number, number]): [number, number] {
  const [sh, sw] = typeof scale === 'number' ? [scale, scale] : scale;
  if (!(Number.isInteger(sh) && Number.isInteger(sw) && sh >= 1 && sw >= 1))
    throw new Error(`${op}: scale must be a positive integer or a pair of them, got ${JSON.stringify(scale)}`);
  if (x.ndim !== 4) throw new Error(`${op}: expected a (N, C, H, W) tensor, got shape ${fmt(x.shape)}`);
  return [sh, sw];
}

/** (N, C, H, W) → (N, C, H*sh, W*sw). */
export function upsampleNearest2d(x: Tensor, scale: number | [number, number]): Tensor {
  x.assertAlive('upsampleNearest2d');
  const [sh, sw] = scales('upsampleNearest2d', x, scale);
  const [n, c, h, w] = x.shape;
  const out = Tensor.empty([n, c, h * sh, w * sw], x.dtype, x.device);
  if (x.device.type === 'meta') return metaOp('upsample_nearest2d', [x], { scale: [sh, sw] }, out);
  launch('upsample', x, out, h, w, sh, sw);
  return record(out, 'upsample_nearest2d', [x], (g) => [upsampleNearest2dBackward(g, [sh, sw])]);
}

/** The gradient of upsampleNearest2d: (N, C, H*sh, W*sw) → (N, C, H, W), block sums. */
export function upsampleNearest2dBackward(g: Tensor, scale: number | [number, number]): Tensor {
  g.assertAlive('upsampleNearest2dBackward');
  const [sh, sw] = scales('upsampleNearest2dBackward', g, scale);
  const [n, c, oh, ow] = g.shape;
  if (oh % sh || ow % sw)
    throw new Error(`upsampleNearest2dBackward: shape ${fmt(g.shape)} is not a multiple of the scale [${sh}, ${sw}]`);
  const h = oh / sh,
    w = ow / sw;
  const gx = Tensor.empty([n, c, h, w], g.dtype, g.device);
  launch('upsample_backward', g, gx, h, w, sh, sw);
  // Its own gradient is the upsampling again (for double backward).
  return record(gx, 'upsample_nearest2d_backward', [g], (gg) => [upsampleNearest2d(gg, [sh, sw])]);
}

/** Runs one entry point; h, w are the small (input) side, whatever the direction. */
function launch(
  entry: 'upsample' | 'upsample_backward',
  from: Tensor,
  to: Tensor,
  h: number,
  w: number,
  sh: number,
  sw: number,
) {
  if (to.numel === 0) return;
  const src = contiguous(from);
  if (entry === 'upsample' && from.device.type === 'wasm')
    // a bitwise copy of 4-byte elements (every wasm dtype), one task per input row
    upsampleWasm(from.device.wasm, ptrOf(src), ptrOf(to), to.shape[0] * to.shape[1], h, w, sh, sw);
  else if (entry === 'upsample_backward' && from.device.type === 'wasm' && from.dtype === 'f32')
    upsampleBackwardWasm(from.device.wasm, src, to, sh, sw); // block sums, one task per plane
  else if (onHost(from.device)) {
    const a = src.storage.array!,
      b = to.storage.array!;
    const planes = to.shape[0] * to.shape[1],
      ow = w * sw;
    for (let pl = 0; pl < planes; pl++)
      for (let y = 0; y < h * sh; y++)
        for (let x = 0; x < ow; x++) {
          const big = (pl * h * sh + y) * ow + x,
            small = (pl * h + Math.floor(y / sh)) * w + Math.floor(x / sw);
          if (entry === 'upsample') b[big] = a[small];
          else b[small] = (y % sh || x % sw ? b[small] : 0) + a[big]; // first visit of a block starts the sum
        }
  } else {
    const gpu = (from.device as WebGPUDevice).gpu;
    gpu.dispatch(
      { file: 'upsample_nearest2d.wgsl', entry },
      { src: src.storage.buffer!, dst: to.storage.buffer! },
      {
        n: to.numel,
        h,
        w,
        sh,
        sw,
        c: to.shape[1],
        x_sb: from.shape[1] * from.shape[2] * from.shape[3],
        x_sc: from.shape[2] * from.shape[3],
        x_off: 0,
        out_sb: to.shape[1] * to.shape[2] * to.shape[3],
        out_sc: to.shape[2] * to.shape[3],
        out_off: 0,
      },
      gpu.grid1d(to.numel, 256),
    );
  }
  if (src !== from) src.dispose();
}

/**
 * The forward launch on webgpu into a given output view: x and out may be any views whose (H, W)
 * planes are contiguous (conv2d's planeLayout), so a compiled forward writes its concat slice.
 */
export function upsampleNearest2dInto(x: Tensor, out: Tensor, sh: number, sw: number) {
  const xl = planeLayout(x),
    ol = planeLayout(out);
  if (!xl || !ol)
    throw new Error(
      `upsampleNearest2d: input and output planes must be contiguous (strides ${fmt(x.strides)}, ${fmt(out.strides)})`,
    );
  const gpu = (x.device as WebGPUDevice).gpu;
  gpu.dispatch(
    { file: 'upsample_nearest2d.wgsl', entry: 'upsample' },
    { src: x.storage.buffer!, dst: out.storage.buffer! },
    {
      n: out.numel,
      h: x.shape[2],
      w: x.shape[3],
      sh,
      sw,
      c: x.shape[1],
      x_sb: xl.sb,
      x_sc: xl.sc,
      x_off: xl.off,
      out_sb: ol.sb,
      out_sc: ol.sc,
      out_off: ol.off,
    },
    gpu.grid1d(out.numel, 256),
  );
}
