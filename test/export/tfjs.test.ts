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
  let d = 0,
    mx = 0;
  for (let i = 0; i < ref.length; i++)
    ((d = Math.max(d, Math.abs(got[i] - ref[i]))), (mx = Math.max(mx, Math.abs(ref[i]))));
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
  t.same(
    readdirSync(f).sort(),
    [
      'group1-shard1of4.bin',
      'group1-shard2of4.bin',
      'group1-shard3of4.bin',
      'group1-shard4of4.bin',
      'metadata.yaml',
      'model.json',
    ],
    '4 MiB shards, as tensorflowjs_converter',
  );
  const out = logs.join('\n');
  t.match(out, /TensorFlow\.js: output node names: Identity/);
  t.match(out, /TensorFlow\.js: export success ✅ [\d.]+s, saved as '.*coco128_web_model' \([\d.]+ MB\)/);
  t.match(out, /Predict: +yolo predict task=pose model=.*coco128_web_model imgsz=160/);
  const json = JSON.parse(readFileSync(join(f, 'model.json'), 'utf8'));
  t.equal(json.format, 'graph-model');
  t.same(Object.keys(json.signature.inputs), ['images:0']);
  t.same(
    json.signature.inputs['images:0'].tensorShape.dim.map((d: any) => +d.size),
    [1, 160, 160, 3],
    'NHWC input, as Ultralytics',
  );
  const meta = parseYaml(readFileSync(join(f, 'metadata.yaml'), 'utf8'));
  t.same(Object.keys(meta), [
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
  ]);
  t.same(
    [meta.stride, meta.task, meta.batch, meta.imgsz, meta.names, meta.kpt_shape],
    [32, 'pose', 1, [160, 160], { 0: 'person' }, [17, 3]],
  );

  const r = await run(f, [1, 3, 160, 160]);
  t.same(r.shape, [1, 56, 525]);
  t.equal(r.n, r.nRef);
  t.ok(r.rel <= 1e-4, `tfjs ${tf.version.tfjs} (cpu) vs engine: max|Δ|/max|ref| = ${r.rel.toExponential(2)} <= 1e-4`);
});

t.test('batch 2, rectangular imgsz, an unfused model', async (t) => {
  const m = loadPoseModel(pt, { device: cpu }).eval();
  const f = await exportModel(
    m,
    { format: 'tfjs', imgsz: [96, 128], batch: 2, verbose: false },
    { file: join(dir, 'rect.pt') },
  );
  const r = await run(f, [2, 3, 96, 128]);
  t.same(r.shape, [2, 56, 252]);
  t.ok(r.rel <= 1e-4, `batch 2, 96x128: max|Δ|/max|ref| = ${r.rel.toExponential(2)} <= 1e-4`);
});

t.test("half=True / int8=True: tensorflowjs_converter's --quantize_float16 / --quantize_uint8 weights", async (t) => {
  const m = loadPoseModel(pt, { device: cpu }).eval();
  const folders: Record<string, string> = {};
  const size = (f: string) =>
    readdirSync(f)
      .filter((n) => n.endsWith('.bin'))
      .reduce((s, n) => s + readFileSync(join(f, n)).length, 0);
  folders.f32 = join(dir, 'coco128_web_model'); // the first test's float32 export at 160
  for (const [k, o] of [
    ['f16', { half: true }],
    ['u8', { int8: true }],
  ] as const)
    folders[k] = await exportModel(
      m,
      { format: 'tfjs', imgsz: 160, verbose: false, ...o },
      { file: join(dir, `q_${k}.pt`) },
    );
  const json = (f: string) => JSON.parse(readFileSync(join(f, 'model.json'), 'utf8'));
  const w16 = json(folders.f16).weightsManifest[0].weights,
    w8 = json(folders.u8).weightsManifest[0].weights;
  const floats = w16.filter((w: any) => w.dtype === 'float32');
  t.ok(
    floats.length > 100 &&
      floats.every((w: any) => w.quantization?.dtype === 'float16' && w.quantization.original_dtype === 'float32'),
    `${floats.length} float32 weights stored as float16`,
  );
  t.ok(
    w16.filter((w: any) => w.dtype === 'int32').every((w: any) => !w.quantization),
    'int32 weights (shapes) untouched',
  );
  const q8 = w8.filter((w: any) => w.quantization);
  t.ok(
    q8.length === floats.length &&
      q8.every(
        (w: any) => w.quantization.dtype === 'uint8' && Number.isFinite(w.quantization.min) && w.quantization.scale > 0,
      ),
    `${q8.length} uint8 weights with min and scale`,
  );
  // the nudged range: 0.0 is a code wherever the range covers it
  t.ok(
    q8.every((w: any) => {
      const { min, scale } = w.quantization;
      const z = -min / scale;
      return min > 0 || Math.abs(z - Math.round(z)) < 1e-6 || min + 255 * scale < 0 || scale === 1;
    }),
    'zero exactly representable',
  );
  const [b32, b16, b8] = [size(folders.f32), size(folders.f16), size(folders.u8)];
  t.ok(
    b16 < 0.51 * b32 && b8 < 0.26 * b32,
    `weights ${b32} -> ${b16} (float16, ${(b16 / b32).toFixed(3)}) -> ${b8} bytes (uint8, ${(b8 / b32).toFixed(3)})`,
  );
  const r16 = await run(folders.f16, [1, 3, 160, 160]),
    r8 = await run(folders.u8, [1, 3, 160, 160]);
  t.ok(r16.rel <= 2e-3, `tfjs float16 weights vs engine: max|Δ|/max|ref| = ${r16.rel.toExponential(2)} <= 2e-3`);
  t.ok(r8.rel <= 5e-2, `tfjs uint8 weights vs engine: max|Δ|/max|ref| = ${r8.rel.toExponential(2)} <= 5e-2`);
  // our importer dequantizes as tfjs does: the same outputs
  for (const k of ['f16', 'u8']) {
    const x = rand([1, 3, 160, 160], { device: cpu });
    const ours = (await new YOLO(folders[k]).load('cpu')) as unknown as {
      predict(x: unknown): { dataSync(): Float32Array };
    };
    const a = ours.predict(x).dataSync();
    const model = await tf.loadGraphModel({ load: async () => readTfjsModel(folders[k]) } as tf.io.IOHandler);
    const b = (
      model.execute(tf.tensor(permute(x, [0, 2, 3, 1]).dataSync() as Float32Array, [1, 160, 160, 3])) as tf.Tensor
    ).dataSync();
    const d =
      a.reduce((s, v, i) => Math.max(s, Math.abs(v - b[i])), 0) / b.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
    t.ok(d <= 1e-4, `${k}: YOLO('${k}_web_model') vs tfjs: ${d.toExponential(2)}`);
  }
});
