// CoreML export (format=coreml): the .mlpackage's manifest, Model/MIL protobuf and blob-v2
// weight.bin decode with every op's wiring, each output's declared shape and each const's blob
// record checked (tasks/export/coreml_format.ts); the package runs back through the engine with the
// .pt model's predictions on the same square input.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync, existsSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import * as E from '../../engine/index.js';
import { YOLO, type Results } from '../../tasks/yolo.js';
import type { OnnxPoseModel } from '../../tasks/export/onnx_model.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { readMlPackage } from '../../tasks/export/coreml_format.js';
import { readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';

const gpu = await E.openWebGPU();
const device = gpu ? 'webgpu' : 'cpu';
t.teardown(E.releaseDevices);
const dir = mkdtempSync(join(tmpdir(), 'yolo-ml-'));
const pt = join(dir, 'coco128.pt');
copyFileSync('test/fixtures/predict/yolov8n-pose-coco128.pt', pt);
const quiet = { verbose: false, conf: 0.05 } as const;
const S = 320, A = (S / 8) ** 2 + (S / 16) ** 2 + (S / 32) ** 2;

const bus = readImage('test/fixtures/images/bus.jpg');
const side = Math.min(bus.width, bus.height);
const png = new PNG({ width: side, height: side });
for (let y = 0; y < side; y++)
  for (let x = 0; x < side; x++) {
    const s = (y * bus.width + x) * 3, d = (y * side + x) * 4;
    png.data[d] = bus.data[s], png.data[d + 1] = bus.data[s + 1], png.data[d + 2] = bus.data[s + 2], png.data[d + 3] = 255;
  }
const square = join(dir, 'bus_square.png');
writeFileSync(square, PNG.sync.write(png));

const folder = await new YOLO(pt).export({ format: 'coreml', imgsz: S, verbose: false });
const halfPt = join(dir, 'half.pt');
copyFileSync(pt, halfPt);
const halfFolder = await new YOLO(halfPt).export({ format: 'coreml', imgsz: S, half: true, verbose: false });
const wfile = (d: string) => join(d, 'Data', 'com.apple.CoreML', 'weights', 'weight.bin');

t.test('the .mlpackage Ultralytics writes, decoded with Model.proto / MIL.proto and the blob format', async (t) => {
  t.equal(folder, join(dir, 'coco128.mlpackage'));
  for (const f of ['Manifest.json', 'Data/com.apple.CoreML/model.mlmodel', 'Data/com.apple.CoreML/weights/weight.bin']) t.ok(existsSync(join(folder, f)), f);
  const p = readMlPackage(folder);
  t.equal(p.spec.specificationVersion, 6, 'specificationVersion 6 (iOS15, ML Program)');
  t.same([...new Set(p.ops.map((o) => o.type))].sort(), ['concat', 'const', 'conv', 'max_pool', 'mul', 'real_div', 'reshape', 'sigmoid', 'silu', 'softmax', 'split', 'sub', 'transpose', 'upsample_nearest_neighbor', 'add'].sort(), 'MIL op types');
  t.same(p.input, { name: 'image', dims: [1, 3, S, S] }, "input 'image' (1, 3, H, W), an RGB image type");
  const img = ((p.spec.description as any).input[0].type.imageType);
  t.same([Number(img.width), Number(img.height), img.colorSpace], [S, S, 20]);
  t.same(p.output.dims, [1, 56, A], 'output (1, 56, anchors)');
  const model = (await new YOLO(pt).load('cpu')) as PoseModel;
  t.equal(p.ops.filter((o) => o.type === 'conv').length, [...model.stateDict()].filter(([, v]) => v.shape.length === 4).length, 'one conv per conv weight');
  const ranges = p.ops.filter((o) => o.blob).map((o) => o.blob!.range);
  t.ok(ranges.every(([a, b], k) => b > a && a % 64 === 0 && (k === 0 ? a === 64 : a === ((ranges[k - 1][1] + 63) & ~63))), `${ranges.length} blobs after the 64-byte header, each 64-byte aligned, in order`);
  const wb = readFileSync(wfile(folder));
  t.same([wb.readUInt32LE(0), wb.readUInt32LE(4)], [ranges.length, 2], 'storage header: blob count, version 2');
  const w0 = (await model.stateDict().get('model.0.conv.weight')!.data()) as Float32Array;
  t.same(Array.from(p.consts.get('model_0_conv_weight')!.slice(0, 8)), Array.from(w0.slice(0, 8)), 'model.0.conv.weight (fused) in weight.bin');
  const md = Object.fromEntries(p.metadata.map((e) => [e.key, e.value]));
  t.match(md, { author: 'Ultralytics', version: '8.2.82', task: 'pose', stride: '32', imgsz: `[${S}, ${S}]`, names: "{0: 'person'}", kpt_shape: '[17, 3]', batch: '1' }, 'Ultralytics metadata: short description, author, version, license + user-defined');
  t.match(md.description, /^Ultralytics YOLOv8n-pose model/);
});

t.test('half=True: a FLOAT16 program (fp16 blobs, casts at both ends)', async (t) => {
  const p = readMlPackage(halfFolder);
  const blobs = p.ops.filter((o) => o.blob);
  t.ok(blobs.every((o) => o.blob!.dtype === 10 && o.outputs[0].dtype === 10), `${blobs.length} FLOAT16 consts in blobs of dtype Float16`);
  t.same(p.ops.filter((o) => o.type === 'cast').map((o) => o.inputs.dtype[0]), [['fp16'], ['fp32']]);
  const a = readFileSync(wfile(folder)).length, b = readFileSync(wfile(halfFolder)).length;
  t.ok(b < 0.55 * a, `${b} bytes vs ${a}`);
});

const rows = (r: Results) => r.boxes.xyxy.map((b, i) => ({ xyxy: b, kpts: r.keypoints!.xy[i].flat() }));
const iou = (a: number[], b: number[]) => {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])), h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  return (w * h) / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h);
};

t.test('round trip: YOLO(<folder>) predicts what the .pt predicts', async (t) => {
  const ref = await new YOLO(pt).predict(square, { imgsz: S, device, ...quiet });
  const m = new YOLO(folder);
  const res = await m.predict(square, { device, ...quiet });
  const om = m.model as OnnxPoseModel;
  t.same([om.imgsz, om.kptShape, m.names], [[S, S], [17, 3], { 0: 'person' }], 'from the spec metadata');
  const a = rows(res[0]), b = rows(ref[0]);
  t.ok(b.length > 0 && a.length === b.length, `${b.length} people`);
  let minIou = 1, dK = 0;
  a.forEach((d, k) => {
    minIou = Math.min(minIou, iou(d.xyxy, b[k].xyxy));
    for (let j = 0; j < d.kpts.length; j++) dK = Math.max(dK, Math.abs(d.kpts[j] - b[k].kpts[j]));
  });
  t.ok(minIou >= 0.999 && dK <= 0.01, `box IoU >= ${minIou.toFixed(5)}, keypoints max |Δ| ${dK.toExponential(1)} px`);
  const img = letterbox(readImage('test/fixtures/images/zidane.jpg'), { newShape: S, auto: false }).image;
  const out = async (mm: { predict(x: E.Tensor): E.Tensor; device: E.Device }) => {
    const x = E.tensor(toCHWFloat(img), [1, 3, S, S], { device: mm.device });
    const y = mm.predict(x);
    const d = (await y.data()) as Float32Array;
    x.dispose(), y.dispose();
    return d;
  };
  const r = await out((await new YOLO(pt).load(device)) as PoseModel), n = await out(om);
  const d = n.reduce((s, v, k) => Math.max(s, Math.abs(v - r[k])), 0);
  t.ok(d < 2e-3, `raw (1, 56, ${A}) outputs max |Δ| ${d.toExponential(2)}`);
  const half = rows((await new YOLO(halfFolder).predict(square, { device, ...quiet }))[0]);
  t.equal(half.length, b.length, 'f16 weights: the same detections');
  t.ok(Math.min(...half.map((h, k) => iou(h.xyxy, b[k].xyxy))) >= 0.99, 'f16 weights: box IoU >= 0.99');
});

t.test('val through the CoreML package gives the fixed-size ONNX export metrics', async (t) => {
  const onnxPt = join(dir, 'sq.pt');
  copyFileSync(pt, onnxPt);
  const onnx = await new YOLO(onnxPt).export({ format: 'onnx', imgsz: S, verbose: false });
  const args = { data: 'test/fixtures/val/coco8-pose/coco8-pose.yaml', plots: false, save_dir: join(dir, 'val'), verbose: false, device };
  const a = await new YOLO(onnx).val(args), b = await new YOLO(folder).val(args);
  t.equal(b.seen, a.seen);
  const d = Math.max(Math.abs(a.metrics.pose.map - b.metrics.pose.map), Math.abs(a.metrics.box.map - b.metrics.box.map));
  t.ok(d <= 1e-4, `box mAP50-95 ${b.metrics.box.map.toFixed(4)}; |Δ| ${d.toExponential(1)} vs the same batches through ONNX`);
});

t.test('bad input', async (t) => {
  await t.rejects(new YOLO(pt).export({ format: 'coreml', batch: 2, verbose: false }), /CoreML batch sizes > 1 are not supported\. Please retry at 'batch=1'\./);
  await t.rejects(new YOLO(pt).export({ format: 'mlmodel', verbose: false }), /format='mlmodel' asks for the legacy NeuralNetwork \.mlmodel/);
  await t.rejects(new YOLO(pt).export({ format: 'coreml', int8: true, verbose: false }), /int8=True for format='coreml' is Ultralytics' 8-bit k-means weight palettization/);
  // a foreign program with an op this importer does not implement: 'silu' -> 'gelu' (same length)
  const foreign = join(dir, 'foreign.mlpackage');
  cpSync(folder, foreign, { recursive: true });
  const specFile = join(foreign, 'Data', 'com.apple.CoreML', 'model.mlmodel');
  const spec = readFileSync(specFile);
  spec.write('gelu', spec.indexOf('\x0a\x04silu') + 2);
  writeFileSync(specFile, spec);
  await t.rejects(new YOLO(foreign).predict(square, { device, ...quiet }), /foreign\.mlpackage\/Data\/com\.apple\.CoreML\/model\.mlmodel: op \d+ is the MIL op 'gelu', which this importer does not implement/);
  // a weight.bin whose first blob record lost its sentinel
  const broken = join(dir, 'broken.mlpackage');
  cpSync(folder, broken, { recursive: true });
  const wb = readFileSync(wfile(broken));
  wb.writeUInt32LE(0, 64);
  writeFileSync(wfile(broken), wb);
  t.throws(() => readMlPackage(broken), /model\.mlmodel: op \d+ \(const\) '[^']+': no blob metadata \(sentinel 0xDEADBEEF\) at offset 64/);
});
