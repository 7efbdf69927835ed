// Issue 11 P1: yolov8n-pose inference at 640x640, batch 1, fused, eval, per device of the engine
// (eager, and compiled with model.compile() where the device supports it), the cpu reference
// device once, beside onnxruntime-node running our exported ONNX and PyTorch running the same
// network with the same weights (bench/model_forward_torch.py), all in one run.
//
// Latency is wall time from the upload to the (1, 56, 8400) output read back on the host; CPU time
// is the process's (user + system, every thread: Dawn's lavapipe workers and onnxruntime's pool
// included; time.process_time() for PyTorch). Medians of --runs after --warmup runs. Ratios are
// ours / onnxruntime and ours / PyTorch, by wall and by CPU time. The load average is printed at
// start and end: on a shared machine the wall times measure each row's share of it.
//
// usage: npx tsx bench/inference_p1.ts [--devices webgpu,wasm,cpu] [--modes eager,compiled] [--runs 10]
//        [--warmup 2] [--threads 2] [--ort-threads 0] [--imgsz 640] [--weights test/fixtures/predict/yolov8n-pose-coco128.pt]
// --threads: PyTorch's torch.set_num_threads, a list gives one row each (ratios to the first); --ort-threads 0: onnxruntime's intraOpNumThreads = one per core.
// A device that cannot be opened prints `<name>: not available (<reason>)` and has no rows. The cpu
// device runs the eager forward once, without warm-up (about 20 s).
import * as ort from 'onnxruntime-node';
import { cpus } from 'node:os';
import * as E from '../engine/index.js';
import { loadPoseModel } from '../models/index.js';
import { buildOnnx } from '../tasks/export/exporter.js';
import { printProfile, profiler } from '../engine/profile.js';
import {
  f1,
  f2,
  machineLoad,
  MemoryWatch,
  openDevices,
  opt,
  relDiff,
  runTorch,
  timeRuns,
  type Timing,
} from './common.js';

const runs = Number(opt('runs', '10'));
const warmup = Number(opt('warmup', '2'));
const threads = opt('threads', '2');
const ortThreads = Number(opt('ort-threads', '0')) || cpus().length;
const imgsz = Number(opt('imgsz', '640'));
const weights = opt('weights', 'test/fixtures/predict/yolov8n-pose-coco128.pt');
const deviceNames = opt('devices', 'webgpu,wasm,cpu').split(',');
const modes = opt('modes', 'eager,compiled').split(',');
const SHAPE = [1, 3, imgsz, imgsz];

interface Row {
  what: string;
  t?: Timing;
  note?: string;
  ours?: boolean;
}
const rows: Row[] = [];

E.manualSeed(0);
const host = E.rand(SHAPE).dataSync() as Float32Array;
const loadStart = machineLoad();
let ortOut = null as Float32Array | null;
console.log(`P1: yolov8n-pose ${imgsz}x${imgsz} batch 1, fused, eval (weights ${weights}); ${loadStart}`);

try {
  // onnxruntime-node on the ONNX we export (from a cpu copy: the file is the same whatever exports it)
  try {
    const { bytes } = await buildOnnx(
      loadPoseModel(weights, { device: E.cpu }).eval().fuse(),
      { imgsz, verbose: false },
      { file: weights },
    );
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: ortThreads,
      graphOptimizationLevel: 'all',
    });
    const feeds = { images: new ort.Tensor('float32', host, SHAPE) };
    const mem = new MemoryWatch();
    const t = await timeRuns(
      runs,
      warmup,
      async () => {
        ortOut = (await session.run(feeds)).output0.data as Float32Array;
      },
      mem,
    );
    rows.push({
      what: `onnxruntime-node ${ort.env.versions.common} CPU EP, ${ortThreads} threads`,
      t,
      note: `our ONNX export, opset 17, ${(bytes.length / 2 ** 20).toFixed(1)} MB; ${mem.note()}`,
    });
    await session.release();
  } catch (e) {
    rows.push({ what: 'onnxruntime-node', note: `skipped: ${(e as Error).message.split('\n')[0]}` });
  }

  for (const device of await openDevices(deviceNames)) {
    const slow = device.type === 'cpu';
    const model = loadPoseModel(weights, { device }).eval().fuse();
    let out = null as Float32Array | null;
    const once = async () => {
      const x = E.tensor(host, SHAPE, { device });
      const y = model.predict(x);
      out = (await y.data()) as Float32Array;
      x.dispose();
      y.dispose();
    };
    for (const mode of slow ? ['eager'] : modes) {
      const what = `yolo-ts ${device.type} ${mode}`;
      profiler.reset();
      let t: Timing;
      const mem = new MemoryWatch(device);
      try {
        model.compile(mode === 'compiled');
        t = await timeRuns(slow ? 1 : runs, slow ? 0 : warmup, once, mem);
      } catch (e) {
        rows.push({ what, note: `failed: ${(e as Error).message.split('\n')[0]}` });
        continue;
      }
      if (profiler.enabled) await printProfile(`P1 ${what} (${t.runs + (slow ? 0 : warmup)} forwards)`);
      const ex = mode === 'compiled' ? model.compiled?.executor(SHAPE) : undefined;
      const agree =
        ortOut && out ? `output vs onnxruntime: max abs diff / max abs ${relDiff(out, ortOut).toExponential(1)}` : '';
      rows.push({
        what,
        t,
        ours: true,
        note: [device.name, ex && `${ex.plan.stats.kernels} kernels`, agree, mem.note()].filter(Boolean).join('; '),
      });
    }
    model.compile(false);
    for (const [, p] of [...model.namedParameters(), ...model.namedBuffers()]) p.dispose();
  }

  for (const th of threads.split(',')) {
    const tr = runTorch('bench/model_forward_torch.py', [
      weights,
      '--imgsz',
      String(imgsz),
      '--batch',
      '1',
      '--runs',
      String(runs),
      '--warmup',
      String(warmup),
      '--threads',
      th,
    ]);
    rows.push(
      tr.ok
        ? {
            what: `PyTorch ${tr.r.torch} CPU, ${tr.r.threads} threads`,
            t: { wall: tr.r.ms_median, wallMin: tr.r.ms_min, cpu: tr.r.cpu_ms_median, runs: tr.r.runs },
            note: `inference_mode; peak RSS ${tr.r.peak_rss_mb.toFixed(0)} MB`,
          }
        : { what: 'PyTorch CPU', note: `skipped: ${tr.why}` },
    );
  }
} finally {
  E.releaseDevices();
}

const ortRow = rows.find((r) => r.what.startsWith('onnxruntime') && r.t)?.t;
const torchRow = rows.find((r) => r.what.startsWith('PyTorch') && r.t)?.t;
const ratio = (r: Row, b: Timing | undefined, k: 'wall' | 'cpu') => (r.t && b ? f2(r.t[k] / b[k]) : '-');
console.log(
  `\n| P1 ${imgsz}x1 | runs | wall ms (median) | wall min | CPU ms | wall / ORT | CPU / ORT | wall / PyTorch | CPU / PyTorch | note |`,
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.what} | ${r.t?.runs ?? 0} | ${f1(r.t?.wall)} | ${f1(r.t?.wallMin)} | ${f1(r.t?.cpu)} | ${ratio(r, ortRow, 'wall')} | ${ratio(r, ortRow, 'cpu')} | ${ratio(r, torchRow, 'wall')} | ${ratio(r, torchRow, 'cpu')} | ${r.note ?? ''} |`,
  );
console.log(`load at start: ${loadStart}; at end: ${machineLoad()}`);
