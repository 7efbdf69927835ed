// What a WebGPU adapter does with this engine, in one run: the adapter (name, features, the limits
// the engine uses, the GEMM core it picks), then yolov8n-pose's fused forward on it, eager and
// compiled, against the plain-TypeScript cpu reference on the same input (max|Δ|/max|ref| of the
// (B, 56, A) output). Made to be run once on an unfamiliar adapter (a real GPU) before trusting its
// numbers in bench/model_forward.ts; bench/train_coco8.ts then shows it trains.
//
// usage: npx tsx bench/device_check.ts [--imgsz 320] [--batch 2] [--weights test/fixtures/models/yolov8n-pose-seed0.pt]
import * as E from '../engine/index.js';
import { loadPoseModel } from '../models/index.js';
import { gemmVariant } from '../engine/backends/kernel_variants.js';
import { opt, relDiff } from './common.js';

const imgsz = Number(opt('imgsz', '320'));
const batch = Number(opt('batch', '2'));
const weights = opt('weights', 'test/fixtures/models/yolov8n-pose-seed0.pt');

const gpu = await E.openWebGPU();
if (!gpu) {
  console.log('no WebGPU adapter');
  process.exit(1);
}
const rt = gpu.gpu;
console.log(`adapter: ${gpu.name}`);
console.log(`features: ${[...rt.device.features].sort().join(', ')}`);
const lim = rt.limits;
console.log(
  `limits: maxStorageBufferBindingSize ${lim.maxStorageBufferBindingSize}, maxBufferSize ${lim.maxBufferSize}, ` +
    `maxComputeWorkgroupStorageSize ${lim.maxComputeWorkgroupStorageSize}, maxComputeInvocationsPerWorkgroup ${lim.maxComputeInvocationsPerWorkgroup}`,
);
console.log(`GEMM core: ${gemmVariant(rt)}`);

E.manualSeed(0);
const shape = [batch, 3, imgsz, imgsz];
const host = E.rand(shape).dataSync();

const forward = async (device: E.Device, compiled: boolean) => {
  const model = loadPoseModel(weights, { device }).eval().fuse();
  model.compile(compiled);
  const x = E.tensor(host, shape, { device });
  const t0 = performance.now();
  const y = model.predict(x);
  const out = await y.data();
  const ms = performance.now() - t0;
  x.dispose();
  y.dispose();
  return { out: Float32Array.from(out as Float32Array), ms };
};

const ref = await forward(E.cpu, false);
console.log(`cpu reference forward ${imgsz}x${batch}: ${ref.ms.toFixed(0)} ms`);
for (const compiled of [false, true]) {
  const r = await forward(gpu, compiled);
  console.log(
    `webgpu ${compiled ? 'compiled' : 'eager'} forward: max|Δ|/max|ref| = ${relDiff(r.out, ref.out).toExponential(2)} (first run ${r.ms.toFixed(0)} ms)`,
  );
}
E.releaseDevices();
