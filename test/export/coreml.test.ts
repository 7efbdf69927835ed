// CoreML export (format=coreml): the .mlpackage's manifest, Model/MIL protobuf and blob-v2
// weight.bin decode with every op's wiring, each output's declared shape and each const's blob
// record checked (tasks/export/coreml_format.ts); the package runs back through the engine with the
// .pt model's predictions on the same square input.
import t from 'tap';
import { readFileSync, writeFileSync, existsSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { YOLO } from '../../tasks/yolo.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { readMlPackage } from '../../tasks/export/coreml_format.js';
import { setupRoundTrip, roundTripTests, valMatchesOnnx, boxMapMessage } from './round_trip.js';

const ctx = await setupRoundTrip('coreml', 'yolo-ml-');
const { device, dir, pt, quiet, S, A, square, folder, halfFolder } = ctx;
const wfile = (d: string) => join(d, 'Data', 'com.apple.CoreML', 'weights', 'weight.bin');

t.test('the .mlpackage Ultralytics writes, decoded with Model.proto / MIL.proto and the blob format', async (t) => {
  t.equal(folder, join(dir, 'coco128.mlpackage'));
  for (const f of ['Manifest.json', 'Data/com.apple.CoreML/model.mlmodel', 'Data/com.apple.CoreML/weights/weight.bin'])
    t.ok(existsSync(join(folder, f)), f);
  const p = readMlPackage(folder);
  t.equal(p.spec.specificationVersion, 6, 'specificationVersion 6 (iOS15, ML Program)');
  t.same(
    [...new Set(p.ops.map((o) => o.type))].sort(),
    [
      'concat',
      'const',
      'conv',
      'max_pool',
      'mul',
      'real_div',
      'reshape',
      'sigmoid',
      'silu',
      'softmax',
      'split',
      'sub',
      'transpose',
      'upsample_nearest_neighbor',
      'add',
    ].sort(),
    'MIL op types',
  );
  t.same(p.input, { name: 'image', dims: [1, 3, S, S] }, "input 'image' (1, 3, H, W), an RGB image type");
  const img = (p.spec.description as any).input[0].type.imageType;
  t.same([Number(img.width), Number(img.height), img.colorSpace], [S, S, 20]);
  t.same(p.output.dims, [1, 56, A], 'output (1, 56, anchors)');
  const model = (await new YOLO(pt).load('cpu')) as PoseModel;
  t.equal(
    p.ops.filter((o) => o.type === 'conv').length,
    [...model.stateDict()].filter(([, v]) => v.shape.length === 4).length,
    'one conv per conv weight',
  );
  const ranges = p.ops.filter((o) => o.blob).map((o) => o.blob!.range);
  t.ok(
    ranges.every(([a, b], k) => b > a && a % 64 === 0 && (k === 0 ? a === 64 : a === ((ranges[k - 1][1] + 63) & ~63))),
    `${ranges.length} blobs after the 64-byte header, each 64-byte aligned, in order`,
  );
  const wb = readFileSync(wfile(folder));
  t.same([wb.readUInt32LE(0), wb.readUInt32LE(4)], [ranges.length, 2], 'storage header: blob count, version 2');
  const w0 = (await model.stateDict().get('model.0.conv.weight')!.data()) as Float32Array;
  t.same(
    Array.from(p.consts.get('model_0_conv_weight')!.slice(0, 8)),
    Array.from(w0.slice(0, 8)),
    'model.0.conv.weight (fused) in weight.bin',
  );
  const md = Object.fromEntries(p.metadata.map((e) => [e.key, e.value]));
  t.match(
    md,
    {
      author: 'Ultralytics',
      version: '8.2.82',
      task: 'pose',
      stride: '32',
      imgsz: `[${S}, ${S}]`,
      names: "{0: 'person'}",
      kpt_shape: '[17, 3]',
      batch: '1',
    },
    'Ultralytics metadata: short description, author, version, license + user-defined',
  );
  t.match(md.description, /^Ultralytics YOLOv8n-pose model/);
});

t.test('half=True: a FLOAT16 program (fp16 blobs, casts at both ends)', async (t) => {
  const p = readMlPackage(halfFolder);
  const blobs = p.ops.filter((o) => o.blob);
  t.ok(
    blobs.every((o) => o.blob!.dtype === 10 && o.outputs[0].dtype === 10),
    `${blobs.length} FLOAT16 consts in blobs of dtype Float16`,
  );
  t.same(
    p.ops.filter((o) => o.type === 'cast').map((o) => o.inputs.dtype[0]),
    [['fp16'], ['fp32']],
  );
  const a = readFileSync(wfile(folder)).length,
    b = readFileSync(wfile(halfFolder)).length;
  t.ok(b < 0.55 * a, `${b} bytes vs ${a}`);
});

roundTripTests(t, ctx, {
  metaLabel: 'from the spec metadata',
  rawMessage: (d, A) => `raw (1, 56, ${A}) outputs max |Δ| ${d.toExponential(2)}`,
  halfLabel: 'f16 weights',
});

valMatchesOnnx(t, ctx, 'CoreML package', boxMapMessage);

t.test('bad input', async (t) => {
  await t.rejects(
    new YOLO(pt).export({ format: 'coreml', batch: 2, verbose: false }),
    /CoreML batch sizes > 1 are not supported\. Please retry at 'batch=1'\./,
  );
  await t.rejects(
    new YOLO(pt).export({ format: 'mlmodel', verbose: false }),
    /format='mlmodel' asks for the legacy NeuralNetwork \.mlmodel/,
  );
  // a foreign program with an op this importer does not implement: 'silu' -> 'gelu' (same length)
  const foreign = join(dir, 'foreign.mlpackage');
  cpSync(folder, foreign, { recursive: true });
  const specFile = join(foreign, 'Data', 'com.apple.CoreML', 'model.mlmodel');
  const spec = readFileSync(specFile);
  spec.write('gelu', spec.indexOf('\x0a\x04silu') + 2);
  writeFileSync(specFile, spec);
  await t.rejects(
    new YOLO(foreign).predict(square, { device, ...quiet }),
    /foreign\.mlpackage\/Data\/com\.apple\.CoreML\/model\.mlmodel: op \d+ is the MIL op 'gelu', which this importer does not implement/,
  );
  // a weight.bin whose first blob record lost its sentinel
  const broken = join(dir, 'broken.mlpackage');
  cpSync(folder, broken, { recursive: true });
  const wb = readFileSync(wfile(broken));
  wb.writeUInt32LE(0, 64);
  writeFileSync(wfile(broken), wb);
  t.throws(
    () => readMlPackage(broken),
    /model\.mlmodel: op \d+ \(const\) '[^']+': no blob metadata \(sentinel 0xDEADBEEF\) at offset 64/,
  );
});
