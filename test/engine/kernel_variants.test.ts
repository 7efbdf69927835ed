// engine/backends/kernel_variants.ts isCpuAdapterName: the one name test behind both the GEMM core
// choice (name only) and engine/device.ts's CPU-adapter check (which adds isFallbackAdapter and 'software').
import t from 'tap';
import { isCpuAdapterName } from '../../engine/backends/kernel_variants.js';

t.test('adapter names that run shaders on the CPU', async (t) => {
  for (const name of [
    'llvmpipe (LLVM 15.0.6, 256 bits)',
    'Mesa lavapipe',
    'Google SwiftShader Device (Subzero)',
    'LLVMPIPE',
  ])
    t.ok(isCpuAdapterName(name), name);
  // 'software' alone is the default-device check's extra condition, not the GEMM core's
  for (const name of [
    'NVIDIA GeForce RTX 4090',
    'Apple M2 Max',
    'AMD Radeon',
    'Microsoft Basic Render Driver software',
    'WebGPU adapter',
  ])
    t.notOk(isCpuAdapterName(name), name);
});
