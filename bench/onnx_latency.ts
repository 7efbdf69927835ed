// Latency of our exported yolov8n-pose in onnxruntime-node beside the engine running the same
// model, in the same process: 640x640, batch 1, fused, eval. Rows:
//   onnxruntime-node CPU EP   the .onnx we export (fp32, opset 17), session.run including output copy
//   yolo-ts <device>          PoseModel.predict (the engine's own forward), upload to host readback
//   yolo-ts <device> (ONNX)   the same .onnx through our importer (OnnxSession) on the engine
// Ratio = engine median / onnxruntime median. Latency is wall time per image, median of --runs
// after --warmup runs. The cpu device (plain TypeScript) is the slow reference: run it with
// --devices webgpu,cpu and --runs 1 if at all.
//
// usage: npx tsx bench/onnx_latency.ts [--runs 20] [--warmup 3] [--imgsz 640] [--threads 0]
//        [--devices webgpu] [--weights test/fixtures/models/yolov8n-pose-seed0.pt]
// --threads 0 lets onnxruntime pick (one per core).
import * as ort from 'onnxruntime-node';
import { cpus } from 'node:os';
import * as E from '../engine/index.js';
import { loadPoseModel } from '../models/index.js';
import { buildOnnx } from '../tasks/export/exporter.js';
import { OnnxSession } from '../tasks/export/onnx_runtime.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const runs = Number(opt('runs', '20'));
const warmup = Number(opt('warmup', '3'));
const imgsz = Number(opt('imgsz', '640'));
const threads = Number(opt('threads', '0'));
const weights = opt('weights', 'test/fixtures/models/yolov8n-pose-seed0.pt');
const wanted = opt('devices', 'webgpu').split(',');

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const rows: { what: string; runs: number; median: number; min: number }[] = [];

async function time(what: string, n: number, w: number, once: () => Promise<void>) {
  for (let i = 0; i < w; i++) await once();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once();
    ts.push(performance.now() - t0);
  }
  rows.push({ what, runs: n, median: median(ts), min: Math.min(...ts) });
}

E.manualSeed(0);
const host = E.rand([1, 3, imgsz, imgsz]).dataSync() as Float32Array;

try {
  // export once, from a cpu copy of the model (the file is the same whatever device exports it)
  const cpuModel = loadPoseModel(weights, { device: E.cpu }).eval().fuse();
  const { bytes } = await buildOnnx(cpuModel, { imgsz, verbose: false }, { file: weights });
  console.log(`exported ${weights} at ${imgsz}x${imgsz}: ${(bytes.length / 2 ** 20).toFixed(1)} MB, opset 17`);

  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    graphOptimizationLevel: 'all',
  });
  const feeds = { images: new ort.Tensor('float32', host, [1, 3, imgsz, imgsz]) };
  await time(
    `onnxruntime-node ${ort.env.versions.common} CPU EP (${threads || cpus().length} threads)`,
    runs,
    warmup,
    async () => {
      await session.run(feeds);
    },
  );
  const ortOut = (await session.run(feeds)).output0.data as Float32Array;
  await session.release();

  for (const name of wanted) {
    const device = name === 'cpu' ? E.cpu : (await E.openWebGPU()) ? await E.getDevice('webgpu') : null;
    if (!device) {
      console.log('no WebGPU adapter: skipping webgpu');
      continue;
    }
    const n = device.type === 'cpu' ? Math.min(runs, 1) : runs,
      w = device.type === 'cpu' ? 0 : warmup;
    const model = loadPoseModel(weights, { device }).eval().fuse();
    let last: Float32Array | null = null;
    await time(`yolo-ts ${device.type} (${device.name}) PoseModel`, n, w, async () => {
      const x = E.tensor(host, [1, 3, imgsz, imgsz], { device });
      const y = model.predict(x);
      last = (await y.data()) as Float32Array;
      x.dispose();
      y.dispose();
    });
    const sess = new OnnxSession((await import('../engine/io/onnx_proto.js')).decodeModel(bytes), device, 'bench.onnx');
    await time(`yolo-ts ${device.type} (${device.name}) our ONNX importer`, n, w, async () => {
      const x = E.tensor(host, [1, 3, imgsz, imgsz], { device });
      const [y] = sess.run({ images: x });
      await y.data();
      x.dispose();
      y.dispose();
    });
    sess.dispose();
    let d = 0,
      m = 0;
    for (let i = 0; i < ortOut.length; i++)
      ((d = Math.max(d, Math.abs(last![i] - ortOut[i]))), (m = Math.max(m, Math.abs(ortOut[i]))));
    console.log(`${device.type}: max|Δ|/max|ref| vs onnxruntime = ${(d / m).toExponential(2)}`);
  }

  const base = rows[0].median;
  console.log(
    `\nyolov8n-pose ${imgsz}x${imgsz} batch 1, median of ${runs} runs after ${warmup} warm-up (cpu device: 1 run, no warm-up)`,
  );
  console.log(`${'runtime'.padEnd(64)} ${'median ms'.padStart(10)} ${'min ms'.padStart(9)} ${'ratio'.padStart(7)}`);
  for (const r of rows)
    console.log(
      `${r.what.padEnd(64)} ${r.median.toFixed(1).padStart(10)} ${r.min.toFixed(1).padStart(9)} ${(r.median / base).toFixed(2).padStart(7)}`,
    );
} finally {
  E.releaseDevices();
}
