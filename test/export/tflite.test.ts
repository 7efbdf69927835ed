// format=tflite: flatbuffers written by our own writer from TFLite's schema, run by two independent
// runtimes: LiteRT (npm @litertjs/core, Google's wasm build, XNNPack CPU) for float32 and float16
// (half=True), and Arm NN's TfLiteParser + CpuRef backend (Debian python3-pyarmnn) for float32.
// Input: bus.jpg letterboxed to 160, NHWC; the reference is the engine (cpu) on the same NCHW image.
// The output's xywh are normalized by the image size (Ultralytics' TFLite convention) and multiplied
// back before comparing, as AutoBackend does. Tolerances (max|Δ| / max|ref|): float32 1e-4, float16
// weights 1e-3. A missing runtime fails.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cpu, noGrad, permute, tensor } from '../../engine/index.js';
import { loadPoseModel } from '../../models/index.js';
import { YOLO } from '../../tasks/yolo.js';
import { readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';
import { runLiteRt, unloadLiteRtNode } from './litert.js';

const dir = mkdtempSync(join(tmpdir(), 'yolo-tflite-'));
const pt = join(dir, 'coco128.pt');
copyFileSync('test/fixtures/predict/yolov8n-pose-coco128.pt', pt);
const S = 160;
t.teardown(unloadLiteRtNode);
const x = tensor(
  toCHWFloat(letterbox(readImage('test/fixtures/images/bus.jpg'), { newShape: S }).image),
  [1, 3, S, S],
  { device: cpu },
);
const xNhwc = permute(x, [0, 2, 3, 1]).dataSync() as Float32Array;
const ref = noGrad(() => loadPoseModel(pt, { device: cpu }).eval().predict(x)).dataSync() as Float32Array;
/** AutoBackend: a TFLite model's xywh rows are normalized by the image size; multiply them back */
const denorm = (y: Float32Array) => {
  const A = y.length / 56,
    out = Float32Array.from(y);
  for (let r = 0; r < 4; r++) for (let k = 0; k < A; k++) out[r * A + k] *= S;
  return out;
};
const rel = (raw: Float32Array) => {
  const got = denorm(raw);
  let d = 0,
    mx = 0;
  for (let i = 0; i < ref.length; i++)
    ((d = Math.max(d, Math.abs(got[i] - ref[i]))), (mx = Math.max(mx, Math.abs(ref[i]))));
  return got.length === ref.length ? d / mx : Infinity;
};
const quietly = async <T>(f: () => Promise<T>, logs: string[] = []) => {
  const log = console.log;
  console.log = (s: string) => logs.push(s);
  try {
    return await f();
  } finally {
    console.log = log;
  }
};

const ARMNN = `
import sys, numpy as np, pyarmnn as ann
p = ann.ITfLiteParser(); net = p.CreateNetworkFromBinaryFile(sys.argv[1])
ib = p.GetNetworkInputBindingInfo(0, p.GetSubgraphInputTensorNames(0)[0]); ob = p.GetNetworkOutputBindingInfo(0, p.GetSubgraphOutputTensorNames(0)[0])
rt = ann.IRuntime(ann.CreationOptions())
opt, _ = ann.Optimize(net, [ann.BackendId('CpuRef')], rt.GetDeviceSpec(), ann.OptimizerOptions())
nid, _ = rt.LoadNetwork(opt)
out = ann.make_output_tensors([ob])
rt.EnqueueWorkload(nid, ann.make_input_tensors([ib], [np.fromfile(sys.argv[2], dtype=np.float32)]), out)
ann.workload_tensors_to_ndarray(out)[0].astype(np.float32).tofile(sys.argv[3])
print('armnn', ann.ARMNN_VERSION)
`;
function runArmnn(file: string): { y: Float32Array; version: string } {
  const xf = join(dir, 'x.bin'),
    yf = join(dir, 'y.bin');
  writeFileSync(xf, xNhwc);
  const py = spawnSync('/usr/bin/python3', ['-c', ARMNN, file, xf, yf], { encoding: 'utf8', timeout: 300_000 });
  if (py.status !== 0)
    throw new Error(
      `Arm NN failed (status ${py.status}; needs Debian python3-pyarmnn libarmnntfliteparser22 libarmnn-cpuref-backend22, see .ci/install-system.sh): ${py.error ?? ''}${py.stderr.slice(-1500)}`,
    );
  const b = readFileSync(yf);
  return {
    y: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4),
    version: py.stdout.trim().split(/\s+/).pop()!,
  };
}

t.test('float32: <stem>_saved_model/<stem>_float32.tflite, in LiteRT and Arm NN', async (t) => {
  const logs: string[] = [];
  const f = await quietly(() => new YOLO(pt).export({ format: 'tflite', imgsz: S }), logs);
  t.equal(f, join(dir, 'coco128_saved_model', 'coco128_float32.tflite'));
  const out = logs.join('\n');
  t.match(out, /TensorFlow Lite: export success ✅ [\d.]+s, saved as '.*coco128_float32\.tflite' \([\d.]+ MB\)/);
  t.match(out, /Predict: +yolo predict task=pose model=.*coco128_float32\.tflite imgsz=160/);
  const bytes = readFileSync(f);
  t.equal(bytes.subarray(4, 8).toString(), 'TFL3', 'file identifier');
  const e1 = rel(await runLiteRt(f, xNhwc, [1, S, S, 3]));
  t.ok(e1 <= 1e-4, `LiteRT vs engine: ${e1.toExponential(2)} <= 1e-4 (${(statSync(f).size / 2 ** 20).toFixed(2)} MB)`);
  const arm = runArmnn(f);
  const e2 = rel(arm.y);
  t.ok(e2 <= 1e-4, `Arm NN ${arm.version} CpuRef vs engine: ${e2.toExponential(2)} <= 1e-4`);
  // Ultralytics' metadata: AutoBackend opens the .tflite with zipfile and literal_evals temp_meta.txt
  const py = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      'import zipfile,ast,sys,json; z=zipfile.ZipFile(sys.argv[1]); m=ast.literal_eval(z.read("temp_meta.txt").decode()); print(json.dumps(m))',
      f,
    ],
    { encoding: 'utf8' },
  );
  t.equal(py.status, 0, py.stderr);
  const meta = JSON.parse(py.stdout);
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
    [meta.stride, meta.task, meta.imgsz, meta.names, meta.kpt_shape],
    [32, 'pose', [S, S], { 0: 'person' }, [17, 3]],
  );
});

t.test('half=True: float16 weights through DEQUANTIZE, in LiteRT', async (t) => {
  const f = await quietly(() => new YOLO(pt).export({ format: 'tflite', imgsz: S, half: true }));
  t.equal(f, join(dir, 'coco128_saved_model', 'coco128_float16.tflite'));
  const f32 = join(dir, 'coco128_saved_model', 'coco128_float32.tflite');
  t.ok(
    statSync(f).size < 0.55 * statSync(f32).size,
    `half the size: ${statSync(f).size} vs ${statSync(f32).size} bytes`,
  );
  const e = rel(await runLiteRt(f, xNhwc, [1, S, S, 3]));
  t.ok(e <= 1e-3, `LiteRT float16 vs engine float32: ${e.toExponential(2)} <= 1e-3`);
});

t.test('bad combinations: half with int8 is adjusted as Ultralytics does, then int8 calibrates on data=', async (t) => {
  const warns: string[] = [];
  const warn = console.warn;
  console.warn = (s: string) => warns.push(s);
  try {
    await t.rejects(
      quietly(() =>
        new YOLO(pt).export({
          format: 'tflite',
          imgsz: S,
          half: true,
          int8: true,
          data: join(dir, 'no-such-data.yaml'),
        }),
      ),
      /dataset '.*no-such-data\.yaml' not found/,
    );
  } finally {
    console.warn = warn;
  }
  t.match(warns.join('\n'), 'WARNING ⚠️ half=True and int8=True are mutually exclusive, setting half=False.');
});
