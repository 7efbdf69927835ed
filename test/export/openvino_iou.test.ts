// export iou= (Ultralytics 8.2.82's only use of it: ov_model.set_rt_info(self.args.iou, ["model_info",
// "iou_threshold"])): the IR's rt_info carries str(iou), 0.7 by default.
import t from 'tap';
import { mkdtempSync, readFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readIr } from '../../tasks/export/openvino_format.js';
import { YOLO } from '../../tasks/yolo.js';

t.test("iou=0.5 -> rt_info iou_threshold '0.5'", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ov-iou-'));
  const pt = join(dir, 'm.pt');
  copyFileSync(fileURLToPath(new URL('../fixtures/predict/yolov8n-pose-coco128.pt', import.meta.url)), pt);
  const log = console.log;
  console.log = () => {};
  let folder: string;
  try {
    folder = await new YOLO(pt).export({ format: 'openvino', imgsz: 64, iou: 0.5, device: 'cpu' });
  } finally {
    console.log = log;
  }
  const ir = readIr(
    readFileSync(join(folder, 'm.xml'), 'utf8'),
    new Uint8Array(readFileSync(join(folder, 'm.bin'))),
    'm.xml',
  );
  t.equal(ir.rtInfo.iou_threshold, '0.5');
  t.equal(ir.rtInfo.model_type, 'YOLOv8');
});
