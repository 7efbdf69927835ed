// format=pb (a frozen GraphDef) and format=saved_model, written by our own protobuf writer. No
// TensorFlow runtime installs here, so: the .pb is decoded (tasks/export/tf_proto.ts) and executed by
// @tensorflow/tfjs, which must compute what the engine computes within 1e-4 relative; the SavedModel's
// saved_model.pb is decoded and its 'serve' MetaGraph checked against the frozen graph (same nodes,
// same weights), its serving_default signature against the graph's input and output; the TFLite files
// Ultralytics puts beside it are there.
import t from 'tap';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { cpu, noGrad, permute, rand } from '../../engine/index.js';
import { loadPoseModel } from '../../models/index.js';
import { YOLO } from '../../tasks/yolo.js';
import { decodeGraphDef, decodeSavedModel, graphToTfjs } from '../../tasks/export/tf_proto.js';

const dir = mkdtempSync(join(tmpdir(), 'yolo-pb-'));
const pt = join(dir, 'coco128.pt');
copyFileSync('test/fixtures/predict/yolov8n-pose-coco128.pt', pt);
await tf.setBackend('cpu');
const quietly = async <T>(f: () => Promise<T>, logs: string[] = []) => {
  const log = console.log;
  console.log = (s: string) => logs.push(s);
  try {
    return await f();
  } finally {
    console.log = log;
  }
};

t.test('format=pb: the frozen GraphDef, decoded and run by tfjs, equals the engine', async (t) => {
  const logs: string[] = [];
  const f = await quietly(() => new YOLO(pt).export({ format: 'pb', imgsz: 160 }), logs);
  t.equal(f, join(dir, 'coco128.pb'));
  t.match(logs.join('\n'), /TensorFlow GraphDef: export success ✅ [\d.]+s, saved as '.*coco128\.pb' \([\d.]+ MB\)/);
  const gd = decodeGraphDef(readFileSync(f), f);
  t.same([gd.node[0].op, gd.node[0].name], ['Placeholder', 'images']);
  t.equal(gd.node.at(-1).name, 'Identity');
  t.ok(
    gd.node.some((n: any) => n.op === 'Conv2D') &&
      !gd.node.some((n: any) => n.op === 'VariableV2' || n.op === 'VarHandleOp'),
    'frozen: weights are Consts',
  );
  const model = await tf.loadGraphModel({ load: async () => graphToTfjs(gd, f) } as tf.io.IOHandler);
  const m = loadPoseModel(pt, { device: cpu }).eval();
  const x = rand([1, 3, 160, 160], { device: cpu });
  const ref = noGrad(() => m.predict(x)).dataSync() as Float32Array;
  const y = model.execute(
    tf.tensor(permute(x, [0, 2, 3, 1]).dataSync() as Float32Array, [1, 160, 160, 3]),
  ) as tf.Tensor;
  t.same(y.shape, [1, 56, 525]);
  const got = y.dataSync();
  let d = 0,
    mx = 0;
  for (let i = 0; i < ref.length; i++)
    ((d = Math.max(d, Math.abs(got[i] - ref[i]))), (mx = Math.max(mx, Math.abs(ref[i]))));
  t.ok(d / mx <= 1e-4, `tfjs running the decoded GraphDef vs engine: ${(d / mx).toExponential(2)} <= 1e-4`);
});

t.test('format=saved_model: the serve MetaGraph is the frozen graph, with its signature', async (t) => {
  const logs: string[] = [];
  const f = await quietly(() => new YOLO(pt).export({ format: 'saved_model', imgsz: 160 }), logs);
  t.equal(f, join(dir, 'coco128_saved_model'));
  t.match(logs.join('\n'), /TensorFlow SavedModel: export success ✅/);
  t.same(readdirSync(f).sort(), [
    'coco128_float16.tflite',
    'coco128_float32.tflite',
    'metadata.yaml',
    'saved_model.pb',
    'variables',
  ]);
  t.same(readdirSync(join(f, 'variables')), [], 'no variables: a frozen graph');
  const sm = decodeSavedModel(readFileSync(join(f, 'saved_model.pb')));
  t.equal(sm.saved_model_schema_version, 1);
  t.equal(sm.meta_graphs.length, 1);
  const mg = sm.meta_graphs[0];
  t.same(mg.meta_info_def.tags, ['serve']);
  const sig = mg.signature_def.find((e: any) => e.key === 'serving_default')?.value;
  t.ok(sig, 'serving_default signature');
  t.same(
    sig.inputs.map((e: any) => [e.key, e.value.name, e.value.dtype, e.value.tensor_shape.dim.map((d: any) => d.size)]),
    [['images', 'images:0', 1, [1, 160, 160, 3]]],
  );
  t.same(
    sig.outputs.map((e: any) => [e.value.name, e.value.tensor_shape.dim.map((d: any) => d.size)]),
    [['Identity:0', [1, 56, 525]]],
  );
  t.equal(sig.method_name, 'tensorflow/serving/predict');
  const frozen = decodeGraphDef(readFileSync(join(dir, 'coco128.pb')));
  const names = (g: any) => g.node.map((n: any) => `${n.op} ${n.name} <- ${n.input.join(',')}`);
  t.same(names(mg.graph_def), names(frozen), 'node for node the frozen graph');
  const a = graphToTfjs(mg.graph_def),
    b = graphToTfjs(frozen);
  t.same(a.weightSpecs, b.weightSpecs, 'the same constants');
  t.ok(Buffer.from(a.weightData).equals(Buffer.from(b.weightData)), 'byte for byte the same weights');
});
