// Devices. `cpu` is the pure-TypeScript reference; `webgpu` runs WGSL kernels through Dawn
// (the `webgpu` npm package). `getDevice()` picks webgpu when an adapter exists, else cpu with
// one warning line.
import { GpuRuntime } from './backends/webgpu.js';

export type DeviceType = 'cpu' | 'webgpu' | 'meta';

export interface Device {
  readonly type: DeviceType;
  /** human-readable: 'cpu' or the adapter name */
  readonly name: string;
}

export class CpuDevice implements Device {
  readonly type = 'cpu' as const;
  readonly name = 'cpu (TypeScript reference)';
}

export class WebGPUDevice implements Device {
  readonly type = 'webgpu' as const;
  constructor(readonly gpu: GpuRuntime) {}
  get name() {
    return this.gpu.adapterName;
  }
}

/**
 * Shape-only tensors: no memory, no kernels. Ops on it check shapes as usual and then hand their
 * name and attributes to the graph tracer (engine/graph) instead of launching anything.
 */
export class MetaDevice implements Device {
  readonly type = 'meta' as const;
  readonly name = 'meta (shapes only)';
  /** Reached only by an op without a meta branch (it would launch a kernel). */
  get gpu(): never {
    throw new Error('meta device: this op has no shape-only (meta) branch, so it cannot be traced');
  }
}

export const cpu = new CpuDevice();
export const meta = new MetaDevice();
let webgpu: WebGPUDevice | null = null;
let webgpuTried: Promise<WebGPUDevice | null> | null = null;
let defaultDevice: Device | null = null;
let gpuInstance: GPU | null = null;

const HOW_TO_GET_WEBGPU =
  'install a Vulkan driver (on Debian bookworm: libvulkan1 and mesa-vulkan-drivers from bookworm-backports) or run on a machine with a GPU';

/** Opens the WebGPU device once; null when no adapter is available. */
export function openWebGPU(): Promise<WebGPUDevice | null> {
  webgpuTried ??= (async () => {
    if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp'; // silences a harmless Vulkan loader warning
    let mod: typeof import('webgpu');
    try {
      mod = await import('webgpu');
    } catch {
      return null;
    }
    Object.assign(globalThis, mod.globals); // GPUBufferUsage etc.
    // Keep the GPU instance referenced for the device's lifetime: if it is collected, Dawn tears
    // down the instance under the live device and the process aborts.
    gpuInstance = mod.create([]);
    const adapter = await gpuInstance.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return null;
    // Ask for the adapter's real limits, not WebGPU's conservative defaults.
    const want = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
      'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupsPerDimension'] as const;
    const requiredLimits: Record<string, number> = {};
    for (const k of want) requiredLimits[k] = adapter.limits[k];
    // subgroups: the GEMM core for CPU adapters shares loaded values across lanes (engine/backends/kernel_variants.ts).
    const requiredFeatures = adapter.features.has('subgroups') ? (['subgroups'] as GPUFeatureName[]) : [];
    // timestamp-query: YOLO_PROFILE's per-kernel GPU times (engine/profile.ts); unused otherwise
    if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    const info = adapter.info;
    const name = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'WebGPU adapter';
    webgpu = new WebGPUDevice(new GpuRuntime(device, name));
    return webgpu;
  })();
  return webgpuTried;
}

/**
 * Resolves `device=webgpu|cpu` (Ultralytics spellings like '0' or 'cuda' mean the GPU).
 * Without a name: webgpu when an adapter exists, else cpu with one warning line.
 */
export async function getDevice(name?: string | Device): Promise<Device> {
  if (name && typeof name === 'object') return name;
  const want = (name ?? '').toString().trim().toLowerCase();
  if (want === 'cpu') return cpu;
  if (want === 'meta') return meta;
  if (want === '' || want === 'auto') {
    if (defaultDevice) return defaultDevice;
    const gpu = await openWebGPU();
    if (!gpu) console.warn(`WARNING: no WebGPU adapter found, running on the cpu device; to use WebGPU, ${HOW_TO_GET_WEBGPU}`);
    return (defaultDevice = gpu ?? cpu);
  }
  if (['webgpu', 'gpu', 'cuda', 'mps', '0', 'cuda:0'].includes(want)) {
    const gpu = await openWebGPU();
    if (!gpu) throw new Error(`device=${name}: no WebGPU adapter found; ${HOW_TO_GET_WEBGPU}, or pass device=cpu`);
    return gpu;
  }
  throw new Error(`device=${name}: unknown device (expected webgpu or cpu)`);
}

/** Releases the Dawn device so the process can exit. Safe to call more than once. */
export function releaseDevices() {
  if (webgpu) webgpu.gpu.destroy();
  webgpu = null;
  webgpuTried = null;
  gpuInstance = null;
  defaultDevice = null;
}
