// Val from exported TF-family files (AutoBackend-style, through the engine): a float32 .tflite and a
// TF.js folder, both exported at 320, give the metrics of the fixed-size .onnx exported at 320 (the
// same square-letterbox batches; that .onnx is itself checked against the .pt in yolo_onnx.test.ts).
import t from 'tap';
import { join } from 'node:path';
import { YOLO } from '../../tasks/yolo.js';
import { setupCheckpoint } from './round_trip.js';

const { device, dir, pt } = await setupCheckpoint('yolo-tfval-');
const args = {
  data: 'test/fixtures/val/coco8-pose/coco8-pose.yaml',
  plots: false,
  save_dir: join(dir, 'val'),
  verbose: false,
  device,
} as const;

t.test('val on coco8-pose: .tflite and _web_model equal the fixed-size .onnx', async (t) => {
  const onnx = await new YOLO(pt).export({ format: 'onnx', imgsz: 320, verbose: false });
  const ref = await new YOLO(onnx).val(args);
  for (const format of ['tflite', 'tfjs'] as const) {
    const f = await new YOLO(pt).export({ format, imgsz: 320, verbose: false });
    const r = await new YOLO(f).val(args);
    t.equal(r.seen, ref.seen, `${format}: ${r.seen} images`);
    const d = Math.max(
      Math.abs(r.metrics.pose.map - ref.metrics.pose.map),
      Math.abs(r.metrics.box.map - ref.metrics.box.map),
      Math.abs(r.metrics.pose.map50 - ref.metrics.pose.map50),
    );
    t.ok(
      d < 1e-6,
      `${format}: pose mAP50-95 ${r.metrics.pose.map.toFixed(4)}, box ${r.metrics.box.map.toFixed(4)} (the .onnx's: ${ref.metrics.pose.map.toFixed(4)}, ${ref.metrics.box.map.toFixed(4)}), max |Δ| ${d.toExponential(1)}`,
    );
  }
});
