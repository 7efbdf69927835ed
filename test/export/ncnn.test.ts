// ncnn export (format=ncnn): the files decode under ncnn's param grammar and .bin rules with every
// blob's shape, each weight's byte range and the graph's wiring checked (tasks/export/ncnn_format.ts),
// the layers are the ones pnnx writes, and the folder runs back through the engine with the .pt
// model's predictions (same square input: Ultralytics feeds fixed-size exports its square letterbox).
import t from 'tap';
import { copyFileSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { YOLO } from '../../tasks/yolo.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { readNcnn } from '../../tasks/export/ncnn_format.js';
import { setupRoundTrip, roundTripTests, valMatchesOnnx } from './round_trip.js';

const ctx = await setupRoundTrip('ncnn', 'yolo-ncnn-');
const { device, dir, pt, quiet, S, A, square, folder, halfFolder } = ctx;
const decode = (d: string) =>
  readNcnn(
    readFileSync(join(d, 'model.ncnn.param'), 'utf8'),
    new Uint8Array(readFileSync(join(d, 'model.ncnn.bin'))),
    [3, S, S],
    d,
  );

t.test('the folder Ultralytics writes, decoded with the param grammar and bin rules', async (t) => {
  t.equal(folder, join(dir, 'coco128_ncnn_model'));
  for (const f of ['model.ncnn.param', 'model.ncnn.bin', 'metadata.yaml']) t.ok(existsSync(join(folder, f)), f);
  const m = decode(folder);
  const types = new Set(m.layers.map((l) => l.type));
  t.same(
    [...types].sort(),
    [
      'BinaryOp',
      'Concat',
      'Convolution',
      'Input',
      'Interp',
      'MemoryData',
      'Permute',
      'Pooling',
      'Reshape',
      'Sigmoid',
      'Slice',
      'Softmax',
      'Split',
      'Swish',
    ],
    'the layer types pnnx writes for YOLOv8-pose',
  );
  t.equal(m.layers[0].outputs[0], 'in0');
  t.same(m.shapes.get('out0'), [56, A], 'out0: (4 + 1 + 17 x 3, anchors), no batch axis');
  const model = (await new YOLO(pt).load('cpu')) as PoseModel;
  const sd = [...model.stateDict()];
  const convs = sd.filter(([, v]) => v.shape.length === 4).length; // every conv weight, the DFL's included
  const blocks = sd.filter(([k]) => k.endsWith('.conv.weight') && !k.includes('.dfl.')).length; // Ultralytics Conv blocks (conv + SiLU)
  t.equal(
    m.layers.filter((l) => l.type === 'Convolution').length,
    convs,
    `${convs} Convolution layers: every conv, the DFL's 1x1 included`,
  );
  t.equal(m.layers.filter((l) => l.type === 'Swish').length, blocks, `${blocks} Swish: one per Conv block`);
  // byte ranges tile the .bin in layer order (readNcnn also checks it ends exactly at the .bin's end)
  const ranges = m.layers.flatMap((l) => l.ranges);
  t.ok(
    ranges.every(([a, b], k) => b > a && (k === 0 ? a === 0 : a === ranges[k - 1][1])),
    `${ranges.length} weight ranges, contiguous`,
  );
  t.ok(
    m.layers.filter((l) => l.type === 'Convolution').every((l) => l.storage === 'fp32'),
    'fp32 tag on every conv weight',
  );
  // the first conv's weights are the BN-folded weights of model.0
  const w0 = (await model.stateDict().get('model.0.conv.weight')!.data()) as Float32Array;
  t.same(
    Array.from(m.layers[1].weights[0].slice(0, 8)),
    Array.from(w0.slice(0, 8)),
    'conv_0 weights = model.0.conv.weight (fused)',
  );
  const md = readFileSync(join(folder, 'metadata.yaml'), 'utf8');
  t.match(md, /^description: Ultralytics YOLOv8n-pose model trained on coco128-pose\.yaml\nauthor: Ultralytics\n/);
  t.match(md, /task: pose\nbatch: 1\nimgsz:\n- 320\n- 320\nnames:\n  0: person\nkpt_shape:\n- 17\n- 3\n/);
});

t.test('half=True: float16 weights behind the fp16 tag, half the size', async (t) => {
  const m = decode(halfFolder);
  t.ok(
    m.layers.filter((l) => l.type === 'Convolution').every((l) => l.storage === 'fp16'),
    'tag 0x01306B47 on every conv weight',
  );
  const a = readFileSync(join(folder, 'model.ncnn.bin')).length,
    b = readFileSync(join(halfFolder, 'model.ncnn.bin')).length;
  t.ok(b < 0.53 * a, `${b} bytes vs ${a}`);
  t.match(readFileSync(join(halfFolder, 'model.ncnn.param'), 'utf8'), /^7767517\n/);
});

roundTripTests(t, ctx, {
  metaLabel: 'imgsz, kpt_shape, stride, names from metadata.yaml',
  stride: true,
  separateCount: true,
  rawMessage: (d, A) => `fp32: raw (56 x ${A}) outputs max |Δ| ${d.toExponential(2)} (pixels and scores)`,
  halfLabel: 'fp16 weights',
  halfIouInMessage: true,
});

valMatchesOnnx(
  t,
  ctx,
  'ncnn folder',
  (b, d) =>
    `pose mAP50-95 ${b.pose.map.toFixed(4)}, box ${b.box.map.toFixed(4)}; |Δ| ${d.toExponential(1)} vs the same square batches through ONNX`,
);

t.test('bad input', async (t) => {
  await t.rejects(
    new YOLO(pt).export({ format: 'ncnn', int8: true, verbose: false }),
    /int8=True is not supported for format='ncnn'/,
  );
  await t.rejects(
    new YOLO(pt).export({ format: 'ncnn', optimize: true, verbose: false }),
    /optimize=True not compatible with format='ncnn', i\.e\. use optimize=False/,
  );
  await t.rejects(new YOLO(pt).export({ format: 'ncnn', batch: 2, verbose: false }), /batch=2 is not supported/);
  // a foreign model using a layer this importer does not implement
  const foreign = join(dir, 'foreign_ncnn_model');
  mkdirSync(foreign);
  const param = readFileSync(join(folder, 'model.ncnn.param'), 'utf8').replace(
    /^Interp\s+upsample_0 /m,
    'Deconvolution            deconv_0 ',
  );
  writeFileSync(join(foreign, 'model.ncnn.param'), param);
  copyFileSync(join(folder, 'model.ncnn.bin'), join(foreign, 'model.ncnn.bin'));
  copyFileSync(join(folder, 'metadata.yaml'), join(foreign, 'metadata.yaml'));
  await t.rejects(
    new YOLO(foreign).predict(square, { device, ...quiet }),
    new RegExp(
      `${foreign}/model\\.ncnn\\.param: layer 'deconv_0' uses the ncnn layer type 'Deconvolution', which this importer does not implement`,
    ),
  );
  // a truncated .bin: the byte range of the layer that runs past the end
  const cut = join(dir, 'cut_ncnn_model');
  mkdirSync(cut);
  copyFileSync(join(folder, 'model.ncnn.param'), join(cut, 'model.ncnn.param'));
  writeFileSync(join(cut, 'model.ncnn.bin'), readFileSync(join(folder, 'model.ncnn.bin')).subarray(0, 100_000));
  await t.rejects(
    new YOLO(cut).predict(square, { device, ...quiet }),
    /model\.ncnn\.param: layer 'conv_\d+' \(Convolution\): (weight|bias) needs bytes \d+\.\.\d+ but the \.bin has 100000/,
  );
  // a blob read twice without a Split
  const twice = readFileSync(join(folder, 'model.ncnn.param'), 'utf8').replace(
    /^(Convolution\s+conv_1\s+1 1 )\S+/m,
    '$1in0',
  );
  t.throws(
    () => readNcnn(twice, new Uint8Array(readFileSync(join(folder, 'model.ncnn.bin'))), [3, S, S], 'x.param'),
    /x\.param: layer 'conv_1' \(Convolution\): blob 'in0' is already read by 'conv_0'/,
  );
});
