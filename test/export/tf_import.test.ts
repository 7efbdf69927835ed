// Predict from the TF-family exports as Ultralytics' AutoBackend does: YOLO('x_web_model'),
// YOLO('x_saved_model'), YOLO('x.pb'), YOLO('x_float32.tflite') read their metadata and run the graph through the engine
// (tasks/export/tf_runtime.ts). A fixed-size export sees Ultralytics' square letterbox (as the static
// .onnx does, test/export/yolo_onnx.test.ts), so: the raw outputs on the square letterbox of bus.jpg
// equal the .pt model's on the same tensor (1e-4 rel), and the detections (checked on the TF.js export)
// equal the static .onnx's.
import t from 'tap';
import * as E from '../../engine/index.js';
import { YOLO, type Results } from '../../tasks/yolo.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import type { TfPoseModel } from '../../tasks/export/tf_runtime.js';
import { readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';
import { setupCheckpoint } from './round_trip.js';

const { device, pt } = await setupCheckpoint('yolo-tfimp-');
const IMAGES = ['test/fixtures/images/bus.jpg', 'test/fixtures/images/zidane.jpg'];
const quiet = { verbose: false, conf: 0.05 } as const;
const rows = (r: Results) =>
  r.boxes.xyxy.map((b, i) => ({ xyxy: b, conf: r.boxes.conf[i], kpts: r.keypoints!.xy[i].flat() }));
const onnx = await new YOLO(pt).export({ format: 'onnx', imgsz: 320, verbose: false });
const onnxResults = await new YOLO(onnx).predict(IMAGES, { device, ...quiet });
const ptModel = (await new YOLO(pt).load(device)) as PoseModel;
const sq = letterbox(readImage(IMAGES[0]), { newShape: 320, auto: false }).image;

for (const format of ['tfjs', 'saved_model', 'pb', 'tflite'] as const) {
  t.test(`YOLO(${format} export): raw outputs equal the .pt model's, detections the static .onnx's`, async (t) => {
    const f = await new YOLO(pt).export({ format, imgsz: 320, verbose: false });
    const m = new YOLO(f);
    const tm = (await m.load(device)) as TfPoseModel;
    t.same(
      [tm.imgsz, tm.batch, tm.kptShape, m.names],
      [[320, 320], 1, [17, 3], { 0: 'person' }],
      'imgsz, batch, kpt_shape, names from metadata.yaml',
    );
    const x = E.tensor(toCHWFloat(sq), [1, 3, 320, 320], { device: tm.device });
    const a = (await E.noGrad(() => tm.predict(x)).data()) as Float32Array,
      b = (await E.noGrad(() => ptModel.predict(x)).data()) as Float32Array;
    let d = 0,
      mx = 0;
    for (let i = 0; i < b.length; i++) ((d = Math.max(d, Math.abs(a[i] - b[i]))), (mx = Math.max(mx, Math.abs(b[i]))));
    t.ok(
      a.length === b.length && d / mx <= 1e-4,
      `raw (1, 56, 2100) outputs vs the .pt model: ${(d / mx).toExponential(2)} <= 1e-4`,
    );
    if (format !== 'tfjs') return; // the three share the executor and predict path: detections once keep this file fast
    const res = await m.predict(IMAGES, { device, ...quiet });
    for (const [i, r] of res.entries()) {
      const p = rows(r),
        q = rows(onnxResults[i]);
      t.equal(p.length, q.length, `${IMAGES[i]}: ${q.length} detections`);
      let dBox = 0,
        dConf = 0,
        dKpt = 0;
      p.forEach((e, k) => {
        for (let j = 0; j < 4; j++) dBox = Math.max(dBox, Math.abs(e.xyxy[j] - q[k].xyxy[j]));
        dConf = Math.max(dConf, Math.abs(e.conf - q[k].conf));
        for (let j = 0; j < 34; j++) dKpt = Math.max(dKpt, Math.abs(e.kpts[j] - q[k].kpts[j]));
      });
      t.ok(
        dBox <= 1 && dConf <= 1e-4 && dKpt <= 1e-2,
        `${IMAGES[i]}: max |Δ| box ${dBox} px, conf ${dConf.toExponential(1)}, keypoints ${dKpt.toExponential(1)} px`,
      );
    }
  });
}
