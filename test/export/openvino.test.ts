// OpenVINO export (format=openvino): the IR v11 .xml/.bin decode with the published IR structure and
// every port's dims, Const byte range, precision and edge checked (tasks/export/openvino_format.ts);
// the folder runs back through the engine with the .pt model's predictions on the same square input.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import * as E from '../../engine/index.js';
import { YOLO, type Results } from '../../tasks/yolo.js';
import type { OnnxPoseModel } from '../../tasks/export/onnx_model.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { readIr } from '../../tasks/export/openvino_format.js';
import { readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';

const gpu = await E.openWebGPU();
const device = gpu ? 'webgpu' : 'cpu';
t.teardown(E.releaseDevices);
const dir = mkdtempSync(join(tmpdir(), 'yolo-ov-'));
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

const folder = await new YOLO(pt).export({ format: 'openvino', imgsz: S, verbose: false });
const halfPt = join(dir, 'half.pt');
copyFileSync(pt, halfPt);
const halfFolder = await new YOLO(halfPt).export({ format: 'openvino', imgsz: S, half: true, verbose: false });
const decode = (d: string, stem: string) => readIr(readFileSync(join(d, `${stem}.xml`), 'utf8'), new Uint8Array(readFileSync(join(d, `${stem}.bin`))), join(d, `${stem}.xml`));

t.test('the folder Ultralytics writes, decoded as IR v11', async (t) => {
  t.equal(folder, join(dir, 'coco128_openvino_model'));
  for (const f of ['coco128.xml', 'coco128.bin', 'metadata.yaml']) t.ok(existsSync(join(folder, f)), f);
  const ir = decode(folder, 'coco128');
  const kinds = [...new Set(ir.layers.map((l) => `${l.type}/${l.version}`))].sort();
  t.same(kinds, ['Add/opset1', 'Concat/opset1', 'Const/opset1', 'Convolution/opset1', 'Divide/opset1', 'Interpolate/opset11', 'MaxPool/opset8', 'Multiply/opset1', 'Parameter/opset1', 'Reshape/opset1', 'Result/opset1', 'Sigmoid/opset1', 'SoftMax/opset8', 'Subtract/opset1', 'Swish/opset4', 'Transpose/opset1', 'VariadicSplit/opset1'], 'layer types and opsets');
  const param = ir.layers.find((l) => l.type === 'Parameter')!, result = ir.layers.find((l) => l.type === 'Result')!;
  t.same(param.outputs[0].dims, [1, 3, S, S]);
  t.same(result.inputs[0].dims, [1, 56, A], 'output (1, 56, anchors)');
  const model = (await new YOLO(pt).load('cpu')) as PoseModel;
  const convs = [...model.stateDict()].filter(([, v]) => v.shape.length === 4).length;
  t.equal(ir.layers.filter((l) => l.type === 'Convolution').length, convs, `${convs} Convolution layers`);
  const consts = ir.layers.filter((l) => l.type === 'Const').map((l) => [Number(l.data.offset), Number(l.data.size)]).sort((a, b) => a[0] - b[0]);
  t.ok(consts.every(([o, s], k) => k === 0 || o >= consts[k - 1][0] + consts[k - 1][1]), `${consts.length} Const byte ranges, none overlapping`);
  const w0 = (await model.stateDict().get('model.0.conv.weight')!.data()) as Float32Array;
  t.same(Array.from((ir.layers.find((l) => l.name === 'model.0.conv.weight')!.value as Float32Array).slice(0, 8)), Array.from(w0.slice(0, 8)), 'model.0.conv.weight (fused) in the .bin');
  t.same([ir.rtInfo.model_type, ir.rtInfo.pad_value, ir.rtInfo.labels, ir.rtInfo.resize_type], ['YOLOv8', '114', 'person', 'fit_to_window_letterbox'], "rt_info model_info as Ultralytics sets it");
});

t.test('half=True: f16 Consts each behind a Convert to f32', async (t) => {
  const ir = decode(halfFolder, 'half');
  const f16 = ir.layers.filter((l) => l.type === 'Const' && l.elementType === 'f16');
  t.ok(f16.length > 100, `${f16.length} f16 Consts`);
  t.ok(ir.layers.filter((l) => l.type === 'Const' && l.elementType === 'f32').length === 0, 'no f32 Const left');
  t.equal(ir.layers.filter((l) => l.type === 'Convert' && l.data.destination_type === 'f32').length, f16.length, 'one Convert each');
  const a = readFileSync(join(folder, 'coco128.bin')).length, b = readFileSync(join(halfFolder, 'half.bin')).length;
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

t.test('val through the OpenVINO folder gives the fixed-size ONNX export metrics', async (t) => {
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
  await t.rejects(new YOLO(pt).export({ format: 'openvino', int8: true, verbose: false }), /int8=True for format='openvino' needs NNCF/);
  await t.rejects(new YOLO(pt).export({ format: 'openvino', dynamic: true, verbose: false }), /dynamic=True for format='openvino' is not implemented/);
  const xml = readFileSync(join(folder, 'coco128.xml'), 'utf8');
  const foreign = join(dir, 'foreign_openvino_model');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'm.xml'), xml.replace('type="Swish" version="opset4"', 'type="HSwish" version="opset4"'));
  copyFileSync(join(folder, 'coco128.bin'), join(foreign, 'm.bin'));
  copyFileSync(join(folder, 'metadata.yaml'), join(foreign, 'metadata.yaml'));
  await t.rejects(new YOLO(foreign).predict(square, { device, ...quiet }), /foreign_openvino_model\/m\.xml: layer '__module\.model\.0\.conv\/Swish_0' \(id \d+\) uses the OpenVINO op 'HSwish' \(opset4\), which this importer does not implement/);
  const bin = new Uint8Array(readFileSync(join(folder, 'coco128.bin')));
  t.throws(() => readIr(xml, bin.subarray(0, 1000), 'x.xml'), /x\.xml: layer '[^']+' \(Const\): bytes \d+\.\.\d+ are outside the \.bin \(1000 bytes\)/);
  t.throws(() => readIr(xml.replace(/<edge from-layer="0" [^>]*>/, ''), bin, 'x.xml'), /x\.xml: input port 0 of layer '__module\.model\.0\.conv\/Convolution_0' has no edge/);
  t.throws(() => readIr(xml.replace('<dim>16</dim>', '<dim>15</dim>'), bin, 'x.xml'), /x\.xml: layer 'model\.0\.conv\.weight' \(Const\): output port 0 says \[15,3,3,3\], the op gives \[16,3,3,3\]/);
});
