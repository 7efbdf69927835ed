// CoreML int8=True (Ultralytics: coremltools' palettize_weights, k-means, nbits=8, weight_threshold=512):
// the package decodes with every constexpr_lut_to_dense's lut/indices blobs and shape checked against
// the fp32 package's consts; its dequantized weights run back through the engine close to the .pt
// model, and val on coco8-pose stays within an int8 drop of the .pt's.
import t from 'tap';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { YOLO } from '../../tasks/yolo.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import type { OnnxPoseModel } from '../../tasks/export/onnx_model.js';
import { readMlPackage } from '../../tasks/export/coreml_format.js';
import { palettize, unpalettize } from '../../tasks/export/palettize.js';
import { readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';
import { setupCheckpoint } from './round_trip.js';

t.test('palettize: 1-D k-means table, LSB-first packed indices', async (t) => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
  const w = Float32Array.from({ length: 5000 }, () => rnd() * rnd() * 4);
  const { lut, indices } = palettize(w, 8);
  t.equal(lut.length, 256);
  t.equal(indices.length, 5000);
  const d = unpalettize(lut, indices, w.length);
  const sorted = Array.from(lut).sort((a, b) => a - b);
  let nearest = true,
    mse = 0,
    mseUniform = 0;
  const lo = Math.min(...w),
    step = (Math.max(...w) - lo) / 255;
  w.forEach((v, k) => {
    const best = sorted.reduce((b, c) => (Math.abs(c - v) < Math.abs(b - v) ? c : b), sorted[0]);
    if (Math.abs(d[k] - v) > Math.abs(best - v) + 1e-7) nearest = false;
    mse += (d[k] - v) ** 2 / w.length;
    mseUniform += (lo + Math.round((v - lo) / step) * step - v) ** 2 / w.length;
  });
  t.ok(nearest, 'every element maps to its nearest table entry');
  t.ok(
    mse < mseUniform,
    `mean squared error ${mse.toExponential(2)} vs ${mseUniform.toExponential(2)} for 256 uniform levels (k-means fits the bell-shaped weights)`,
  );
  // a tensor with few distinct values keeps them exactly; 4-bit indices pack two per byte, low nibble first
  const few = Float32Array.from([0.5, -1, 0.5, 2, -1, 2, 0.25]);
  const p4 = palettize(few, 4);
  t.same(Array.from(unpalettize(p4.lut, p4.indices, few.length)), Array.from(few), 'distinct values kept exactly');
  t.same(
    [p4.indices.length, p4.indices[0] & 15, p4.indices[0] >> 4, p4.indices[1] & 15, p4.indices[1] >> 4],
    [4, 2, 0, 2, 3],
    'sorted table [-1, 0.25, 0.5, 2]: 0.5 -> 2, -1 -> 0, 2 -> 3, low nibble first',
  );
});

const { device, dir, pt } = await setupCheckpoint('yolo-ml8-');
const S = 320;
const fp32 = await new YOLO(pt).export({ format: 'coreml', imgsz: S, verbose: false });
const int8Pt = join(dir, 'int8.pt');
copyFileSync(pt, int8Pt);
const t0 = performance.now();
const int8 = await new YOLO(int8Pt).export({ format: 'coreml', imgsz: S, int8: true, verbose: false });
const exportS = (performance.now() - t0) / 1000;
const wfile = (d: string) => join(d, 'Data', 'com.apple.CoreML', 'weights', 'weight.bin');

t.test('int8=True: constexpr_lut_to_dense weights (iOS16), each checked against the fp32 package', async (t) => {
  t.equal(int8, join(dir, 'int8.mlpackage'));
  const p = readMlPackage(int8),
    f = readMlPackage(fp32);
  t.equal(p.spec.specificationVersion, 7, 'specificationVersion 7 (iOS16: constexpr ops)');
  const fn = (p.spec.mlProgram as any).functions[0].value;
  t.equal(fn.opset, 'CoreML6');
  const lutOps = p.ops.filter((o) => o.type === 'constexpr_lut_to_dense');
  const fconsts = f.ops.filter((o) => o.type === 'const');
  const big = fconsts.filter((o) => o.outputs[0].dims.reduce((a, b) => a * b, 1) > 512);
  t.equal(lutOps.length, big.length, `${lutOps.length} weights of more than 512 elements palettized`);
  t.same(lutOps.map((o) => o.outputs[0].name).sort(), big.map((o) => o.outputs[0].name).sort(), 'exactly those');
  t.ok(
    p.ops
      .filter((o) => o.type === 'const' && o.blob)
      .every((o) => o.outputs[0].dims.reduce((a, b) => a * b, 1) <= 512 && o.outputs[0].dtype === 10),
    'smaller weights stay fp16 consts',
  );
  t.ok(
    lutOps.every(
      (o) => o.outputs[0].dtype === 10 && o.blobs!.length === 2 && o.blobs![0].dtype === 10 && o.blobs![1].dtype === 31,
    ),
    'lut fp16, indices uint8, output fp16',
  );
  // every blob of the file (consts, luts, indices) in order after the header, 64-byte aligned, sizes as their types say
  const ranges = p.ops.flatMap((o) => o.blobs ?? []).map((b) => b.range);
  t.ok(
    ranges.every(([a, b], k) => b > a && a % 64 === 0 && (k === 0 ? a === 64 : a === ((ranges[k - 1][1] + 63) & ~63))),
    `${ranges.length} blobs after the 64-byte header, each 64-byte aligned, in order`,
  );
  const wb = readFileSync(wfile(int8));
  t.same([wb.readUInt32LE(0), wb.readUInt32LE(4)], [ranges.length, 2], 'storage header: blob count, version 2');
  let maxRel = 0;
  for (const o of lutOps) {
    const name = o.outputs[0].name,
      a = p.consts.get(name)!,
      b = f.consts.get(name)!;
    t.same(o.outputs[0].dims, f.ops.find((x) => x.outputs[0].name === name)!.outputs[0].dims, `${name} shape`);
    const [lut, idx] = o.blobs!;
    t.equal(lut.range[1] - lut.range[0] - 64, 512, `${name}: lut of 256 fp16`);
    t.equal(idx.range[1] - idx.range[0] - 64, b.length, `${name}: one uint8 index per element`);
    const amax = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    maxRel = Math.max(maxRel, a.reduce((m, v, k) => Math.max(m, Math.abs(v - b[k])), 0) / amax);
  }
  t.ok(maxRel < 0.05, `dequantized weights: max |Δ| / max |w| per tensor ${maxRel.toExponential(2)}`);
  const a = readFileSync(wfile(fp32)).length,
    b = wb.length;
  t.ok(b < 0.3 * a, `weight.bin ${b} bytes vs fp32 ${a} (${(b / a).toFixed(3)}); export ${exportS.toFixed(1)} s`);
});

const iou = (a: number[], b: number[]) => {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])),
    h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  return (w * h) / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h);
};

t.test('round trip: the int8 package predicts close to the .pt', async (t) => {
  const img = letterbox(readImage('test/fixtures/images/zidane.jpg'), { newShape: S, auto: false }).image;
  const out = async (mm: { predict(x: E.Tensor): E.Tensor; device?: E.Device }) => {
    const x = E.tensor(toCHWFloat(img), [1, 3, S, S], { device: mm.device });
    const y = mm.predict(x);
    const d = (await y.data()) as Float32Array;
    (x.dispose(), y.dispose());
    return d;
  };
  const m = new YOLO(int8);
  await m.predict('test/fixtures/images/zidane.jpg', { device, verbose: false }); // loads the package
  const r = await out((await new YOLO(pt).load(device)) as PoseModel),
    n = await out(m.model as OnnxPoseModel);
  // boxes/keypoints rows (xywh, kpt x/y: pixels) and score rows separately: max |Δ| / max |ref|
  const A = r.length / 56;
  const rel = (rowsOf: number[]) => {
    let d = 0,
      ref = 0;
    for (const c of rowsOf)
      for (let a = 0; a < A; a++)
        ((d = Math.max(d, Math.abs(n[c * A + a] - r[c * A + a]))), (ref = Math.max(ref, Math.abs(r[c * A + a]))));
    return d / ref;
  };
  const coords = [0, 1, 2, 3, ...Array.from({ length: 17 }, (_, k) => [5 + 3 * k, 6 + 3 * k]).flat()],
    scores = [4, ...Array.from({ length: 17 }, (_, k) => 7 + 3 * k)];
  const rc = rel(coords),
    rs = rel(scores);
  t.ok(
    rc < 0.05 && rs < 0.1,
    `raw outputs: coordinates max rel |Δ| ${rc.toExponential(2)}, scores ${rs.toExponential(2)}`,
  );
  // the checkpoint is weakly trained (few detections above 0.25): compare the 50 anchors the .pt scores highest,
  // box (xywh -> IoU) and keypoints (px), as NMS would see them
  const top = Array.from({ length: A }, (_, a) => a)
    .sort((x, y) => r[4 * A + y] - r[4 * A + x])
    .slice(0, 50);
  const box = (o: Float32Array, a: number) => [
    o[a] - o[2 * A + a] / 2,
    o[A + a] - o[3 * A + a] / 2,
    o[a] + o[2 * A + a] / 2,
    o[A + a] + o[3 * A + a] / 2,
  ];
  const ious = top.map((a) => iou(box(n, a), box(r, a))).sort((x, y) => x - y);
  const dK = top
    .map((a) =>
      Math.max(
        ...Array.from({ length: 34 }, (_, j) =>
          Math.abs(n[(5 + 3 * (j >> 1) + (j & 1)) * A + a] - r[(5 + 3 * (j >> 1) + (j & 1)) * A + a]),
        ),
      ),
    )
    .sort((x, y) => x - y);
  t.ok(
    ious[0] > 0.98 && ious[25] > 0.995 && dK[25] < 1 && dK[49] < 2,
    `top-50 anchors (scores ${r[4 * A + top[49]].toFixed(3)}..${r[4 * A + top[0]].toFixed(3)}): box IoU min ${ious[0].toFixed(4)}, median ${ious[25].toFixed(4)}; keypoints max |Δ| median ${dK[25].toFixed(2)} px, max ${dK[49].toFixed(2)} px`,
  );
});

t.test('val on coco8-pose: int8 within an int8 drop of the fp32 package (the same square batches)', async (t) => {
  const args = { data: 'test/fixtures/val/coco8-pose/coco8-pose.yaml', imgsz: S, plots: false, verbose: false, device };
  const a = await new YOLO(fp32).val({ ...args, save_dir: join(dir, 'va') }),
    b = await new YOLO(int8).val({ ...args, save_dir: join(dir, 'vb') });
  const dp = a.metrics.pose.map - b.metrics.pose.map,
    db = a.metrics.box.map - b.metrics.box.map;
  t.ok(
    Math.abs(dp) < 0.05 && Math.abs(db) < 0.05,
    `pose mAP50-95 ${a.metrics.pose.map.toFixed(4)} -> ${b.metrics.pose.map.toFixed(4)}, box ${a.metrics.box.map.toFixed(4)} -> ${b.metrics.box.map.toFixed(4)}`,
  );
});
