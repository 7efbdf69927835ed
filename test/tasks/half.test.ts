// half=True in predict and val (tasks/half.ts): FP16 on webgpu where the adapter has shader-f16 (the
// compiled forward with f16 storage), with the same detections as FP32 on bus.jpg; elsewhere one
// warning naming the device and why, and the results of half=False.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { YOLO } from '../../tasks/yolo.js';
import { checkModeArgs } from '../../tasks/check_args.js';
import { openWebGPU, releaseDevices, webgpuAdapterFeatures } from '../../engine/device.js';
import type { PoseModel } from '../../models/index.js';
import { halfFallbackReason } from '../../tasks/half.js';

const IMG = fileURLToPath(new URL('../fixtures/predict/images/bus.jpg', import.meta.url));
const YAML = fileURLToPath(new URL('../fixtures/val/coco8-pose/coco8-pose.yaml', import.meta.url));
const WEIGHTS = fileURLToPath(new URL('../fixtures/predict/yolov8n-pose-coco128.pt', import.meta.url));

async function capture<T>(fn: () => Promise<T>): Promise<{ out: T; lines: string[] }> {
  const lines: string[] = [];
  const w = console.warn,
    l = console.log;
  console.warn = (...a: unknown[]) => void lines.push(a.join(' '));
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    return { out: await fn(), lines };
  } finally {
    ((console.warn = w), (console.log = l));
  }
}

t.test('the key check accepts half in predict, track and val', async (t) => {
  for (const m of ['predict', 'track', 'val'] as const) t.same(checkModeArgs(m, { half: true }), { half: true });
});

t.test('cpu: predict and val warn and run in FP32, with the same results as half=False', async (t) => {
  const m = new YOLO('yolov8n-pose.yaml');
  const a = await capture(() => m.predict(IMG, { device: 'cpu', imgsz: 64, half: true, verbose: false, conf: 0.0 }));
  t.ok(
    a.lines.includes('WARNING ⚠️ half=True not supported on cpu: the cpu device computes in float32, using FP32'),
    a.lines.join('\n'),
  );
  const b = await capture(() => m.predict(IMG, { device: 'cpu', imgsz: 64, verbose: false, conf: 0.0 }));
  t.notOk(
    b.lines.some((s) => /half=True/.test(s)),
    'no warning without half',
  );
  t.same(Array.from(a.out[0].boxes.data), Array.from(b.out[0].boxes.data), 'same detections');
  const v = await capture(() => m.val({ data: YAML, imgsz: 64, device: 'cpu', half: true, plots: false }));
  t.ok(
    v.lines.some(
      (s) => s === 'WARNING ⚠️ half=True not supported on cpu: the cpu device computes in float32, using FP32',
    ),
  );
});

t.test('wasm: the warning names the wasm device', async (t) => {
  const m = new YOLO('yolov8n-pose.yaml');
  const a = await capture(() => m.predict(IMG, { device: 'wasm', imgsz: 64, half: true, verbose: false }));
  t.ok(
    a.lines.includes('WARNING ⚠️ half=True not supported on wasm: the wasm kernels compute in float32, using FP32'),
    a.lines.join('\n'),
  );
  t.teardown(releaseDevices);
});

t.test('webgpu: FP16 where the adapter has shader-f16, the same detections as FP32', async (t) => {
  const gpu = await openWebGPU();
  if (!gpu) return t.skip('no WebGPU adapter');
  t.teardown(releaseDevices);
  if (!webgpuAdapterFeatures().has('shader-f16')) {
    const m = new YOLO('yolov8n-pose.yaml');
    const a = await capture(() => m.predict(IMG, { device: 'webgpu', imgsz: 64, half: true, verbose: false }));
    t.ok(
      a.lines.includes(
        `WARNING ⚠️ half=True not supported on webgpu (${gpu.name}): the adapter has no shader-f16 feature, using FP32`,
      ),
      a.lines.join('\n'),
    );
    return;
  }
  // the bundled checkpoint is weak (best person score ~0.19 on bus.jpg): conf 0.05 as its reference does
  const m = new YOLO(WEIGHTS);
  const args = { device: 'webgpu', imgsz: 640, conf: 0.05, verbose: false } as const;
  const full = await capture(() => m.predict(IMG, args));
  const half = await capture(() => m.predict(IMG, { ...args, half: true }));
  t.notOk(
    half.lines.some((s) => /half=True/.test(s)),
    `no fallback warning on ${gpu.name}: ${half.lines.join('\n')}`,
  );
  const model = (m as unknown as { model: PoseModel }).model;
  t.equal(model.compiled?.dtype, 'f16', 'the compiled forward runs with f16 storage');
  t.equal(halfFallbackReason(gpu, model), '', 'a compiled PoseModel runs FP16');
  t.match(halfFallbackReason(gpu, { compile() {}, compiled: null }), /YOLO_COMPILE=0 turns off/, 'eager: FP32');
  t.match(halfFallbackReason(gpu, {}), /an exported model runs eagerly in float32/, 'exported formats: FP32');
  const [a, b] = [full.out[0], half.out[0]];
  t.ok(a.boxes.length >= 10, `FP32 finds ${a.boxes.length} people at conf 0.05`);
  t.equal(b.boxes.length, a.boxes.length, 'FP16: the same number of detections');
  // each FP32 detection has its FP16 twin (order may differ where scores tie within f16 rounding):
  // the box within 1e-2 of the image's size in every coordinate, the score within 1e-2 relative
  const rows = (d: Float32Array) => Array.from({ length: d.length / 6 }, (_, i) => d.subarray(6 * i, 6 * i + 6));
  const size = Math.max(...a.origShape);
  const twins = rows(b.boxes.data);
  let dBox = 0,
    dConf = 0;
  for (const r of rows(a.boxes.data)) {
    const dist = (q: Float32Array) => Math.max(...[0, 1, 2, 3].map((k) => Math.abs(q[k] - r[k])));
    const k = twins.reduce((best, q, j) => (dist(q) < dist(twins[best]) ? j : best), 0);
    dBox = Math.max(dBox, dist(twins[k]) / size);
    dConf = Math.max(dConf, Math.abs(twins[k][4] - r[4]) / r[4]);
    twins.splice(k, 1);
  }
  t.ok(dBox <= 1e-2, `boxes: max |FP16 - FP32| / image size = ${dBox.toExponential(2)} <= 1e-2`);
  t.ok(dConf <= 1e-2, `scores: max relative difference ${dConf.toExponential(2)} <= 1e-2`);
  // a later call without half goes back to FP32: the detections are FP32's again, exactly
  const again = await m.predict(IMG, args);
  t.equal(model.compiled?.dtype, 'f32');
  t.same(Array.from(again[0].boxes.data), Array.from(a.boxes.data), 'half=False after half=True: FP32 again');

  // val: the same metrics to within what f16 rounding can move
  const vArgs = { data: YAML, imgsz: 160, device: 'webgpu', plots: false, verbose: false, conf: 0.05 } as const;
  const vf = await capture(() => m.val(vArgs));
  const vh = await capture(() => m.val({ ...vArgs, half: true }));
  t.notOk(
    vh.lines.some((s) => /half=True/.test(s)),
    'val: no fallback warning',
  );
  for (const k of ['box', 'pose'] as const)
    t.ok(
      Math.abs(vh.out[k].map50 - vf.out[k].map50) <= 0.02,
      `val ${k} mAP50 FP16 ${vh.out[k].map50.toFixed(4)} vs FP32 ${vf.out[k].map50.toFixed(4)}`,
    );
});
