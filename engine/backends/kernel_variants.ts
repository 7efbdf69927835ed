// Which GEMM core a WebGPU adapter runs (conv2d forward/backward and matmul share it):
//   'gpu'      shaders/gemm_tiled.wgsl: 64x64 tiles through workgroup memory, what GPUs want.
//   'cpu-like' shaders/gemm_subgroup.wgsl: register blocking with subgroup broadcasts, for
//              adapters that run shaders on the CPU (Mesa llvmpipe/lavapipe, SwiftShader), where
//              workgroup memory is no faster than a buffer and every load costs a loop over lanes.
// YOLO_KERNEL_VARIANT=gpu|cpu-like overrides the choice (benchmarks; tests use setGemmVariant).
import type { GpuRuntime } from './webgpu.js';

export type GemmVariant = 'gpu' | 'cpu-like';

/**
 * Whether an adapter's name says it runs shaders on the CPU (Mesa llvmpipe/lavapipe, SwiftShader).
 * The GEMM core is chosen by this alone; engine/device.ts's default-device check adds Dawn's
 * isFallbackAdapter and a 'software' vendor to it.
 */
export const isCpuAdapterName = (name: string): boolean => /llvmpipe|lavapipe|swiftshader/i.test(name);

let forced: GemmVariant | null = null;

/** Forces a variant for every later launch (null: back to the adapter's choice). For tests. */
export function setGemmVariant(v: GemmVariant | null) {
  forced = v;
}

/** The subgroup core needs the subgroups feature and subgroups of at least 8 lanes (its workgroup is one). */
export function supportsSubgroupGemm(gpu: GpuRuntime): boolean {
  const info = (gpu.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo;
  return gpu.device.features.has('subgroups') && (info?.subgroupMinSize ?? 0) >= 8;
}

export function gemmVariant(gpu: GpuRuntime): GemmVariant {
  const env = process.env.YOLO_KERNEL_VARIANT;
  if (env && env !== 'gpu' && env !== 'cpu-like')
    throw new Error(`YOLO_KERNEL_VARIANT=${env}: expected gpu or cpu-like`);
  const want = forced ?? (env as GemmVariant | undefined) ?? (isCpuAdapterName(gpu.adapterName) ? 'cpu-like' : 'gpu');
  if (want === 'cpu-like' && !supportsSubgroupGemm(gpu)) {
    if (forced || env)
      throw new Error(
        `GEMM variant cpu-like needs the WebGPU 'subgroups' feature with 8+ lanes, which adapter '${gpu.adapterName}' lacks`,
      );
    return 'gpu';
  }
  return want;
}

/**
 * Shader file, override constants and grid for one GEMM launch of an op (`conv2d`, `matmul`, ...)
 * of M x N per slice (grid z = slices).
 */
export function gemmLaunch(gpu: GpuRuntime, op: string, M: number, N: number, slices: number) {
  const variant = gemmVariant(gpu);
  if (variant === 'gpu') {
    // a workgroup computes 64 x 64
    const grid: [number, number, number] = [Math.ceil(N / 64), Math.ceil(M / 64), slices];
    return { variant, file: `${op}_tiled.wgsl`, constants: {} as Record<string, number>, grid };
  }
  // a workgroup computes 8 * RQ rows x 32 columns: the most rows M fills (more rows, fewer loads
  // per FMA), so layers with 3 or 16 channels do not compute padding rows
  const rq = M <= 8 ? 1 : M <= 16 ? 2 : M < 64 ? 4 : 8;
  const grid: [number, number, number] = [Math.ceil(N / 32), Math.ceil(M / (8 * rq)), slices];
  return { variant, file: `${op}_subgroup.wgsl`, constants: { RQ: rq } as Record<string, number>, grid };
}
