// Val from the int8 TFLite export (AutoBackend-style, through our importer on the engine: int8 weights
// dequantized, every int8 activation rounded to its grid): `_integer_quant.tflite` (int8 activations and
// weights, calibrated on coco8-pose's val images) against the `_float32.tflite` written beside it, on
// coco8-pose at 160. The bundled checkpoint is weak (Ultralytics' own val: box mAP50-95 0.018, pose 0 at
// 320), so the check is the box mAP; bench/tflite_int8_val.ts reports coco128-pose too.
import t from 'tap';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { YOLO } from '../../tasks/yolo.js';

const dir = mkdtempSync(join(tmpdir(), 'yolo-tflite-int8-val-'));
const pt = join(dir, 'coco128.pt');
copyFileSync('test/fixtures/predict/yolov8n-pose-coco128.pt', pt);
const S = 160,
  data = 'test/fixtures/val/coco8-pose/coco8-pose.yaml';
const file = (q: string) => join(dir, 'coco128_saved_model', `coco128_${q}.tflite`);
await new YOLO(pt).export({ format: 'tflite', imgsz: S, int8: true, data, verbose: false });

t.test('val on coco8-pose from the int8 files (through our importer) beside the float32 file', async (t) => {
  const args = { data, imgsz: S, plots: false, save_dir: join(dir, 'val'), verbose: false, device: 'cpu' } as const;
  const r: Record<string, { box: number; pose: number }> = {};
  for (const q of ['float32', 'integer_quant']) {
    const m = (await new YOLO(file(q)).val(args)).metrics;
    r[q] = { box: m.box.map, pose: m.pose.map };
  }
  const line = Object.entries(r)
    .map(([q, v]) => `${q} box ${v.box.toFixed(4)} pose ${v.pose.toFixed(4)}`)
    .join('; ');
  t.ok(r.float32.box > 0, `mAP50-95 at ${S}: ${line}`);
  t.ok(
    r.integer_quant.box >= 0.5 * r.float32.box,
    'integer_quant: box mAP at least half of float32 (the bundled checkpoint is weak: pose mAP is 0 in float too)',
  );
});
