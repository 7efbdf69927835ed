// half=True on one WebGPU adapter, in one run: yolov8n-pose's compiled forward with f16 storage
// (engine/graph/executor_f16.ts) against the f32 one on bus.jpg letterboxed to 640 (max|Δ|/max|ref|
// of the (1, 56, A) head output, and of its boxes, scores and keypoints each), the detections both
// ways through YOLO.predict (count, and the largest box/score difference between matched pairs),
// and the latency of each compiled forward (upload to read-back, median) at 640x1 and 640x8.
// Fails (exit 1, FAIL lines) on any error, an adapter without shader-f16, a head output further than
// 1e-2 from f32's, or a different number of detections. Needs only node and the repository.
//
// usage: npx tsx bench/half_check.ts [--weights test/fixtures/predict/yolov8n-pose-coco128.pt]
//        [--runs 20] [--batches 1,8] [--conf 0.05]
// (the bundled checkpoint is weak: its best person score on bus.jpg is ~0.19, hence conf 0.05)
import * as E from '../engine/index.js';
import { loadPoseModel } from '../models/index.js';
import { gemmVariant } from '../engine/backends/kernel_variants.js';
import { readImage } from '../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../tasks/data/letterbox.js';
import { YOLO } from '../tasks/yolo.js';
import { CompiledForward } from '../engine/graph/index.js';
import { median, opt } from './common.js';

const weights = opt('weights', 'test/fixtures/predict/yolov8n-pose-coco128.pt');
const runs = Number(opt('runs', '20'));
const batches = opt('batches', '1,8').split(',').map(Number);
const conf = Number(opt('conf', '0.05'));
const IMG = 'test/fixtures/predict/images/bus.jpg';
const failures: string[] = [];
const check = (ok: boolean, what: string) =>
  ok ? console.log(`ok    ${what}`) : (failures.push(what), console.log(`FAIL  ${what}`));

async function main() {
  const t0 = performance.now();
  const gpu = await E.openWebGPU();
  if (!gpu) throw new Error('no WebGPU adapter (a Vulkan driver is needed: see bench/device_bundle.sh)');
  const features = gpu.gpu.device.features;
  console.log(`adapter: ${gpu.name}; GEMM core ${gemmVariant(gpu.gpu)}; shader-f16 ${features.has('shader-f16')}`);
  if (!features.has('shader-f16'))
    throw new Error(`adapter '${gpu.name}' has no shader-f16: half=True falls back to FP32 there`);

  // ---- the head output on bus.jpg at 640, f32 vs f16 ----
  const model = loadPoseModel(weights, { device: gpu }).eval().fuse();
  const lb = letterbox(readImage(IMG), { newShape: 640, auto: true, stride: 32 });
  const shape = [1, 3, lb.image.height, lb.image.width];
  const chw = toCHWFloat(lb.image);
  const outputs: Record<string, Float32Array> = {};
  for (const half of [false, true]) {
    model.compile(true, { half });
    const x = E.tensor(chw, shape, { device: gpu });
    const y = model.predict(x);
    outputs[half ? 'f16' : 'f32'] = Float32Array.from((await y.data()) as Float32Array);
    if (y.shape[1] !== 56) throw new Error(`head output shape [${y.shape}], expected (1, 56, A)`);
    x.dispose();
    y.dispose();
  }
  const [a, b] = [outputs.f32, outputs.f16];
  const A = a.length / 56;
  const rel = (r0: number, r1: number) => {
    let d = 0,
      m = 0;
    for (let r = r0; r < r1; r++)
      for (let k = 0; k < A; k++) {
        const i = r * A + k;
        if (!Number.isFinite(b[i])) return Infinity;
        ((d = Math.max(d, Math.abs(b[i] - a[i]))), (m = Math.max(m, Math.abs(a[i]))));
      }
    return d / m;
  };
  console.log(`head output at ${shape.slice(2).join('x')} (${A} anchors), max|f16 - f32| / max|f32|:`);
  for (const [name, r0, r1] of [
    ['all 56 rows', 0, 56],
    ['boxes', 0, 4],
    ['scores', 4, 5],
    ['keypoints', 5, 56],
  ] as const)
    check(rel(r0, r1) <= 1e-2, `  ${name.padEnd(11)} ${rel(r0, r1).toExponential(2)} <= 1e-2`);

  // ---- detections through YOLO.predict (LetterBox, NMS, scaling as a user gets them) ----
  const yolo = new YOLO(weights);
  const args = { device: gpu, imgsz: 640, conf, verbose: false };
  const [d32] = await yolo.predict(IMG, args);
  const [d16] = await yolo.predict(IMG, { ...args, half: true });
  const n32 = d32.boxes.length,
    n16 = d16.boxes.length;
  check(n32 === n16, `detections at conf ${conf}: f32 ${n32}, f16 ${n16}`);
  const rows = (d: Float32Array) => Array.from({ length: d.length / 6 }, (_, i) => d.subarray(6 * i, 6 * i + 6));
  const twins = rows(d16.boxes.data);
  let dBox = 0,
    dConf = 0;
  for (const r of rows(d32.boxes.data)) {
    if (!twins.length) break;
    const dist = (q: Float32Array) => Math.max(...[0, 1, 2, 3].map((k) => Math.abs(q[k] - r[k])));
    const k = twins.reduce((best, q, j) => (dist(q) < dist(twins[best]) ? j : best), 0);
    dBox = Math.max(dBox, dist(twins[k]));
    dConf = Math.max(dConf, Math.abs(twins[k][4] - r[4]) / r[4]);
    twins.splice(k, 1);
  }
  console.log(
    `      matched pairs: box corners within ${dBox.toFixed(2)} px, scores within ${(100 * dConf).toFixed(2)} % (relative)`,
  );

  // ---- latency of the compiled forward, f32 vs f16: the two plans side by side, runs alternated ----
  model.compile(false);
  console.log(
    `compiled forward latency, upload to read-back, median of ${runs} alternated runs (after 3 warm-up runs):`,
  );
  for (const B of batches) {
    const s = [B, 3, 640, 640];
    const x = E.tensor(E.rand(s).dataSync(), s, { device: gpu });
    const plans = (['f32', 'f16'] as const).map(
      (dtype) => new CompiledForward(model, gpu, { select: (o) => (o as number[])[0], dtype }),
    );
    const once = async (cf: CompiledForward) => {
      const t = performance.now();
      const y = cf.run(x) as E.Tensor;
      await y.data();
      y.dispose();
      return performance.now() - t;
    };
    for (let i = 0; i < 3; i++) for (const cf of plans) await once(cf);
    const times: number[][] = [[], []];
    for (let i = 0; i < runs; i++) for (const [k, cf] of plans.entries()) times[k].push(await once(cf));
    const [m32, m16] = times.map(median);
    const [b32, b16] = plans.map((cf) => cf.executor(s).bytes / 2 ** 20);
    console.log(
      `  640x${B}: f32 ${m32.toFixed(2)} ms, f16 ${m16.toFixed(2)} ms, f16/f32 ${(m16 / m32).toFixed(2)} (plan device bytes ${b32.toFixed(1)} / ${b16.toFixed(1)} MiB)`,
    );
    plans.forEach((cf) => cf.dispose());
    x.dispose();
  }
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

try {
  await main();
} catch (e) {
  failures.push((e as Error).stack ?? String(e));
  console.log(`FAIL  ${(e as Error).stack ?? e}`);
} finally {
  E.releaseDevices();
}
if (failures.length) {
  console.log(`half_check: ${failures.length} failure(s)`);
  process.exit(1);
}
console.log('half_check: all checks passed');
