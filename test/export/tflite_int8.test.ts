// format=tflite int8=True and format=edgetpu: post-training int8 quantization calibrated on coco8-pose's
// val images (Ultralytics' data= calibration), checked in two independent TFLite runtimes:
// LiteRT (npm @litertjs/core, XNNPack int8 kernels; its JS API feeds float32/int32/uint8 only, so the
// int8-input full-integer model runs in Arm NN alone) and Arm NN's TfLiteParser + CpuRef (Debian
// python3-pyarmnn), and read back by our importer (int8 weights dequantized, each int8 activation
// rounded to its grid). Measures (max|Δ| / max|ref|, ref = the engine's float32 output on bus.jpg at 160):
// the dynamic-range _int8.tflite, the int8-activation _integer_quant.tflite; the full-integer file is
// compared with our importer's reading of it (the same int8 arithmetic), as its decode tail is int8 too.
// A missing runtime fails.
import t from 'tap';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cpu, noGrad, permute, tensor } from '../../engine/index.js';
import { rootTable } from '../../engine/io/flatbuffers.js';
import { loadPoseModel } from '../../models/index.js';
import { YOLO } from '../../tasks/yolo.js';
import { TfPoseModel } from '../../tasks/export/tf_runtime.js';
import { readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';
import { runLiteRt, unloadLiteRtNode } from './litert.js';

const dir = mkdtempSync(join(tmpdir(), 'yolo-tflite-int8-'));
const pt = join(dir, 'coco128.pt');
copyFileSync('test/fixtures/predict/yolov8n-pose-coco128.pt', pt);
const S = 160,
  data = 'test/fixtures/val/coco8-pose/coco8-pose.yaml';
const folder = join(dir, 'coco128_saved_model'),
  file = (q: string) => join(folder, `coco128_${q}.tflite`);
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
const relTo = (a: Float32Array, b: Float32Array) => {
  let d = 0,
    mx = 0;
  for (let i = 0; i < b.length; i++) ((d = Math.max(d, Math.abs(a[i] - b[i]))), (mx = Math.max(mx, Math.abs(b[i]))));
  return a.length === b.length ? d / mx : Infinity;
};
const quietly = async <T>(f: () => Promise<T>, logs: string[] = [], warns: string[] = []) => {
  const { log, warn } = console;
  console.log = (s: string) => logs.push(s);
  console.warn = (s: string) => warns.push(s);
  try {
    return await f();
  } finally {
    Object.assign(console, { log, warn });
  }
};
/** our importer (int8 read back through FakeQuant) on the engine: the raw graph output */
const importer = (f: string) => {
  const m = TfPoseModel.loadTf(f, cpu),
    s = (m as any).session;
  const [y] = s.run({ [s.inputNames[0]]: x });
  return y.dataSync() as Float32Array; // already denormalized (AutoBackend's multiply)
};

// Arm NN: an int8 input is quantized as AutoBackend does (x / scale + zero_point), an int8 output dequantized
const ARMNN = `
import sys, numpy as np, pyarmnn as ann
p = ann.ITfLiteParser(); net = p.CreateNetworkFromBinaryFile(sys.argv[1])
ib = p.GetNetworkInputBindingInfo(0, p.GetSubgraphInputTensorNames(0)[0]); ob = p.GetNetworkOutputBindingInfo(0, p.GetSubgraphOutputTensorNames(0)[0])
rt = ann.IRuntime(ann.CreationOptions())
opt, _ = ann.Optimize(net, [ann.BackendId('CpuRef')], rt.GetDeviceSpec(), ann.OptimizerOptions())
nid, _ = rt.LoadNetwork(opt)
x = np.fromfile(sys.argv[2], dtype=np.float32); ti, to = ib[1], ob[1]
if ti.GetDataType() != ann.DataType_Float32: x = np.clip(np.round(x / ti.GetQuantizationScale() + ti.GetQuantizationOffset()), -128, 127).astype(np.int8)
out = ann.make_output_tensors([ob])
rt.EnqueueWorkload(nid, ann.make_input_tensors([ib], [x]), out)
y = ann.workload_tensors_to_ndarray(out)[0]
if to.GetDataType() != ann.DataType_Float32: y = (y.astype(np.float32) - to.GetQuantizationOffset()) * to.GetQuantizationScale()
y.astype(np.float32).tofile(sys.argv[3])
print('armnn', ann.ARMNN_VERSION, 'io', int(ti.GetDataType() == ann.DataType_Float32), int(to.GetDataType() == ann.DataType_Float32))
`;
function runArmnn(f: string): { y: Float32Array; floatIo: boolean[]; version: string } {
  const xf = join(dir, 'x.bin'),
    yf = join(dir, 'y.bin');
  writeFileSync(xf, xNhwc);
  const py = spawnSync('/usr/bin/python3', ['-c', ARMNN, f, xf, yf], { encoding: 'utf8', timeout: 300_000 });
  if (py.status !== 0)
    throw new Error(
      `Arm NN failed (status ${py.status}; needs Debian python3-pyarmnn libarmnntfliteparser22 libarmnn-cpuref-backend22, see .ci/install-system.sh): ${py.error ?? ''}${py.stderr.slice(-1500)}`,
    );
  const b = readFileSync(yf),
    words = py.stdout.trim().split(/\s+/);
  return {
    y: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4),
    floatIo: [words[3] === '1', words[4] === '1'],
    version: words[1],
  };
}

/** the flatbuffer's tensors: type, quantization, and the op codes by name */
function inspect(f: string) {
  const m = rootTable(new Uint8Array(readFileSync(f)), 'TFL3');
  const [sg] = m.tables(2);
  const tensors = sg.tables(0).map((tt) => ({
    shape: tt.scalars(0, 'i32'),
    type: tt.scalar(1, 'i8'),
    scale: tt.table(4)?.scalars(2, 'f32') ?? [],
    zp: (tt.table(4)?.scalars(3, 'i64') ?? []).map(Number),
  }));
  const codes = m.tables(1).map((c) => [Math.max(c.scalar(0, 'i8'), c.scalar(3, 'i32')), c.scalar(2, 'i32', 1)]);
  const ops = sg.tables(3).map((o) => ({
    code: codes[o.scalar(0, 'u32')][0],
    version: codes[o.scalar(0, 'u32')][1],
    ins: o.scalars(1, 'i32'),
    outs: o.scalars(2, 'i32'),
  }));
  return { tensors, ops, input: tensors[sg.scalars(1, 'i32')[0]], output: tensors[sg.scalars(2, 'i32')[0]] };
}

t.test('int8=True: the files onnx2tf writes, each run in LiteRT and Arm NN', async (t) => {
  const logs: string[] = [],
    warns: string[] = [];
  const t0 = performance.now();
  const f = await quietly(() => new YOLO(pt).export({ format: 'tflite', imgsz: S, int8: true, data }), logs, warns);
  const secs = (performance.now() - t0) / 1000;
  t.equal(
    f,
    file('int8'),
    "format=tflite int8=True returns <stem>_int8.tflite (onnx2tf's _dynamic_range_quant, renamed as Ultralytics does)",
  );
  for (const q of ['float32', 'float16', 'integer_quant', 'full_integer_quant'])
    t.ok(existsSync(file(q)), `${q}.tflite written beside it`);
  t.match(logs.join('\n'), `TensorFlow SavedModel: collecting INT8 calibration images from 'data=${data}'`);
  t.match(
    warns.join('\n'),
    'TensorFlow SavedModel: WARNING ⚠️ >300 images recommended for INT8 calibration, found 4 images.',
  );
  t.match(logs.join('\n'), /Predict: +yolo predict task=pose model=.*coco128_int8\.tflite imgsz=160 int8/);
  const mb = (q: string) => statSync(file(q)).size / 2 ** 20;
  t.ok(
    mb('integer_quant') < 0.3 * mb('float32'),
    `sizes: float32 ${mb('float32').toFixed(2)} MB, int8 ${mb('int8').toFixed(2)}, integer_quant ${mb('integer_quant').toFixed(2)}, full_integer_quant ${mb('full_integer_quant').toFixed(2)} MB; export ${secs.toFixed(1)} s`,
  );

  // what the kernels require (lite/kernels/*.cc): int8 filters with zero point 0, int32 biases,
  // LOGISTIC / SOFTMAX outputs at 1/256 and -128, float32 in/out with QUANTIZE / DEQUANTIZE, or int8 in/out
  const iq = inspect(file('integer_quant')),
    fq = inspect(file('full_integer_quant'));
  t.same(
    [iq.input.type, iq.output.type, fq.input.type, fq.output.type],
    [0, 0, 9, 9],
    'integer_quant float32 in/out, full_integer_quant int8 in/out',
  );
  t.same(
    [fq.input.scale[0], fq.input.zp[0]],
    [Math.fround(1 / 255), -128],
    'the int8 input holds images / 255 exactly',
  );
  const convs = iq.ops.filter((o) => o.code === 3 && iq.tensors[o.ins[0]].type === 9); // all but the DFL's, in the float tail
  t.ok(
    convs.length > 60 &&
      convs.every(
        (o) =>
          iq.tensors[o.ins[1]].type === 9 &&
          iq.tensors[o.ins[1]].zp.every((z) => z === 0) &&
          iq.tensors[o.ins[2]].type === 2 &&
          o.version === 3,
      ),
    `${convs.length} int8 CONV_2D (v3), symmetric per-tensor filters, int32 biases`,
  );
  const sig = iq.ops.filter((o) => o.code === 14 && iq.tensors[o.outs[0]].type === 9);
  t.ok(
    sig.length > 50 &&
      sig.every((o) => iq.tensors[o.outs[0]].scale[0] === Math.fround(1 / 256) && iq.tensors[o.outs[0]].zp[0] === -128),
    `${sig.length} int8 LOGISTIC outputs at scale 1/256, zero point -128`,
  );

  const eDyn = relTo(denorm(await runLiteRt(file('int8'), xNhwc, [1, S, S, 3])), ref);
  t.ok(eDyn <= 2e-2, `LiteRT _int8 (dynamic range) vs engine float32: ${eDyn.toExponential(2)} <= 2e-2`);
  const lite = denorm(await runLiteRt(file('integer_quant'), xNhwc, [1, S, S, 3]));
  const eInt = relTo(lite, ref);
  t.ok(eInt <= 1e-1, `LiteRT _integer_quant vs engine float32: ${eInt.toExponential(2)} <= 1e-1`);
  const arm = runArmnn(file('integer_quant'));
  const eArm = relTo(denorm(arm.y), ref);
  t.ok(eArm <= 1e-1, `Arm NN ${arm.version} CpuRef _integer_quant vs engine float32: ${eArm.toExponential(2)} <= 1e-1`);
  const ours = importer(file('integer_quant'));
  const eOurs = relTo(ours, lite);
  t.ok(
    eOurs <= 5e-2,
    `our importer (int8 grid on the engine) vs LiteRT on _integer_quant: ${eOurs.toExponential(2)} <= 5e-2 (vs engine float32: ${relTo(ours, ref).toExponential(2)})`,
  );

  // full integer: int8 in and out; Arm NN against our importer's reading of the same int8 graph
  const armF = runArmnn(file('full_integer_quant'));
  t.same(armF.floatIo, [false, false], 'Arm NN sees int8 input and output');
  const step = fq.output.scale[0],
    oursF = importer(file('full_integer_quant')),
    armY = denorm(armF.y);
  const A = ref.length / 56,
    steps = armY.reduce((m, v, i) => Math.max(m, Math.abs(v - oursF[i]) / (step * (i < 4 * A ? S : 1))), 0); // in the file's units: boxes normalized
  t.ok(
    steps <= 3,
    `Arm NN vs our importer on _full_integer_quant: max|Δ| ${steps.toFixed(2)} output steps (of ${step.toFixed(3)}) <= 3; vs engine float32 ${relTo(armY, ref).toExponential(2)} (one int8 scale for boxes, scores and pixel keypoints)`,
  );
});

t.test(
  'format=edgetpu: batch=1, int8 forced, default data, the full-integer file and the compiler command',
  async (t) => {
    const logs: string[] = [],
      warns: string[] = [],
      E = 64; // a small imgsz: this checks the flow, the numbers are checked above
    const sub = join(dir, 'edgetpu'),
      folder = join(sub, 'coco128_saved_model'),
      file = (q: string) => join(folder, `coco128_${q}.tflite`);
    mkdirSync(sub);
    copyFileSync(pt, join(sub, 'coco128.pt'));
    const f = await quietly(
      () => new YOLO(join(sub, 'coco128.pt')).export({ format: 'edgetpu', imgsz: E, batch: 2 }),
      logs,
      warns,
    );
    const w = warns.join('\n'),
      l = logs.join('\n');
    t.match(w, 'WARNING ⚠️ Edge TPU export requires batch size 1, setting batch=1.');
    t.match(
      w,
      "WARNING ⚠️ INT8 export requires a missing 'data' arg for calibration. Using default 'data=coco8-pose.yaml'.",
    );
    t.match(w, 'Edge TPU: WARNING ⚠️ Edge TPU known bug https://github.com/ultralytics/ultralytics/issues/1185');
    t.equal(f, file('full_integer_quant'), 'stops at the full-integer model');
    for (const x of [
      'saved_model.pb',
      'variables',
      'metadata.yaml',
      'coco128_float32.tflite',
      'coco128_float16.tflite',
      'coco128_int8.tflite',
      'coco128_integer_quant.tflite',
    ])
      t.ok(existsSync(join(folder, x)), `the SavedModel folder Ultralytics writes first: ${x}`);
    const cmd = `edgetpu_compiler -s -d -k 10 --out_dir "${folder}" "${file('full_integer_quant')}"`; // exporter.py export_edgetpu
    t.ok(
      l.split('\n').some((s) => s.endsWith(`compile the full-integer model with: ${cmd}`)),
      `one line with: ${cmd}`,
    );
    const fq = inspect(f);
    t.same([fq.input.type, fq.output.type, fq.input.shape], [9, 9, [1, E, E, 3]], 'int8 input (batch 1) and output');
  },
);
