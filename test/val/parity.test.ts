// Acceptance: yolov8n-pose-coco128.pt validated like Ultralytics 8.2.82 did it
// (test/fixtures/val/val-yolov8n-pose-coco128.json: imgsz 320, batch 16, conf 0.001, iou 0.7):
// box and pose mAP50-95 and mAP50 within 0.01 absolute.
//
// By default: coco8-pose and coco128-pose val (both bundled under test/fixtures/val) on webgpu
// (about a minute on lavapipe), or coco8-pose on cpu when there is no adapter.
// YOLO_PARITY=full adds the cpu device on both sets (minutes).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpu, getDevice, openWebGPU, releaseDevices, type Device } from '../../engine/index.js';
import { loadPoseModel } from '../../models/checkpoint.js';
import { PoseValidator } from '../../tasks/val/validator.js';

const here = import.meta.dirname;
const REF = JSON.parse(readFileSync(join(here, '../fixtures/val/val-yolov8n-pose-coco128.json'), 'utf8'));
const CKPT = join(here, '../fixtures/predict/yolov8n-pose-coco128.pt');
const DATA: Record<string, string> = {
  'coco8-pose.yaml': join(here, '../fixtures/val/coco8-pose/coco8-pose.yaml'),
  'coco128-pose.yaml': join(here, '../fixtures/val/coco128-pose/coco128-pose.yaml'),
};
const full = process.env.YOLO_PARITY === 'full';

t.test('val parity with Ultralytics', async (t) => {
  t.teardown(releaseDevices);
  const gpu = await openWebGPU();
  const devices: Device[] = gpu ? [await getDevice('webgpu')] : [cpu];
  if (gpu && full) devices.push(cpu);
  for (const device of devices) {
    const model = loadPoseModel(CKPT, { device }).eval().fuse(); // as Ultralytics' AutoBackend(fuse=True)
    for (const [name, ref] of Object.entries<any>(REF.metrics)) {
      if (device === cpu && name !== 'coco8-pose.yaml' && !full) continue; // the cpu device is slow: coco8 only by default
      if (!existsSync(DATA[name])) {
        t.comment(`${DATA[name]} not found: skipping ${name}`);
        continue;
      }
      const v = new PoseValidator({
        data: DATA[name],
        imgsz: REF.imgsz,
        batch: REF.batch,
        conf: REF.conf,
        iou: REF.iou,
        plots: false,
        verbose: false,
      });
      const r = await v.run(model, device);
      for (const task of ['box', 'pose'] as const) {
        for (const k of ['map', 'map50'] as const) {
          const got = r.metrics[task][k],
            want = ref[task][k];
          t.ok(
            Math.abs(got - want) <= 0.01,
            `${device.type} ${name} ${task}.${k}: ${got.toFixed(5)} vs Ultralytics ${want.toFixed(5)}`,
          );
        }
        t.comment(
          `${device.type} ${name} ${task}: map75 ${r.metrics[task].map75.toFixed(5)} (${ref[task].map75.toFixed(5)}), ` +
            `mp ${r.metrics[task].mp.toFixed(4)} (${ref[task].mp.toFixed(4)}), mr ${r.metrics[task].mr.toFixed(4)} (${ref[task].mr.toFixed(4)})`,
        );
      }
      t.ok(
        Math.abs(r.metrics.fitness - ref.fitness) <= 0.01,
        `${device.type} ${name} fitness ${r.metrics.fitness.toFixed(5)} vs ${ref.fitness.toFixed(5)}`,
      );
    }
  }
});
