// Paddle export (format=paddle): model.pdmodel decodes as framework.proto's ProgramDesc and
// model.pdiparams as save_combine's tensor stream, with every variable's dims, each op's wiring and
// each tensor's header, dtype and byte range checked (tasks/export/paddle_format.ts); the folder runs
// back through the engine with the .pt model's predictions on the same square input.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import * as E from '../../engine/index.js';
import { YOLO, type Results } from '../../tasks/yolo.js';
import type { OnnxPoseModel } from '../../tasks/export/onnx_model.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { readPaddle } from '../../tasks/export/paddle_format.js';
import { decode } from '../../engine/io/protobuf.js';
import { PADDLE_SCHEMA } from '../../tasks/export/paddle_proto.js';
import { readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';

const gpu = await E.openWebGPU();
const device = gpu ? 'webgpu' : 'cpu';
t.teardown(E.releaseDevices);
const dir = mkdtempSync(join(tmpdir(), 'yolo-pd-'));
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

const folder = await new YOLO(pt).export({ format: 'paddle', imgsz: S, verbose: false });
const halfPt = join(dir, 'half.pt');
copyFileSync(pt, halfPt);
const halfFolder = await new YOLO(halfPt).export({ format: 'paddle', imgsz: S, half: true, verbose: false });
const files = (d: string) => [join(d, 'inference_model', 'model.pdmodel'), join(d, 'inference_model', 'model.pdiparams')];
const read = (d: string) => readPaddle(new Uint8Array(readFileSync(files(d)[0])), new Uint8Array(readFileSync(files(d)[1])), files(d)[0]);

t.test('the folder x2paddle leaves, decoded as a ProgramDesc and a save_combine stream', async (t) => {
  t.equal(folder, join(dir, 'coco128_paddle_model'));
  for (const f of [...files(folder), join(folder, 'metadata.yaml')]) t.ok(existsSync(f), f);
  const m = read(folder);
  t.same([...new Set(m.ops.map((o) => o.type))].sort(), ['concat', 'conv2d', 'elementwise_add', 'elementwise_mul', 'elementwise_sub', 'feed', 'fetch', 'nearest_interp_v2', 'pool2d', 'reshape2', 'scale', 'sigmoid', 'silu', 'softmax', 'split', 'transpose2'], 'op types');
  t.same(m.dims.get(m.feed), [1, 3, S, S], 'feed x0 (1, 3, H, W)');
  t.same(m.dims.get(m.fetch), [1, 56, A], 'fetched (1, 56, anchors)');
  const model = (await new YOLO(pt).load('cpu')) as PoseModel;
  const sd = [...model.stateDict()];
  t.equal(m.ops.filter((o) => o.type === 'conv2d').length, sd.filter(([, v]) => v.shape.length === 4).length, 'one conv2d per conv weight');
  const names = [...m.params.keys()];
  t.same(names, [...names].sort(), 'parameters in name order (save_combine)');
  const ranges = [...m.params.values()].map((p) => p.range);
  t.ok(ranges.every(([a, b], k) => b > a && (k === 0 ? a === 0 : a === ranges[k - 1][1])), `${ranges.length} tensors tile the .pdiparams`);
  const w0 = (await model.stateDict().get('model.0.conv.weight')!.data()) as Float32Array;
  t.same(Array.from(m.params.get('model.0.conv.weight')!.data.slice(0, 8)), Array.from(w0.slice(0, 8)), 'model.0.conv.weight (fused)');
  t.ok(m.params.has('model.22.anchors') && m.params.has('model.22.strides'), 'anchor points and strides as persistable tensors');
  const prog = decode(PADDLE_SCHEMA, 'ProgramDesc', new Uint8Array(readFileSync(files(folder)[0])));
  t.equal((prog.blocks as unknown[]).length, 1, 'one block');
});

t.test('half=True: FP16 tensors in the .pdiparams', async (t) => {
  const m = read(halfFolder);
  t.ok([...m.params.values()].every((p) => p.dtype === 'FP16'), `${m.params.size} FP16 tensors`);
  const a = readFileSync(files(folder)[1]).length, b = readFileSync(files(halfFolder)[1]).length;
  t.ok(b < 0.53 * a, `${b} bytes vs ${a}`);
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
  t.same([om.imgsz, om.kptShape, m.names], [[S, S], [17, 3], { 0: 'person' }], 'from metadata.yaml');
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

t.test('val through the Paddle folder gives the fixed-size ONNX export metrics', async (t) => {
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
  await t.rejects(new YOLO(pt).export({ format: 'paddle', int8: true, verbose: false }), /int8=True is not supported for format='paddle'/);
  await t.rejects(new YOLO(pt).export({ format: 'paddle', dynamic: true, verbose: false }), /dynamic=True for format='paddle' is not implemented/);
  const [pm, pp] = files(folder).map((f) => new Uint8Array(readFileSync(f)));
  // a foreign program with an op this importer does not implement: rename 'silu' (same length) to 'gelu'
  const foreign = join(dir, 'foreign_paddle_model');
  mkdirSync(join(foreign, 'inference_model'), { recursive: true });
  const swapped = Buffer.from(pm);
  const at = swapped.indexOf('\x1a\x04silu');
  swapped.write('gelu', at + 2);
  writeFileSync(join(foreign, 'inference_model', 'model.pdmodel'), swapped);
  writeFileSync(join(foreign, 'inference_model', 'model.pdiparams'), pp);
  copyFileSync(join(folder, 'metadata.yaml'), join(foreign, 'metadata.yaml'));
  await t.rejects(new YOLO(foreign).predict(square, { device, ...quiet }), /foreign_paddle_model\/inference_model\/model\.pdmodel: op \d+ is the Paddle op 'gelu', which this importer does not implement/);
  t.throws(() => readPaddle(pm, pp.subarray(0, 5000), 'x.pdmodel'), /x\.pdmodel: parameter '[^']+': data needs bytes \d+\.\.\d+, the \.pdiparams has 5000/);
  t.throws(() => readPaddle(pm, pp.subarray(0, pp.length - 4), 'x.pdmodel'), /x\.pdmodel: parameter '[^']+': data needs bytes/);
});
