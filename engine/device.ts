// Devices. `cpu` is the pure-TypeScript reference; `webgpu` runs WGSL kernels through Dawn
// (the `webgpu` npm package); `wasm` runs WebAssembly SIMD kernels on the CPU's cores
// (engine/backends/wasm). `getDevice()` picks webgpu on a real GPU, wasm where the only WebGPU
// adapter is a CPU one (lavapipe, SwiftShader) or there is none, and cpu where WebAssembly has no SIMD.
import { availableParallelism } from 'node:os';
import { GpuRuntime } from './backends/webgpu.js';
import { isCpuAdapterName } from './backends/kernel_variants.js';
import { hasWasmSimd, WasmRuntimeImpl } from './backends/wasm/runtime.js';

export type DeviceType = 'cpu' | 'webgpu' | 'wasm' | 'meta';

interface DeviceBase {
  readonly type: DeviceType;
  /** human-readable: 'cpu' or the adapter name */
  readonly name: string;
}

/** Every device; `device.type` narrows it (no casts needed to reach `.gpu` or `.wasm`). */
export type Device = CpuDevice | WebGPUDevice | WasmDevice | MetaDevice;

export class CpuDevice implements DeviceBase {
  readonly type = 'cpu' as const;
  readonly name = 'cpu (TypeScript reference)';
}

export class WebGPUDevice implements DeviceBase {
  readonly type = 'webgpu' as const;
  /** the adapter is a CPU rasterizer (lavapipe/llvmpipe, SwiftShader), not a GPU */
  cpuAdapter = false;
  constructor(readonly gpu: GpuRuntime) {}
  get name() {
    return this.gpu.adapterName;
  }
}

/** Tensors live in one shared WebAssembly.Memory; kernels run on `wasm.threads` threads. */
export class WasmDevice implements DeviceBase {
  readonly type = 'wasm' as const;
  /** why the default device is wasm (empty when asked for by name) */
  reason = '';
  constructor(readonly wasm: WasmRuntimeImpl) {}
  get name() {
    const r = this.wasm;
    return `wasm SIMD${r.relaxed ? ' + relaxed FMA' : ''}, ${r.threads} thread${r.threads === 1 ? '' : 's'}${r.note ? `; ${r.note}` : ''}`;
  }
}

/**
 * Shape-only tensors: no memory, no kernels. Ops on it check shapes as usual and then hand their
 * name and attributes to the graph tracer (engine/graph) instead of launching anything.
 */
export class MetaDevice implements DeviceBase {
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
let adapterFeatures: ReadonlySet<string> = new Set();

/** The opened WebGPU adapter's features (empty before openWebGPU): e.g. whether it has shader-f16. */
export const webgpuAdapterFeatures = (): ReadonlySet<string> => adapterFeatures;

const HOW_TO_GET_WEBGPU =
  'install a Vulkan driver (on Debian bookworm: libvulkan1 and mesa-vulkan-drivers from bookworm-backports) or run on a machine with a GPU';

/** Opens the WebGPU device once; null when no adapter is available. */
export function openWebGPU(): Promise<WebGPUDevice | null> {
  webgpuTried ??= (async () => {
    const browserGpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu; // in a browser tab (web/): the page's WebGPU, not Dawn
    if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp'; // silences a harmless Vulkan loader warning
    let mod: typeof import('webgpu') | null = null;
    try {
      if (!browserGpu) mod = await import('webgpu');
    } catch {
      return null;
    }
    if (mod) Object.assign(globalThis, mod.globals); // GPUBufferUsage etc.
    // Keep the GPU instance referenced for the device's lifetime: if it is collected, Dawn tears
    // down the instance under the live device and the process aborts.
    gpuInstance = browserGpu ?? mod!.create([]);
    // Dawn prints "maxDynamic{Uniform,Storage}BuffersPerPipelineLayout artificially reduced from 1000000
    // to 16" here, inside requestAdapter: its NormalizeLimits (src/dawn/native/Limits.cpp) clamps what
    // the Vulkan driver reports while discovering adapters, and writes with dawn::WarningLog straight to
    // fd 2, before any device or limit request; featureLevel, toggles and requiredLimits do not change it.
    // The `yolo` command drops those two lines from its stderr (tasks/cli_stderr.ts); the API cannot.
    const adapter = await gpuInstance.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return null;
    adapterFeatures = new Set(adapter.features);
    // Ask for the adapter's real limits, not WebGPU's conservative defaults.
    const want = [
      'maxStorageBufferBindingSize',
      'maxBufferSize',
      'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup',
      'maxComputeWorkgroupSizeX',
      'maxComputeWorkgroupSizeY',
      'maxStorageBuffersPerShaderStage',
      'maxComputeWorkgroupsPerDimension',
    ] as const;
    const requiredLimits: Record<string, number> = {};
    for (const k of want) requiredLimits[k] = adapter.limits[k];
    // subgroups: the GEMM core for CPU adapters shares loaded values across lanes (engine/backends/kernel_variants.ts).
    const requiredFeatures = adapter.features.has('subgroups') ? (['subgroups'] as GPUFeatureName[]) : [];
    // timestamp-query: YOLO_PROFILE's per-kernel GPU times (engine/profile.ts); unused otherwise
    if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
    // shader-f16: half=True's compiled forward stores activations and weights as f16 (engine/backends/wgsl_f16.ts)
    if (adapter.features.has('shader-f16')) requiredFeatures.push('shader-f16');
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    const info = adapter.info;
    const name =
      info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'WebGPU adapter';
    webgpu = new WebGPUDevice(new GpuRuntime(device, name));
    webgpu.cpuAdapter = isCpuAdapter(adapter);
    return webgpu;
  })();
  return webgpuTried;
}

/** Dawn's adapter info says whether it is a CPU implementation; older Dawn only names it. */
function isCpuAdapter(adapter: GPUAdapter): boolean {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (info.isFallbackAdapter || (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter)
    return true;
  const name = [info.vendor, info.architecture, info.device, info.description].join(' ');
  return isCpuAdapterName(name) || /software/i.test(name);
}

export interface DeviceOptions {
  /** wasm device: worker threads + the calling thread (default: env YOLO_THREADS, else one per core) */
  threads?: number | string | null;
}

let wasmDevice: WasmDevice | null = null;
let wasmOpening: Promise<WasmDevice> | null = null;

/** The `threads=` option (or YOLO_THREADS) as a count, with an error naming the option when bad. */
export function parseThreads(v: number | string | null | undefined): number {
  const src = v ?? process.env.YOLO_THREADS;
  if (src === undefined || src === null || src === '') return availableParallelism();
  const n = Number(src);
  const from = v !== undefined && v !== null ? 'threads' : 'YOLO_THREADS';
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new Error(
      `${from}=${src}: expected a whole number of threads from 1 to 256 (default: one per core, ${availableParallelism()} here)`,
    );
  return n;
}

/**
 * The wasm device (one per process). A different `threads` than the open one reopens it; a
 * machine without WebAssembly SIMD gets an error saying so.
 */
export async function openWasm(opts: DeviceOptions = {}): Promise<WasmDevice> {
  const threads = parseThreads(opts.threads);
  if (wasmDevice && wasmDevice.wasm.threads === threads) return wasmDevice;
  if (wasmOpening && !wasmDevice) {
    const d = await wasmOpening;
    if (d.wasm.threads === threads) return d;
  }
  if (!hasWasmSimd())
    throw new Error('device=wasm: this JavaScript engine has no WebAssembly SIMD (128-bit); use device=cpu');
  const old = wasmDevice;
  wasmOpening = WasmRuntimeImpl.create({ threads, relaxed: process.env.YOLO_WASM_RELAXED !== '0' }).then(
    (rt) => (wasmDevice = new WasmDevice(rt)),
  );
  const d = await wasmOpening;
  if (old) void old.wasm.destroy(); // its tensors stay readable (the memory lives on), its workers stop
  return d;
}

/**
 * Resolves `device=webgpu|wasm|cpu` (Ultralytics spellings like '0' or 'cuda' mean the GPU).
 * Without a name: webgpu on a real GPU; wasm where the only WebGPU adapter is a CPU one or there
 * is none (the reason is on `device.reason`); cpu, with one warning line, without wasm SIMD.
 */
export async function getDevice(name?: string | Device, opts: DeviceOptions = {}): Promise<Device> {
  if (name && typeof name === 'object') return name;
  const want = (name ?? '').toString().trim().toLowerCase();
  if (want === 'cpu') return cpu;
  if (want === 'meta') return meta;
  if (want === 'wasm') return openWasm(opts);
  if (want === '' || want === 'auto') {
    if (
      defaultDevice &&
      (defaultDevice.type !== 'wasm' ||
        opts.threads == null ||
        parseThreads(opts.threads) === defaultDevice.wasm.threads)
    )
      return defaultDevice;
    const gpu = await openWebGPU();
    if (gpu && !gpu.cpuAdapter) return (defaultDevice = gpu);
    const why = gpu ? `the only WebGPU adapter (${gpu.name}) runs on the CPU` : 'no WebGPU adapter found';
    if (!hasWasmSimd()) {
      console.warn(
        `WARNING: ${why} and this JavaScript engine has no WebAssembly SIMD, running on the cpu device (slow TypeScript reference)`,
      );
      return (defaultDevice = gpu ?? cpu);
    }
    const w = await openWasm(opts);
    w.reason = why;
    return (defaultDevice = w);
  }
  if (['webgpu', 'gpu', 'cuda', 'mps', '0', 'cuda:0'].includes(want)) {
    const gpu = await openWebGPU();
    if (!gpu)
      throw new Error(
        `device=${name}: no WebGPU adapter found; ${HOW_TO_GET_WEBGPU}, or pass device=wasm or device=cpu`,
      );
    return gpu;
  }
  throw new Error(`device=${name}: unknown device (expected webgpu, wasm or cpu)`);
}

/** The device as the start-up line shows it: `webgpu (NVIDIA ...)`, `wasm (SIMD ..., 2 threads; why)`, `cpu (TypeScript reference)`. */
export function describeDevice(d: Device): string {
  if (d.type === 'cpu') return d.name;
  if (d.type === 'wasm')
    return `wasm (${d.name.replace(/^wasm /, '')}${d.reason ? `; chosen because ${d.reason}` : ''})`;
  return `${d.type} (${d.name})`;
}

/** Releases the Dawn device so the process can exit. Safe to call more than once. */
export function releaseDevices() {
  if (webgpu) webgpu.gpu.destroy();
  webgpu = null;
  webgpuTried = null;
  gpuInstance = null;
  defaultDevice = null;
  if (wasmDevice) void wasmDevice.wasm.destroy(); // tensors on it stay readable; its worker threads stop
  wasmDevice = null;
  wasmOpening = null;
}

/** Tensors on this device are host arrays the cpu loops can run over in place (cpu; wasm's memory views). */
export function onHost(d: Device): d is CpuDevice | WasmDevice {
  return d.type === 'cpu' || d.type === 'wasm';
}
