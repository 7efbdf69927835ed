// augment=True (test-time augmentation) against Ultralytics 8.2.82 itself (test/fixtures/predict/gen_augment.py):
// DetectionModel._predict_augment's merged output (three scales, one flipped, boxes de-scaled, tails
// clipped; keypoint rows passed through untouched as 8.2.82 does), then predict and val with it.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImage } from '../../tasks/data/image.js';
import { predictAugment } from '../../tasks/predict/augment.js';
import { Predictor } from '../../tasks/predict/predictor.js';
import { YOLO } from '../../tasks/yolo.js';

const HERE = (p: string) => fileURLToPath(new URL(`../fixtures/${p}`, import.meta.url));
const G = JSON.parse(readFileSync(HERE('predict/augment.json'), 'utf8'));
const PT = HERE('predict/yolov8n-pose-coco128.pt');

t.test('the merged raw output equals model(x, augment=True)', async (t) => {
  const m = new YOLO(PT);
  const model = await m.load('cpu');
  const p = new Predictor(model, m.device!, { imgsz: G.imgsz });
  const x = p.preprocess(readImage(HERE('predict/images/bus.jpg')));
  t.same([...x.shape], G.raw.in_shape);
  const y = await predictAugment(model, x);
  x.dispose();
  t.same([...y.shape], G.raw.shape, '(1, 56, A0 - P5 + A1 + A2 - P3)');
  const d = (await y.data()) as Float32Array;
  y.dispose();
  const [, C, A] = G.raw.shape as number[];
  let worst = 0;
  for (let c = 0; c < C; c++) {
    for (let a = 0; a < 3; a++) {
      worst = Math.max(worst, Math.abs(d[c * A + a] - G.raw.first[c][a]) / (1 + Math.abs(G.raw.first[c][a])));
      worst = Math.max(worst, Math.abs(d[c * A + A - 3 + a] - G.raw.last[c][a]) / (1 + Math.abs(G.raw.last[c][a])));
    }
    let s = 0;
    for (let a = 0; a < A; a++) s += d[c * A + a];
    worst = Math.max(worst, Math.abs(s - G.raw.sum_rows[c]) / (A + Math.abs(G.raw.sum_rows[c])));
  }
  t.ok(worst < 1e-4, `first/last columns and row sums match (worst relative diff ${worst.toExponential(2)})`);
});

t.test('predict augment=True: the same detections and keypoints as Ultralytics', async (t) => {
  const m = new YOLO(PT);
  for (const f of Object.keys(G.predict)) {
    const [r] = await m.predict(HERE(`predict/images/${f}`), {
      imgsz: G.imgsz,
      augment: true,
      conf: 0.05,
      device: 'cpu',
      verbose: false,
    });
    const want = G.predict[f];
    t.equal(r.boxes.length, want.conf.length, `${f}: ${want.conf.length} detections`);
    const xyxy = r.boxes.xyxy,
      conf = r.boxes.conf,
      kp = r.keypoints!.data;
    let db = 0,
      dc = 0,
      dk = 0;
    want.conf.forEach((c: number, i: number) => {
      dc = Math.max(dc, Math.abs(conf[i] - c));
      for (let k = 0; k < 4; k++) db = Math.max(db, Math.abs(xyxy[i][k] - want.xyxy[i][k]));
      want.kpts[i].forEach((row: number[], j: number) =>
        row.forEach((v, q) => (dk = Math.max(dk, Math.abs(kp[(i * want.kpts[i].length + j) * 3 + q] - v)))),
      );
    });
    t.ok(db <= 1 && dc < 1e-4 && dk < 2e-3, `${f}: max |diff| boxes ${db}px, conf ${dc}, keypoints ${dk}`);
  }
});

t.test('val augment=True: the same metrics as Ultralytics on coco8-pose', async (t) => {
  const log = console.log;
  console.log = () => {};
  let r;
  try {
    r = await new YOLO(PT).val({
      data: HERE('val/coco8-pose/coco8-pose.yaml'),
      imgsz: G.imgsz,
      batch: 2,
      augment: true,
      device: 'cpu',
      plots: false,
      project: mkdtempSync(join(tmpdir(), 'val-aug-')),
    });
  } finally {
    console.log = log;
  }
  for (const [k, v] of Object.entries(G.val as Record<string, number>))
    t.ok(Math.abs(r.resultsDict[k] - v) < 1e-4, `${k}: ${r.resultsDict[k]} vs ${v}`);
});
