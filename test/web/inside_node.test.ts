// The look-inside views' engine side (web/src/inside/head.ts, kernels.ts) in Node, on the devices a
// page can get: the cpu engine (a browser without WebGPU) and WebGPU (here Dawn on lavapipe). On cpu
// a layer's ops launch no kernel (the view says so); on webgpu each conv launches the WGSL the
// runtime compiled. The head views on cpu give Ultralytics 8.2.82's keypoints and boxes for bus.jpg.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpu } from '../../engine/index.js';
import { buildShader } from '../../engine/backends/wgsl.js';
import { decodeImage } from '../../tasks/data/image.js';
import { YOLO } from '../../tasks/yolo.js';
import { bundledCheckpoint } from '../../tasks/app.js';
import { layerKernels } from '../../web/src/inside/kernels.js';
import { dflView, inspectHead, keypointView } from '../../web/src/inside/head.js';
import { testDevices } from '../helpers.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const bus = decodeImage(readFileSync(join(FIXTURES, 'images', 'bus.jpg')), 'bus.jpg');

t.test('the head views on the cpu engine match Ultralytics', async (t) => {
  const ref = JSON.parse(readFileSync(join(FIXTURES, 'predict', 'predictions-yolov8n-pose-coco128.json'), 'utf8'));
  const want = ref.images['bus.jpg'];
  const model = new YOLO(bundledCheckpoint());
  await model.load(cpu);
  const h = await inspectHead(model, bus, { imgsz: 320, conf: 0.05, iou: 0.7 });
  t.same(
    h.levels.map((l) => [l.stride, l.h, l.w]),
    [
      [8, 40, 32],
      [16, 20, 16],
      [32, 10, 8],
    ],
    'bus.jpg letterboxed to 256x320: three grids',
  );
  t.equal(h.detections.length, want.boxes_xyxy.length, "Ultralytics' number of detections");
  let maxK = 0;
  for (const d of h.detections) {
    const kv = keypointView(h, d);
    kv.rows.forEach((r, k) => {
      for (const c of [0, 1]) maxK = Math.max(maxK, Math.abs(r.result[c] - want.keypoints_xy[d.index][k][c]));
    });
    for (const side of ['l', 't', 'r', 'b'] as const) {
      const v = await dflView(model, h, d, side);
      if (Math.abs(v.expected - v.decoded) > 1e-4) t.fail(`#${d.index} ${side}: dfl ${v.expected} vs ${v.decoded}`);
    }
  }
  t.ok(maxK <= 0.01, `every detection's keypoints within 0.01 px of Ultralytics' (max ${maxK.toExponential(2)})`);
  t.pass("every side of every box: the dfl op's value = the decoded side within 1e-4");
});

// last: releasing the WebGPU device (testDevices' teardown) ends the file's GPU work
t.test("a layer's ops and kernels on each device", async (t) => {
  for (const dev of await testDevices(t)) {
    const model = new YOLO(bundledCheckpoint());
    await model.load(dev);
    const r = await layerKernels(model, bus, 64, 2); // C2f
    t.equal(r.type, 'C2f');
    t.ok(r.ops.filter((o) => o.op === 'conv2d').length >= 4, `${dev.type}: its convs (cv1, m.0.cv1, m.0.cv2, cv2)`);
    const kernels = r.ops.flatMap((o) => o.kernels);
    if (dev.type === 'cpu') t.equal(kernels.length, 0, 'cpu: no kernel launched');
    else
      for (const o of r.ops.filter((o) => o.op === 'conv2d'))
        for (const k of o.kernels) t.equal(k.code, buildShader(k.file), `${o.where}: ${k.name} is the compiled WGSL`);
  }
});
