// Running exported models through the YOLO class: YOLO('x.onnx').predict/val read stride, names,
// imgsz and kpt_shape from the metadata and give the .pt model's predictions; `yolo export` on the
// command line; a corrupt .onnx given to predict is a clear error. The trained coco128 checkpoint
// (real detections) at imgsz 320.
import t from 'tap';
import { copyFileSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as E from '../../engine/index.js';
import { YOLO, type Results } from '../../tasks/yolo.js';
import { OnnxPoseModel } from '../../tasks/export/onnx_model.js';
import { readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';
import { setupCheckpoint } from './round_trip.js';

const { device, dir, pt } = await setupCheckpoint('yolo-onnx-');
const IMAGES = ['test/fixtures/images/bus.jpg', 'test/fixtures/images/zidane.jpg'];
const quiet = { verbose: false, conf: 0.05 } as const; // the weak coco128 model's scores are ~0.1-0.2 (its reference predictions use conf 0.05)

const rows = (r: Results) => {
  const xyxy = r.boxes.xyxy,
    conf = r.boxes.conf,
    kpts = r.keypoints!.xy;
  return xyxy.map((b, i) => ({ xyxy: b, conf: conf[i], kpts: kpts[i].flat() }));
};

const ptYolo = new YOLO(pt);
const ptResults = await ptYolo.predict(IMAGES, { imgsz: 320, device, ...quiet });
const dynFile = await new YOLO(pt).export({ format: 'onnx', imgsz: 320, dynamic: true, ...quiet });
const staticPt = join(dir, 'static.pt');
copyFileSync(pt, staticPt);
const staticFile = await new YOLO(staticPt).export({ format: 'onnx', imgsz: 320, ...quiet });

t.test('YOLO(.pt).export writes <stem>.onnx beside the weights', async (t) => {
  t.equal(dynFile, join(dir, 'coco128.onnx'));
  t.equal(staticFile, join(dir, 'static.onnx'));
  t.ok(
    ptResults.some((r) => r.boxes.length > 0),
    'the trained model finds people',
  );
  await t.rejects(
    new YOLO(pt).export({ format: 'banana' }),
    /Invalid export format='banana'\. Valid formats are \('torchscript', 'onnx'/,
  );
});

t.test('a dynamic export predicts what the .pt model predicts', async (t) => {
  const m = new YOLO(dynFile);
  const res = await m.predict(IMAGES, { imgsz: 320, device, ...quiet });
  t.same(m.names, { 0: 'person' }, 'names from the metadata');
  const om = m.model as OnnxPoseModel;
  t.same(
    [om.stride, om.kptShape, om.imgsz, om.dynamic],
    [[32], [17, 3], [320, 320], true],
    'stride, kpt_shape, imgsz from the metadata',
  );
  for (const [i, r] of res.entries()) {
    const a = rows(r),
      b = rows(ptResults[i]);
    t.equal(a.length, b.length, `${IMAGES[i]}: ${b.length} detections`);
    let dBox = 0,
      dConf = 0,
      dKpt = 0;
    a.forEach((d, k) => {
      for (let j = 0; j < 4; j++) dBox = Math.max(dBox, Math.abs(d.xyxy[j] - b[k].xyxy[j]));
      dConf = Math.max(dConf, Math.abs(d.conf - b[k].conf));
      for (let j = 0; j < 34; j++) dKpt = Math.max(dKpt, Math.abs(d.kpts[j] - b[k].kpts[j]));
    });
    t.ok(
      dBox <= 1 && dConf <= 1e-4 && dKpt <= 1e-2,
      `${IMAGES[i]}: max |Δ| box ${dBox} px (rounded), conf ${dConf.toExponential(1)}, keypoints ${dKpt.toExponential(1)} px`,
    );
  }
});

t.test(
  "a fixed-size export sees Ultralytics' square letterbox (auto=False), outputs in the caller's pixels",
  async (t) => {
    const m = new YOLO(staticFile);
    const res = await m.predict(IMAGES, { device, ...quiet }); // imgsz defaults to the export size
    const om = m.model as OnnxPoseModel;
    t.same([om.dynamic, om.batch, om.imgsz], [false, 1, [320, 320]]);
    t.ok(
      res.every((r) => r.boxes.length > 0),
      'it predicts',
    );
    // the predictor's minimal letterbox (320 x 256 for bus.jpg) centred in 320 x 320 is exactly the
    // square letterbox: compare with the dynamic export run on the square letterbox itself
    const img = readImage(IMAGES[1]); // zidane.jpg: 720 x 1280 -> 192 x 320 (auto) / 320 x 320 (square)
    const auto = letterbox(img, { newShape: 320, auto: true, stride: 32 }).image,
      square = letterbox(img, { newShape: 320, auto: false }).image;
    t.same([auto.height, auto.width, square.height], [192, 320, 320]);
    const dyn = (await new YOLO(dynFile).load(device)) as OnnxPoseModel;
    const run = async (mm: OnnxPoseModel, im: typeof auto) => {
      const x = E.tensor(toCHWFloat(im), [1, 3, im.height, im.width], { device: mm.device });
      const y = mm.predict(x);
      const out = { data: (await y.data()) as Float32Array, shape: [...y.shape] };
      (x.dispose(), y.dispose());
      return out;
    };
    const a = await run(om, auto),
      b = await run(dyn, square);
    t.same(a.shape, b.shape, 'same anchors (the fixed 320 x 320 grid)');
    const A = a.shape[2],
      top = (320 - 192) / 2;
    let d = 0;
    for (let c = 0; c < a.shape[1]; c++) {
      const isY = c === 1 || (c >= 5 && (c - 5) % 3 === 1); // box centre y and keypoint y move by the extra padding
      for (let k = 0; k < A; k++) d = Math.max(d, Math.abs(a.data[c * A + k] + (isY ? top : 0) - b.data[c * A + k]));
    }
    t.ok(d < 1e-3, `raw outputs equal after shifting y back by ${top} px: max |Δ| ${d.toExponential(2)}`);
    t.throws(
      () => om.predict(E.zeros([1, 3, 352, 320], { device: om.device })),
      /static\.onnx: this model takes a fixed input of \(1, 3, 320, 320\).*export with dynamic=True/,
    );
  },
);

t.test('val runs on exported models', async (t) => {
  const data = 'test/fixtures/val/coco8-pose/coco8-pose.yaml';
  const args = { data, imgsz: 320, plots: false, save_dir: join(dir, 'val'), verbose: false, device };
  const ref = await new YOLO(pt).val(args);
  const dyn = await new YOLO(dynFile).val(args);
  t.ok(
    Math.abs(dyn.metrics.pose.map - ref.metrics.pose.map) < 1e-6 &&
      Math.abs(dyn.metrics.box.map - ref.metrics.box.map) < 1e-6,
    `dynamic .onnx: the .pt metrics (pose mAP50-95 ${ref.metrics.pose.map.toFixed(4)}, box ${ref.metrics.box.map.toFixed(4)})`,
  );
  const fixed = await new YOLO(staticFile).val({ ...args, imgsz: undefined });
  t.equal(fixed.seen, ref.seen, `fixed-size .onnx: square batches at its export size, ${fixed.seen} images`);
  t.ok(
    Math.abs(fixed.metrics.pose.map - ref.metrics.pose.map) < 0.1,
    `fixed-size .onnx pose mAP50-95 ${fixed.metrics.pose.map.toFixed(4)} (square letterbox) near the .pt's`,
  );
});

t.test('a corrupt or truncated .onnx given to predict is a clear error', async (t) => {
  const good = readFileSync(staticFile);
  const cut = join(dir, 'cut.onnx');
  writeFileSync(cut, good.subarray(0, Math.floor(good.length / 3)));
  await t.rejects(
    new YOLO(cut).predict(IMAGES[0], { device, ...quiet }),
    new RegExp(`${cut.replace(/[.]/g, '\\.')}: .*(truncated|malformed)`),
  );
  const junk = join(dir, 'junk.onnx');
  writeFileSync(junk, 'this is not a model');
  await t.rejects(new YOLO(junk).predict(IMAGES[0], { device, ...quiet }), /junk\.onnx: /);
  await t.rejects(
    new YOLO(join(dir, 'nope.onnx')).predict(IMAGES[0], { device, ...quiet }),
    /nope\.onnx: cannot read the ONNX model \(ENOENT\)/,
  );
});

t.test('yolo export on the command line', async (t) => {
  const cliPt = join(dir, 'cli.pt');
  copyFileSync('test/fixtures/models/yolov8n-pose-seed0.pt', cliPt);
  const run = (...a: string[]) =>
    spawnSync(process.execPath, ['--import=tsx', 'tasks/cli.ts', ...a], { encoding: 'utf8', timeout: 300_000 });
  const r = run('export', `model=${cliPt}`, 'format=onnx', 'imgsz=160', 'dynamic=True', 'simplify=True', 'opset=17');
  t.equal(r.status, 0, `exit 0 ${r.stderr.slice(-400)}`);
  t.ok(existsSync(join(dir, 'cli.onnx')), 'cli.onnx beside cli.pt');
  t.match(r.stdout, /ONNX: starting export with .* opset 17/);
  t.match(r.stdout, /Export complete/);
  const bad = run('export', `model=${cliPt}`, 'format=xyz');
  t.equal(bad.status, 1);
  t.match(
    bad.stderr,
    /Invalid export format='xyz'\. Valid formats are \('torchscript', 'onnx', 'openvino', 'engine', 'coreml', 'saved_model', 'pb', 'tflite', 'edgetpu', 'tfjs', 'paddle', 'ncnn'\)/,
  );
});
