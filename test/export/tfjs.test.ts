// format=tfjs: `<stem>_web_model/` (model.json, weight shards, metadata.yaml) written by our own
// graph-model writer from the traced graph; @tensorflow/tfjs (pure JS, cpu backend) loads it through a
// disk io handler (readTfjsModel) and runs it on NHWC images, computing what the engine computes on
// the same NCHW images within 1e-4 relative (max|Δ| / max|ref|).
import t from 'tap';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parse as parseYaml } from 'yaml';
import { cpu, noGrad, permute, rand } from '../../engine/index.js';
import { loadPoseModel } from '../../models/index.js';
import { YOLO } from '../../tasks/yolo.js';
import { exportModel } from '../../tasks/export/exporter.js';
import { readTfjsModel } from '../../tasks/export/tfjs.js';

const dir = mkdtempSync(join(tmpdir(), 'yolo-tfjs-'));
const pt = join(dir, 'coco128.pt');
copyFileSync('test/fixtures/predict/yolov8n-pose-coco128.pt', pt);
await tf.setBackend('cpu');

async function run(folder: string, shape: [number, number, number, number]) {
  const m = loadPoseModel(pt, { device: cpu }).eval();
  const x = rand(shape, { device: cpu });
  const ref = noGrad(() => m.predict(x)).dataSync() as Float32Array;
  const model = await tf.loadGraphModel({ load: async () => readTfjsModel(folder) } as tf.io.IOHandler);
  const [B, C, H, W] = shape;
  const y = model.execute(tf.tensor(permute(x, [0, 2, 3, 1]).dataSync() as Float32Array, [B, H, W, C])) as tf.Tensor;
  const got = y.dataSync();
  let d = 0, mx = 0;
  for (let i = 0; i < ref.length; i++) (d = Math.max(d, Math.abs(got[i] - ref[i]))), (mx = Math.max(mx, Math.abs(ref[i])));
  return { shape: y.shape, rel: d / mx, n: got.length, nRef: ref.length };
}

t.test('yolo export format=tfjs: a _web_model folder that tfjs runs like the engine', async (t) => {
  const logs: string[] = [];
  const log = console.log;
  console.log = (s: string) => logs.push(s);
  let f: string;
  try {
    f = await new YOLO(pt).export({ format: 'tfjs', imgsz: 160 });
  } finally {
    console.log = log;
  }
  t.equal(f, join(dir, 'coco128_web_model'));
  t.same(readdirSync(f).sort(), ['group1-shard1of4.bin', 'group1-shard2of4.bin', 'group1-shard3of4.bin', 'group1-shard4of4.bin', 'metadata.yaml', 'model.json'], '4 MiB shards, as tensorflowjs_converter');
  const out = logs.join('\n');
  t.match(out, /TensorFlow\.js: output node names: Identity/);
  t.match(out, /TensorFlow\.js: export success ✅ [\d.]+s, saved as '.*coco128_web_model' \([\d.]+ MB\)/);
  t.match(out, /Predict: +yolo predict task=pose model=.*coco128_web_model imgsz=160/);
  const json = JSON.parse(readFileSync(join(f, 'model.json'), 'utf8'));
  t.equal(json.format, 'graph-model');
  t.same(Object.keys(json.signature.inputs), ['images:0']);
  t.same(json.signature.inputs['images:0'].tensorShape.dim.map((d: any) => +d.size), [1, 160, 160, 3], 'NHWC input, as Ultralytics');
  const meta = parseYaml(readFileSync(join(f, 'metadata.yaml'), 'utf8'));
  t.same(Object.keys(meta), ['description', 'author', 'date', 'version', 'license', 'docs', 'stride', 'task', 'batch', 'imgsz', 'names', 'kpt_shape']);
  t.same([meta.stride, meta.task, meta.batch, meta.imgsz, meta.names, meta.kpt_shape], [32, 'pose', 1, [160, 160], { 0: 'person' }, [17, 3]]);

  const r = await run(f, [1, 3, 160, 160]);
  t.same(r.shape, [1, 56, 525]);
  t.equal(r.n, r.nRef);
  t.ok(r.rel <= 1e-4, `tfjs ${tf.version.tfjs} (cpu) vs engine: max|Δ|/max|ref| = ${r.rel.toExponential(2)} <= 1e-4`);
});

t.test('batch 2, rectangular imgsz, an unfused model', async (t) => {
  const m = loadPoseModel(pt, { device: cpu }).eval();
  const f = await exportModel(m, { format: 'tfjs', imgsz: [96, 128], batch: 2, verbose: false }, { file: join(dir, 'rect.pt') });
  const r = await run(f, [2, 3, 96, 128]);
  t.same(r.shape, [2, 56, 252]);
  t.ok(r.rel <= 1e-4, `batch 2, 96x128: max|Δ|/max|ref| = ${r.rel.toExponential(2)} <= 1e-4`);
});
