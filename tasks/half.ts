// half=True in predict, val and track. Ultralytics runs the model in float16 where its backend can
// (AutoBackend's fp16 on CUDA, then `args.half = model.fp16`) and in float32 elsewhere. Here half
// runs the compiled forward with f16 storage (engine/graph/executor_f16.ts: activations, weights and
// constants in f16, arithmetic in f32, predictions handed back as f32 for NMS) on webgpu when the
// adapter has `shader-f16`. Anywhere else half=True runs in FP32 with one warning naming the device
// and why, never silently. export's half= (float16 weights in the exported file) is separate
// (tasks/export).
//
// Imports: engine (the device, the adapter's features).

import { webgpuAdapterFeatures, type Device } from '../engine/device.js';

/** What half needs from a model: PoseModel's compiled forward (exported formats have none). */
interface HalfModel {
  compiled?: { dtype: 'f32' | 'f16' } | null;
  compile?(on: boolean, opts: { half?: boolean }): unknown;
}

/**
 * Why `device` (and `model`, when given) runs half=True in FP32: the text after "half=True not
 * supported on <device>: "; '' when it runs in FP16.
 */
export function halfFallbackReason(device: Device, model?: unknown): string {
  if (device.type === 'cpu') return 'the cpu device computes in float32';
  if (device.type === 'wasm') return 'the wasm kernels compute in float32';
  if (device.type !== 'webgpu') return `the ${device.type} device runs no kernels`;
  if (!webgpuAdapterFeatures().has('shader-f16') || !device.gpu.device.features.has('shader-f16'))
    return 'the adapter has no shader-f16 feature';
  const m = model as HalfModel | undefined;
  if (m && typeof m.compile !== 'function')
    return 'an exported model runs eagerly in float32 here (half runs in the compiled forward of a .pt or .yaml model)';
  if (m && !m.compiled) return 'half runs in the compiled forward, which YOLO_COMPILE=0 turns off';
  return '';
}

/** The device as the warning names it: `webgpu (<adapter>)`, `wasm`, `cpu`. */
function deviceLabel(device: Device): string {
  return device.type === 'webgpu' ? `webgpu (${device.name})` : device.type;
}

/**
 * The half a run uses: true when half=True and `device` (and `model`) can run FP16; otherwise false,
 * with one warning naming the device and why when half=True was asked for.
 */
export function resolveHalf(
  half: unknown,
  device: Device,
  warn: (s: string) => void = console.warn,
  model?: unknown,
): boolean {
  if (half !== true) return false;
  const why = halfFallbackReason(device, model);
  if (!why) return true;
  warn(`WARNING ⚠️ half=True not supported on ${deviceLabel(device)}: ${why}, using FP32`);
  return false;
}

/**
 * Puts a PoseModel's compiled forward in the run's precision (FP16 for half, else FP32; a switch
 * replans on the next forward). Returns `half`.
 */
export function applyHalf(model: unknown, half: boolean): boolean {
  const m = model as HalfModel;
  if (m?.compiled && typeof m.compile === 'function' && (m.compiled.dtype === 'f16') !== half)
    m.compile(true, { half });
  return half;
}
