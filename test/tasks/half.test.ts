// half=True in predict and val: accepted, run in FP32 with one warning naming the device and why
// (tasks/half.ts), and the results are those of half=False (nothing else changes).
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { YOLO } from '../../tasks/yolo.js';
import { checkModeArgs } from '../../tasks/check_args.js';
import { openWebGPU, releaseDevices, webgpuAdapterFeatures } from '../../engine/device.js';

const IMG = fileURLToPath(new URL('../fixtures/predict/images/bus.jpg', import.meta.url));
const YAML = fileURLToPath(new URL('../fixtures/val/coco8-pose/coco8-pose.yaml', import.meta.url));

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

t.test('webgpu: the warning names the adapter and whether it has shader-f16', async (t) => {
  const gpu = await openWebGPU();
  if (!gpu) return t.skip('no WebGPU adapter');
  t.teardown(releaseDevices);
  const m = new YOLO('yolov8n-pose.yaml');
  const a = await capture(() => m.predict(IMG, { device: 'webgpu', imgsz: 64, half: true, verbose: false }));
  const why = webgpuAdapterFeatures().has('shader-f16')
    ? "the adapter has shader-f16, but yolo-ts' WGSL kernels are float32-only"
    : 'the adapter has no shader-f16 feature';
  t.ok(
    a.lines.includes(`WARNING ⚠️ half=True not supported on webgpu (${gpu.name}): ${why}, using FP32`),
    a.lines.join('\n'),
  );
});
