// The engine's public surface.
export { Tensor, Storage } from './tensor.js';
export * from './ops/index.js';
export { noGrad, isGradEnabled, needsGrad } from './autograd.js';
export { tidy, tidyAsync, keep } from './memory.js';
export {
  getDevice,
  openWebGPU,
  openWasm,
  releaseDevices,
  describeDevice,
  parseThreads,
  cpu,
  meta,
  type Device,
  type DeviceType,
  type DeviceOptions,
  WebGPUDevice,
  WasmDevice,
  CpuDevice,
  MetaDevice,
} from './device.js';
export { seed as manualSeed, Generator } from './random.js';
export type { DType, TypedArray } from './dtype.js';
