// half=True in predict, val and track. Ultralytics runs the model in float16 where its backend can
// (AutoBackend's fp16, then `args.half = model.fp16`). This engine's kernels are float32-only (no f16
// storage or WGSL `enable f16;` variants yet), so half=True is accepted and falls back to FP32 with
// one warning naming the device and why, never silently. export's half= (float16 weights in the
// exported file) is separate and implemented (tasks/export).
//
// Imports: engine (the device, the adapter's features).

import { webgpuAdapterFeatures, type Device } from '../engine/device.js';

/** Why `device` runs half=True in FP32 (the text after "half=True not supported on <device>: "). */
export function halfFallbackReason(device: Device): string {
  if (device.type !== 'webgpu') return 'the cpu device computes in float32';
  return webgpuAdapterFeatures().has('shader-f16')
    ? "the adapter has shader-f16, but yolo-ts' WGSL kernels are float32-only"
    : 'the adapter has no shader-f16 feature';
}

/** Warns once per call when half=True, and returns the half the run uses (always false today). */
export function resolveHalf(half: unknown, device: Device, warn: (s: string) => void = console.warn): false {
  if (half === true)
    warn(
      `WARNING ⚠️ half=True not supported on ${device.type === 'webgpu' ? `webgpu (${device.name})` : 'cpu'}: ${halfFallbackReason(device)}, using FP32`,
    );
  return false;
}
