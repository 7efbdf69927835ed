// Val mAP of the int8 TFLite export beside its float32 file: box and pose mAP50-95 on the given
// datasets, through our importer on the engine (int8 weights dequantized, each int8 activation
// rounded to its grid: the integer arithmetic within one quantization step), calibration on --cal's
// val images as Ultralytics' data= does. Files: `_float32` (reference), `_int8` (what
// format=tflite int8=True returns: dynamic range), `_integer_quant` (int8 activations).
//
// usage: npx tsx bench/tflite_int8_val.ts [--imgsz 160] [--cal test/fixtures/val/coco8-pose/coco8-pose.yaml]
//        [--data coco8-pose,coco128-pose] [--device cpu] [--weights test/fixtures/predict/yolov8n-pose-coco128.pt]
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { YOLO } from '../tasks/yolo.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const S = Number(opt('imgsz', '160')),
  device = opt('device', 'cpu');
const dir = mkdtempSync(join(tmpdir(), 'bench-int8-'));
const pt = join(dir, basename(opt('weights', 'test/fixtures/predict/yolov8n-pose-coco128.pt')));
copyFileSync(opt('weights', 'test/fixtures/predict/yolov8n-pose-coco128.pt'), pt);
const t0 = performance.now();
await new YOLO(pt).export({
  format: 'tflite',
  imgsz: S,
  int8: true,
  data: opt('cal', 'test/fixtures/val/coco8-pose/coco8-pose.yaml'),
  verbose: false,
});
console.log(`export (calibration + 5 files): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const stem = basename(pt, '.pt');
console.log('| data | file | box mAP50-95 | pose mAP50-95 | pose mAP50 |\n|---|---|---|---|---|');
for (const d of opt('data', 'coco8-pose,coco128-pose').split(','))
  for (const q of ['float32', 'int8', 'integer_quant']) {
    const m = (
      await new YOLO(join(dir, `${stem}_saved_model`, `${stem}_${q}.tflite`)).val({
        data: `test/fixtures/val/${d}/${d}.yaml`,
        imgsz: S,
        plots: false,
        save_dir: join(dir, 'val'),
        verbose: false,
        device,
      } as any)
    ).metrics;
    console.log(`| ${d} | ${q} | ${m.box.map.toFixed(4)} | ${m.pose.map.toFixed(4)} | ${m.pose.map50.toFixed(4)} |`);
  }
