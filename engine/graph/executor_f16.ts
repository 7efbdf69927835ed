// Half precision for the compiled forward on webgpu (half=True): what an f16 plan stores as f16
// and how values cross between f32 and f16.
//   - slots (activations), conv weights (packed), biases and constants live in f16 buffers; their
//     Tensors keep dtype 'f32' as the engine's ops see them, only the recording knows the bytes are
//     f16 (GpuRuntime.record(fn, { f16: true }) runs every kernel's f16 variant, wgsl_f16.ts);
//   - the input is copied into an f32 staging buffer and converted into its slot by the first
//     recorded kernel; each output is converted into an f32 buffer by the last ones, so run()
//     hands back ordinary f32 tensors (postprocessing, NMS, read back as Float32Array).
// Conversions are elementwise.wgsl's identity with one side stored as f16 (round to nearest even).
import { Storage, Tensor } from '../tensor.js';
import type { Device, WebGPUDevice } from '../device.js';
import { numel } from '../shape.js';
import { prepareChain, type ChainKernel } from './executor_kernels.js';

export type PlanDType = 'f32' | 'f16';

const IDENTITY: ChainKernel = { expr: 'x', alpha: 0, beta: 0, cpu: (v) => v[0] };

/** Whether `device` can run an f16 plan: webgpu with the shader-f16 feature enabled. */
export function deviceHasF16(device: Device): boolean {
  return device.type === 'webgpu' && device.gpu.device.features.has('shader-f16');
}

/** An uninitialised contiguous tensor of `shape` whose buffer holds f16 (2 bytes per element). */
export function emptyHalf(device: WebGPUDevice, shape: readonly number[]): Tensor {
  const n = Math.max(numel(shape), 1);
  return new Tensor(new Storage(device, 'f32', n, null, device.gpu.createBuffer(2 * n)), [...shape]);
}

/** A kernel converting f32 `src` (any strides) into f16 `dst`, or f16 `src` into f32 `dst`. */
export function castStep(src: Tensor, dst: Tensor, to: PlanDType): () => void {
  return prepareChain(IDENTITY, [src], dst, to === 'f16' ? ['out'] : ['a']);
}

/** An f16 copy of f32 `t` (contiguous), converted now (not recorded). */
export function toHalf(t: Tensor): Tensor {
  if (t.device.type !== 'webgpu') throw new Error(`f16 plan: ${t.device.type} tensors have no f16 storage`);
  const h = emptyHalf(t.device, t.shape);
  castStep(t, h, 'f16')();
  return h;
}
