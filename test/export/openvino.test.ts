// OpenVINO export (format=openvino): the IR v11 .xml/.bin decode with the published IR structure and
// every port's dims, Const byte range, precision and edge checked (tasks/export/openvino_format.ts);
// the folder runs back through the engine with the .pt model's predictions on the same square input.
import t from 'tap';
import { copyFileSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { YOLO } from '../../tasks/yolo.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { readIr } from '../../tasks/export/openvino_format.js';
import * as E from '../../engine/index.js';
import type { OnnxPoseModel } from '../../tasks/export/onnx_model.js';
import { setupRoundTrip, roundTripTests, valMatchesOnnx, boxMapMessage } from './round_trip.js';

const ctx = await setupRoundTrip('openvino', 'yolo-ov-');
const { device, dir, pt, quiet, S, A, square, folder, halfFolder } = ctx;
const decode = (d: string, stem: string) =>
  readIr(
    readFileSync(join(d, `${stem}.xml`), 'utf8'),
    new Uint8Array(readFileSync(join(d, `${stem}.bin`))),
    join(d, `${stem}.xml`),
  );

t.test('the folder Ultralytics writes, decoded as IR v11', async (t) => {
  t.equal(folder, join(dir, 'coco128_openvino_model'));
  for (const f of ['coco128.xml', 'coco128.bin', 'metadata.yaml']) t.ok(existsSync(join(folder, f)), f);
  const ir = decode(folder, 'coco128');
  const kinds = [...new Set(ir.layers.map((l) => `${l.type}/${l.version}`))].sort();
  t.same(
    kinds,
    [
      'Add/opset1',
      'Concat/opset1',
      'Const/opset1',
      'Convolution/opset1',
      'Divide/opset1',
      'Interpolate/opset11',
      'MaxPool/opset8',
      'Multiply/opset1',
      'Parameter/opset1',
      'Reshape/opset1',
      'Result/opset1',
      'Sigmoid/opset1',
      'SoftMax/opset8',
      'Subtract/opset1',
      'Swish/opset4',
      'Transpose/opset1',
      'VariadicSplit/opset1',
    ],
    'layer types and opsets',
  );
  const param = ir.layers.find((l) => l.type === 'Parameter')!,
    result = ir.layers.find((l) => l.type === 'Result')!;
  t.same(param.outputs[0].dims, [1, 3, S, S]);
  t.same(result.inputs[0].dims, [1, 56, A], 'output (1, 56, anchors)');
  const model = (await new YOLO(pt).load('cpu')) as PoseModel;
  const convs = [...model.stateDict()].filter(([, v]) => v.shape.length === 4).length;
  t.equal(ir.layers.filter((l) => l.type === 'Convolution').length, convs, `${convs} Convolution layers`);
  const consts = ir.layers
    .filter((l) => l.type === 'Const')
    .map((l) => [Number(l.data.offset), Number(l.data.size)])
    .sort((a, b) => a[0] - b[0]);
  t.ok(
    consts.every(([o], k) => k === 0 || o >= consts[k - 1][0] + consts[k - 1][1]),
    `${consts.length} Const byte ranges, none overlapping`,
  );
  const w0 = (await model.stateDict().get('model.0.conv.weight')!.data()) as Float32Array;
  t.same(
    Array.from((ir.layers.find((l) => l.name === 'model.0.conv.weight')!.value as Float32Array).slice(0, 8)),
    Array.from(w0.slice(0, 8)),
    'model.0.conv.weight (fused) in the .bin',
  );
  t.same(
    [ir.rtInfo.model_type, ir.rtInfo.pad_value, ir.rtInfo.labels, ir.rtInfo.resize_type],
    ['YOLOv8', '114', 'person', 'fit_to_window_letterbox'],
    'rt_info model_info as Ultralytics sets it',
  );
});

t.test('half=True: f16 Consts each behind a Convert to f32', async (t) => {
  const ir = decode(halfFolder, 'half');
  const f16 = ir.layers.filter((l) => l.type === 'Const' && l.elementType === 'f16');
  t.ok(f16.length > 100, `${f16.length} f16 Consts`);
  t.ok(ir.layers.filter((l) => l.type === 'Const' && l.elementType === 'f32').length === 0, 'no f32 Const left');
  t.equal(
    ir.layers.filter((l) => l.type === 'Convert' && l.data.destination_type === 'f32').length,
    f16.length,
    'one Convert each',
  );
  const a = readFileSync(join(folder, 'coco128.bin')).length,
    b = readFileSync(join(halfFolder, 'half.bin')).length;
  t.ok(b < 0.53 * a, `${b} bytes vs ${a}`);
});

t.test(
  "dynamic=True: batch, height, width dynamic (?), anchors from the maps' shapes; runs at other sizes",
  async (t) => {
    const dynPt = join(dir, 'dyn.pt');
    copyFileSync(pt, dynPt);
    const dyn = await new YOLO(dynPt).export({ format: 'openvino', imgsz: S, dynamic: true, verbose: false });
    const ir = decode(dyn, 'dyn');
    const param = ir.layers.find((l) => l.type === 'Parameter')!,
      result = ir.layers.find((l) => l.type === 'Result')!;
    t.same(
      [param.data.shape, param.outputs[0].dims],
      ['?,3,?,?', [-1, 3, -1, -1]],
      'Parameter shape="?,3,?,?", port dims -1',
    );
    t.same(result.inputs[0].dims, [-1, 56, -1], 'output (?, 56, ?)');
    const kinds = new Set(ir.layers.map((l) => `${l.type}/${l.version}`));
    t.ok(
      ['ShapeOf/opset3', 'Gather/opset8', 'Range/opset4', 'Broadcast/opset3'].every((k) => kinds.has(k)),
      'anchors: ShapeOf, Gather, Range, Broadcast',
    );
    const reshapes = ir.layers.filter((l) => l.type === 'Reshape');
    t.ok(
      reshapes.every((l) => {
        const v = ir.layers.find((m) => m.id === l.from[1][0])!.value as number[];
        return v.filter((d) => d === -1).length <= 1 && (!v.includes(0) || l.data.special_zero === 'true');
      }),
      `${reshapes.length} Reshapes: at most one -1, a 0 only with special_zero`,
    );
    const m = new YOLO(dyn);
    await m.predict(square, { device, ...quiet }); // loads it
    const om = m.model as OnnxPoseModel,
      ref = (await new YOLO(pt).load(device)) as PoseModel;
    for (const [b, h, w] of [
      [1, S, S],
      [2, 256, 416],
    ]) {
      const x = E.rand([b, 3, h, w], { device: om.device });
      const [ya, yb] = [ref.predict(x), om.predict(x)];
      const [a, c] = [(await ya.data()) as Float32Array, (await yb.data()) as Float32Array];
      t.same(yb.shape, ya.shape, `(${b}, 3, ${h}, ${w}) -> [${ya.shape}]`);
      t.ok(a.reduce((d, v, k) => Math.max(d, Math.abs(v - c[k])), 0) < 2e-3, "raw outputs equal the .pt model's");
      (x.dispose(), ya.dispose(), yb.dispose());
    }
    // a non-square image: the minimal letterbox, as for the .pt
    const [ra, rb] = [
      (await new YOLO(pt).predict('test/fixtures/images/bus.jpg', { imgsz: S, device, ...quiet }))[0],
      (await m.predict('test/fixtures/images/bus.jpg', { imgsz: S, device, ...quiet }))[0],
    ];
    t.same(rb.boxes.xyxy.length, ra.boxes.xyxy.length, `${ra.boxes.xyxy.length} people on bus.jpg`);
    const dBox = Math.max(0, ...rb.boxes.xyxy.flatMap((q, i) => q.map((v, j) => Math.abs(v - ra.boxes.xyxy[i][j]))));
    t.ok(dBox < 0.01, `boxes max |Δ| ${dBox.toExponential(1)} px`);
  },
);

roundTripTests(t, ctx, {
  metaLabel: 'from metadata.yaml',
  rawMessage: (d, A) => `raw (1, 56, ${A}) outputs max |Δ| ${d.toExponential(2)}`,
  halfLabel: 'f16 weights',
});

valMatchesOnnx(t, ctx, 'OpenVINO folder', boxMapMessage);

t.test('bad input', async (t) => {
  await t.rejects(
    new YOLO(pt).export({ format: 'openvino', int8: true, verbose: false }),
    /int8=True for format='openvino' needs NNCF/,
  );
  const xml = readFileSync(join(folder, 'coco128.xml'), 'utf8');
  const foreign = join(dir, 'foreign_openvino_model');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'm.xml'), xml.replace('type="Swish" version="opset4"', 'type="HSwish" version="opset4"'));
  copyFileSync(join(folder, 'coco128.bin'), join(foreign, 'm.bin'));
  copyFileSync(join(folder, 'metadata.yaml'), join(foreign, 'metadata.yaml'));
  await t.rejects(
    new YOLO(foreign).predict(square, { device, ...quiet }),
    /foreign_openvino_model\/m\.xml: layer '__module\.model\.0\.conv\/Swish_0' \(id \d+\) uses the OpenVINO op 'HSwish' \(opset4\), which this importer does not implement/,
  );
  const bin = new Uint8Array(readFileSync(join(folder, 'coco128.bin')));
  t.throws(
    () => readIr(xml, bin.subarray(0, 1000), 'x.xml'),
    /x\.xml: layer '[^']+' \(Const\): bytes \d+\.\.\d+ are outside the \.bin \(1000 bytes\)/,
  );
  t.throws(
    () => readIr(xml.replace(/<edge from-layer="0" [^>]*>/, ''), bin, 'x.xml'),
    /x\.xml: input port 0 of layer '__module\.model\.0\.conv\/Convolution_0' has no edge/,
  );
  t.throws(
    () => readIr(xml.replace('<dim>16</dim>', '<dim>15</dim>'), bin, 'x.xml'),
    /x\.xml: layer 'model\.0\.conv\.weight' \(Const\): output port 0 says \[15,3,3,3\], the op gives \[16,3,3,3\]/,
  );
});
