// Proof that the exported ONNX file is real: onnxruntime-node loads what we write and computes the
// same numbers as the engine; its structure is checked (IR version, opsets, initializers, inputs,
// the runtime's shapes against ours; onnx.checker when /usr/bin/python3 has onnx); half and
// dynamic exports run; exportModel writes <stem>.onnx beside the weights with Ultralytics' metadata.
// yolov8n-pose with the seed-0 reference weights, at imgsz 160 to stay fast.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import * as E from '../../engine/index.js';
import { decodeModel } from '../../engine/io/onnx_proto.js';
import { loadPoseModel } from '../../models/index.js';
import { Conv2d } from '../../nn/layers.js';
import { readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';
import { buildOnnx, exportModel, DEFAULT_OPSET } from '../../tasks/export/exporter.js';
import { OnnxSession } from '../../tasks/export/onnx_runtime.js';

const WEIGHTS = 'test/fixtures/models/yolov8n-pose-seed0.pt';
const TOL = 1e-4;
const gpu = await E.openWebGPU();
const device = gpu ? await E.getDevice('webgpu') : E.cpu; // the cpu device is the slow reference: one device is enough here
t.teardown(E.releaseDevices);
t.comment(`engine device: ${device.type}`);

const model = loadPoseModel(WEIGHTS, { device }).eval().fuse();
const dir = mkdtempSync(join(tmpdir(), 'export-'));

/** bus.jpg letterboxed to h x w (pad 114), batch of `b` (image i shifted by i pixels so they differ). */
function images(b: number, h: number, w: number): Float32Array {
  const lb = toCHWFloat(letterbox(readImage('test/fixtures/images/bus.jpg'), { newShape: [h, w], auto: false }).image);
  const out = new Float32Array(b * lb.length);
  for (let i = 0; i < b; i++) out.set(lb.subarray(i), i * lb.length);
  return out;
}

/** max |a - b| / max |b|, the parity metric of the model tests. */
function relDelta(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0,
    m = 0;
  for (let i = 0; i < b.length; i++) ((d = Math.max(d, Math.abs(a[i] - b[i]))), (m = Math.max(m, Math.abs(b[i]))));
  return Number.isNaN(d) ? Infinity : d / m;
}

async function engineOut(x: Float32Array, shape: number[]) {
  const xt = E.tensor(x, shape, { device });
  const y = model.predict(xt);
  const data = (await y.data()) as Float32Array;
  const s = [...y.shape];
  xt.dispose();
  y.dispose();
  return { data, shape: s };
}

async function ortOut(bytes: Uint8Array, x: Float32Array, shape: number[]) {
  const s = await ort.InferenceSession.create(bytes);
  const r = await s.run({ images: new ort.Tensor('float32', x, shape) });
  await s.release();
  return { data: r.output0.data as Float32Array, shape: r.output0.dims.map(Number) };
}

async function importerOut(bytes: Uint8Array, x: Float32Array, shape: number[]) {
  const s = new OnnxSession(decodeModel(bytes, 'm.onnx'), device, 'm.onnx');
  const xt = E.tensor(x, shape, { device });
  const [y] = s.run({ images: xt });
  const data = (await y.data()) as Float32Array;
  const out = { data, shape: [...y.shape] };
  [xt, y].forEach((v) => v.dispose());
  s.dispose();
  return out;
}

t.test('fp32 export: onnxruntime equals the engine, and the file is well formed', async (t) => {
  const ex = await buildOnnx(model, { imgsz: 160 }, { file: WEIGHTS });
  const m = decodeModel(ex.bytes, 'fp32.onnx');
  const x = images(1, 160, 160);
  const want = await engineOut(x, [1, 3, 160, 160]);
  const got = await ortOut(ex.bytes, x, [1, 3, 160, 160]);
  t.same(got.shape, [1, 56, 525], 'output0 (B, 4 + nc + 17 * 3, A)');
  const d = relDelta(got.data, want.data);
  t.ok(d <= TOL, `onnxruntime vs engine: max|Δ|/max|ref| = ${d.toExponential(2)}`);
  const mine = await importerOut(ex.bytes, x, [1, 3, 160, 160]);
  const di = relDelta(mine.data, got.data);
  t.ok(di <= TOL, `our importer vs onnxruntime: ${di.toExponential(2)}`);

  // structure
  t.equal(m.ir_version, 8, 'IR version 8 (the one of opset 17)');
  t.same(
    m.opset_import.map((o) => [o.domain ?? '', o.version]),
    [['', DEFAULT_OPSET]],
    'one default-domain opset import',
  );
  const inputs = new Set(m.graph.node.flatMap((n) => n.input));
  const unused = m.graph.initializer.filter((i) => !inputs.has(i.name!)).map((i) => i.name);
  t.same(unused, [], 'every initializer is used');
  const defined = new Set(['images', '', ...m.graph.initializer.map((i) => i.name!)]);
  const undefinedInputs: string[] = [];
  for (const n of m.graph.node) {
    for (const i of n.input) if (!defined.has(i)) undefinedInputs.push(`${n.name}: ${i}`);
    for (const o of n.output) defined.add(o);
  }
  t.same(undefinedInputs, [], "every node's inputs are defined before it (topological order)");
  t.equal(
    new Set(m.graph.node.flatMap((n) => n.output)).size,
    m.graph.node.flatMap((n) => n.output).length,
    'each value is written once (SSA)',
  );
  t.same(
    m.graph.input.map((i) => i.name),
    ['images'],
  );
  t.same(
    m.graph.output.map((o) => o.name),
    ['output0'],
  );
  t.same(
    new Set(m.graph.node.map((n) => n.op_type)),
    new Set([
      'Conv',
      'Sigmoid',
      'Mul',
      'Constant',
      'Split',
      'Add',
      'Concat',
      'MaxPool',
      'Resize',
      'Reshape',
      'Transpose',
      'Softmax',
      'Sub',
      'Div',
      'Slice',
    ]),
    'the op set of Ultralytics export graph',
  );
  const convs = model.modules().filter((c) => c instanceof Conv2d).length;
  t.equal(
    m.graph.node.filter((n) => n.op_type === 'Conv').length,
    convs,
    `one Conv node per conv of the model (${convs}, the DFL's included)`,
  );
  t.equal(
    m.graph.initializer.filter((i) => i.name!.endsWith('.weight')).length,
    convs,
    'one weight initializer each, named as in the state dict',
  );

  // shapes: the runtime's (every value made a graph output) against ours
  const probe = structuredClone(m);
  probe.graph.output = m.graph.node
    .flatMap((n) => n.output)
    .filter((o) => o !== 'output0')
    .map((name) => ({ name }));
  probe.graph.output.unshift(m.graph.output[0]);
  const { encodeModel } = await import('../../engine/io/onnx_proto.js');
  const s = await ort.InferenceSession.create(encodeModel(probe));
  const all = await s.run({ images: new ort.Tensor('float32', x, [1, 3, 160, 160]) });
  await s.release();
  const ours = new Map<string, readonly number[]>();
  const sess = new OnnxSession(m, device, 'fp32.onnx');
  const xt = E.tensor(x, [1, 3, 160, 160], { device });
  sess.run({ images: xt }, { observe: (name, shape) => ours.set(name, shape) })[0].dispose();
  xt.dispose();
  sess.dispose();
  const mismatched = [...ours]
    .filter(([name, shape]) => all[name] && all[name].dims.join() !== shape.join())
    .map(([n]) => n);
  t.ok(ours.size > 150, `compared ${ours.size} value shapes`);
  t.same(mismatched, [], 'every value shape onnxruntime computes equals ours');
  t.same(
    all['/model.22/dfl/Softmax_output_0']?.dims.map(Number),
    [1, 16, 4, 525],
    'DFL softmax over (B, 16 bins, 4 sides, A)',
  );

  // the official checker (strict shape inference) when the system Python has onnx
  const f = join(dir, 'checked.onnx');
  writeFileSync(f, ex.bytes);
  const py = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      'import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); i=onnx.shape_inference.infer_shapes(m, strict_mode=True); print([d.dim_value for d in i.graph.output[0].type.tensor_type.shape.dim])',
      f,
    ],
    { encoding: 'utf8' },
  );
  if (py.error || /No module named/.test(py.stderr)) t.comment('python onnx not installed: official checker skipped');
  else
    t.equal(
      py.stdout.trim(),
      '[1, 56, 525]',
      `onnx.checker(full_check) and strict shape inference accept it ${py.stderr.slice(-300)}`,
    );
});

t.test('half export: float16 weights, float32 input, runs in onnxruntime', async (t) => {
  const full = await buildOnnx(model, { imgsz: 160 }, { file: WEIGHTS });
  const ex = await buildOnnx(model, { imgsz: 160, half: true }, { file: WEIGHTS });
  t.ok(ex.bytes.length < 0.52 * full.bytes.length, `half the size: ${ex.bytes.length} vs ${full.bytes.length} bytes`);
  t.ok(
    ex.proto.graph.initializer.every((i) => i.data_type === 10),
    'every initializer is FLOAT16',
  );
  t.equal(ex.proto.graph.input[0].type!.tensor_type!.elem_type, 1, 'input stays float32');
  const x = images(1, 160, 160);
  const want = await engineOut(x, [1, 3, 160, 160]);
  const got = await ortOut(ex.bytes, x, [1, 3, 160, 160]);
  const d = relDelta(got.data, want.data);
  t.ok(d <= 1e-2, `fp16 weights vs fp32 engine: ${d.toExponential(2)} (<= 1e-2)`);
  const mine = await importerOut(ex.bytes, x, [1, 3, 160, 160]);
  const di = relDelta(mine.data, got.data);
  t.ok(di <= TOL, `our importer vs onnxruntime on the same fp16 file: ${di.toExponential(2)}`);
});

t.test('dynamic export: symbolic batch/height/width, runs at two sizes', async (t) => {
  const ex = await buildOnnx(model, { imgsz: 160, dynamic: true }, { file: WEIGHTS });
  const dims = (v: (typeof ex.proto.graph.input)[0]) =>
    v.type!.tensor_type!.shape!.dim.map((d) => d.dim_param ?? d.dim_value);
  t.same(dims(ex.proto.graph.input[0]), ['batch', 3, 'height', 'width']);
  t.same(dims(ex.proto.graph.output[0]), ['batch', 56, 'anchors']);
  t.notOk(
    ex.proto.graph.initializer.some((i) => /anchors|strides/.test(i.name!)),
    'anchors are computed in the graph',
  );
  for (const [b, h, w] of [
    [2, 128, 160],
    [1, 192, 96],
  ]) {
    const x = images(b, h, w);
    const want = await engineOut(x, [b, 3, h, w]);
    const got = await ortOut(ex.bytes, x, [b, 3, h, w]);
    t.same(got.shape, want.shape, `(${b}, 3, ${h}, ${w}) -> (${got.shape.join(', ')})`);
    const d = relDelta(got.data, want.data);
    t.ok(d <= TOL, `onnxruntime vs engine at ${b}x${h}x${w}: ${d.toExponential(2)}`);
    const mine = await importerOut(ex.bytes, x, [b, 3, h, w]);
    t.ok(
      relDelta(mine.data, got.data) <= TOL,
      `our importer at ${b}x${h}x${w}: ${relDelta(mine.data, got.data).toExponential(2)}`,
    );
  }
});

t.test('exportModel writes <stem>.onnx beside the weights with Ultralytics metadata', async (t) => {
  const weights = join(dir, 'yolov8n-pose-seed0.pt');
  copyFileSync(WEIGHTS, weights);
  const logs: string[] = [];
  const log = console.log;
  console.log = (s: string) => logs.push(s);
  let f: string;
  try {
    f = await exportModel(model, { format: 'onnx', imgsz: 161, batch: 2 }, { file: weights, data: 'coco8-pose.yaml' });
  } finally {
    console.log = log;
  }
  t.equal(f, join(dir, 'yolov8n-pose-seed0.onnx'));
  const m = decodeModel(readFileSync(f), f);
  const md = Object.fromEntries(m.metadata_props!.map((p) => [p.key, p.value]));
  t.same(
    Object.keys(md),
    [
      'description',
      'author',
      'date',
      'version',
      'license',
      'docs',
      'stride',
      'task',
      'batch',
      'imgsz',
      'names',
      'kpt_shape',
    ],
    "Ultralytics' keys, in its order",
  );
  t.equal(md.description, 'Ultralytics YOLOv8n-pose model trained on coco8-pose.yaml');
  t.match(md.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/, 'datetime.isoformat()');
  t.same(
    [md.stride, md.task, md.batch, md.imgsz, md.kpt_shape],
    ['32', 'pose', '2', '[192, 192]', '[17, 3]'],
    'imgsz rounded up to the stride, as check_imgsz',
  );
  t.match(md.names, /^\{0: '.*'\}$/, 'names as a Python dict literal');
  t.same(
    m.graph.input[0].type!.tensor_type!.shape!.dim.map((d) => d.dim_value),
    [2, 3, 192, 192],
  );
  t.match(logs.join('\n'), /ONNX: export success ✅ .*saved as '.*yolov8n-pose-seed0\.onnx'/);
  t.match(logs.join('\n'), /Predict: +yolo predict task=pose model=.*yolov8n-pose-seed0\.onnx imgsz=192/);
});
