// Paddle export (format=paddle): model.pdmodel decodes as framework.proto's ProgramDesc and
// model.pdiparams as save_combine's tensor stream, with every variable's dims, each op's wiring and
// each tensor's header, dtype and byte range checked (tasks/export/paddle_format.ts); the folder runs
// back through the engine with the .pt model's predictions on the same square input.
import t from 'tap';
import { copyFileSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { YOLO } from '../../tasks/yolo.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { readPaddle } from '../../tasks/export/paddle_format.js';
import { decode } from '../../engine/io/protobuf.js';
import { PADDLE_SCHEMA } from '../../tasks/export/paddle_proto.js';
import { setupRoundTrip, roundTripTests, valMatchesOnnx, boxMapMessage } from './round_trip.js';

const ctx = await setupRoundTrip('paddle', 'yolo-pd-');
const { device, dir, pt, quiet, S, A, square, folder, halfFolder } = ctx;
const files = (d: string) => [
  join(d, 'inference_model', 'model.pdmodel'),
  join(d, 'inference_model', 'model.pdiparams'),
];
const read = (d: string) =>
  readPaddle(new Uint8Array(readFileSync(files(d)[0])), new Uint8Array(readFileSync(files(d)[1])), files(d)[0]);

t.test('the folder x2paddle leaves, decoded as a ProgramDesc and a save_combine stream', async (t) => {
  t.equal(folder, join(dir, 'coco128_paddle_model'));
  for (const f of [...files(folder), join(folder, 'metadata.yaml')]) t.ok(existsSync(f), f);
  const m = read(folder);
  t.same(
    [...new Set(m.ops.map((o) => o.type))].sort(),
    [
      'concat',
      'conv2d',
      'elementwise_add',
      'elementwise_mul',
      'elementwise_sub',
      'feed',
      'fetch',
      'nearest_interp_v2',
      'pool2d',
      'reshape2',
      'scale',
      'sigmoid',
      'silu',
      'softmax',
      'split',
      'transpose2',
    ],
    'op types',
  );
  t.same(m.dims.get(m.feed), [1, 3, S, S], 'feed x0 (1, 3, H, W)');
  t.same(m.dims.get(m.fetch), [1, 56, A], 'fetched (1, 56, anchors)');
  const model = (await new YOLO(pt).load('cpu')) as PoseModel;
  const sd = [...model.stateDict()];
  t.equal(
    m.ops.filter((o) => o.type === 'conv2d').length,
    sd.filter(([, v]) => v.shape.length === 4).length,
    'one conv2d per conv weight',
  );
  const names = [...m.params.keys()];
  t.same(names, [...names].sort(), 'parameters in name order (save_combine)');
  const ranges = [...m.params.values()].map((p) => p.range);
  t.ok(
    ranges.every(([a, b], k) => b > a && (k === 0 ? a === 0 : a === ranges[k - 1][1])),
    `${ranges.length} tensors tile the .pdiparams`,
  );
  const w0 = (await model.stateDict().get('model.0.conv.weight')!.data()) as Float32Array;
  t.same(
    Array.from(m.params.get('model.0.conv.weight')!.data.slice(0, 8)),
    Array.from(w0.slice(0, 8)),
    'model.0.conv.weight (fused)',
  );
  t.ok(
    m.params.has('model.22.anchors') && m.params.has('model.22.strides'),
    'anchor points and strides as persistable tensors',
  );
  const prog = decode(PADDLE_SCHEMA, 'ProgramDesc', new Uint8Array(readFileSync(files(folder)[0])));
  t.equal((prog.blocks as unknown[]).length, 1, 'one block');
});

t.test('half=True: FP16 tensors in the .pdiparams', async (t) => {
  const m = read(halfFolder);
  t.ok(
    [...m.params.values()].every((p) => p.dtype === 'FP16'),
    `${m.params.size} FP16 tensors`,
  );
  const a = readFileSync(files(folder)[1]).length,
    b = readFileSync(files(halfFolder)[1]).length;
  t.ok(b < 0.53 * a, `${b} bytes vs ${a}`);
});

roundTripTests(t, ctx, {
  metaLabel: 'from metadata.yaml',
  rawMessage: (d, A) => `raw (1, 56, ${A}) outputs max |Δ| ${d.toExponential(2)}`,
  halfLabel: 'f16 weights',
});

valMatchesOnnx(t, ctx, 'Paddle folder', boxMapMessage);

t.test('bad input', async (t) => {
  await t.rejects(
    new YOLO(pt).export({ format: 'paddle', int8: true, verbose: false }),
    /int8=True is not supported for format='paddle'/,
  );
  // dynamic is ignored, as Ultralytics' x2paddle trace does: a fixed (1, 3, S, S) feed, with a warning
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  const dynPt = join(dir, 'dyn.pt');
  copyFileSync(pt, dynPt);
  let dyn: string;
  try {
    dyn = await new YOLO(dynPt).export({ format: 'paddle', imgsz: S, dynamic: true });
  } finally {
    console.log = log;
  }
  t.ok(
    lines.some((l) => l.includes('WARNING ⚠️ dynamic=True: the ProgramDesc is written at the fixed imgsz and batch')),
    'the warning',
  );
  t.same(read(dyn).dims.get(read(dyn).feed), [1, 3, S, S], 'a fixed feed');
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
  await t.rejects(
    new YOLO(foreign).predict(square, { device, ...quiet }),
    /foreign_paddle_model\/inference_model\/model\.pdmodel: op \d+ is the Paddle op 'gelu', which this importer does not implement/,
  );
  t.throws(
    () => readPaddle(pm, pp.subarray(0, 5000), 'x.pdmodel'),
    /x\.pdmodel: parameter '[^']+': data needs bytes \d+\.\.\d+, the \.pdiparams has 5000/,
  );
  t.throws(
    () => readPaddle(pm, pp.subarray(0, pp.length - 4), 'x.pdmodel'),
    /x\.pdmodel: parameter '[^']+': data needs bytes/,
  );
});
