// Regenerates docs/predict-example.png: the bundled checkpoint on the bundled bus.jpg, drawn by
// Results.plot() and halved for the README. Run: npx tsx docs/make_example.ts
import { writeFileSync } from 'node:fs';
import { releaseDevices } from '../engine/index.js';
import { encodePNG } from '../tasks/data/image.js';
import { resizeBilinear } from '../tasks/data/resize.js';
import { YOLO } from '../tasks/yolo.js';

const root = new URL('..', import.meta.url).pathname;
const model = new YOLO(root + 'test/fixtures/predict/yolov8n-pose-coco128.pt');
const [r] = await model.predict(root + 'test/fixtures/predict/images/bus.jpg', { imgsz: 320, conf: 0.1 });
const img = r.plot();
writeFileSync(root + 'docs/predict-example.png', encodePNG(resizeBilinear(img, img.width >> 1, img.height >> 1)));
releaseDevices();
