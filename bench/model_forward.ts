// Forward latency and peak device memory of yolov8n-pose (fused, eval), eager and compiled
// (model.compile(): engine/graph/compile.ts), per device and input configuration, beside PyTorch CPU
// (bench/model_forward_torch.py, the same network with the same weights) in the same run when
// /usr/bin/python3 has torch. Latency is wall time from upload to the (B, 56, A) output read back
// on the host. Peak device memory: GpuRuntime's high-water mark of allocated bytes over the warm-up
// and timed runs of one mode, counted from the idle pool emptied first: the weights, plus the
// eager forward's pooled buffers, or the compiled plan's slots, packed weights and what its recorded
// work keeps. The load average is printed with each row: the machine may be shared.
//
// usage: npx tsx bench/model_forward.ts [--runs 10] [--config 640x1,320x8] [--devices webgpu[,cpu]]
//        [--modes eager,compiled] [--weights test/fixtures/predict/yolov8n-pose-coco128.pt] [--threads 2]
// The cpu device (the plain-TypeScript reference) is slow: it runs each mode once, after one run that
// builds the plan.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as E from '../engine/index.js';
import { loadPoseModel } from '../models/index.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const runs = Number(opt('runs', '10'));
const configs = opt('config', '640x1,320x8')
  .split(',')
  .map((c) => c.split('x').map(Number) as [number, number]);
const weights = opt('weights', 'test/fixtures/predict/yolov8n-pose-coco128.pt');
const threads = opt('threads', '2');
const wanted = opt('devices', 'webgpu').split(',');
const modes = opt('modes', 'eager,compiled').split(',');

interface Row {
  config: string;
  what: string;
  runs: number;
  medianMs: number;
  minMs: number;
  peakDeviceMB?: number;
  planMB?: number;
  load: string;
  note?: string;
}
const rows: Row[] = [];
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const mb = (b: number) => b / 2 ** 20;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

async function benchDevice(device: E.Device, imgsz: number, batch: number) {
  const model = loadPoseModel(weights, { device }).eval().fuse();
  E.manualSeed(0);
  const shape = [batch, 3, imgsz, imgsz];
  const host = E.rand(shape).dataSync();
  const gpu = device instanceof E.WebGPUDevice ? device.gpu : null;
  const once = async () => {
    const t0 = performance.now();
    const x = E.tensor(host, shape, { device });
    const y = model.predict(x);
    await y.data();
    const ms = performance.now() - t0;
    x.dispose();
    y.dispose();
    return ms;
  };
  const [n, warmup] = gpu ? [runs, 2] : [1, 1];
  for (const mode of modes) {
    if (gpu) {
      await gpu.sync();
      gpu.trimPool(0); // each mode starts from an empty pool: the weights alone are allocated
      gpu.peakBytes = gpu.allocatedBytes;
    }
    model.compile(mode === 'compiled');
    for (let i = 0; i < warmup; i++) await once();
    const times: number[] = [];
    for (let i = 0; i < n; i++) times.push(await once());
    const ex = model.compiled?.executor(shape);
    rows.push({
      config: `${imgsz}x${batch}`,
      what: `yolo-ts ${device.type} ${mode}`,
      runs: n,
      medianMs: median(times),
      minMs: Math.min(...times),
      peakDeviceMB: gpu ? mb(gpu.peakBytes) : undefined,
      planMB: ex ? mb(ex.bytes) : undefined,
      load: load(),
      note: ex
        ? `${ex.plan.stats.kernels} kernels, ${ex.plan.stats.slots} slots for ${ex.plan.stats.roots} buffers`
        : undefined,
    });
  }
  model.compile(false);
  for (const [, t] of [...model.namedParameters(), ...model.namedBuffers()]) t.dispose();
}

function benchTorch(imgsz: number, batch: number) {
  const py = '/usr/bin/python3';
  const config = `${imgsz}x${batch}`;
  if (!existsSync(py))
    return void rows.push({
      config,
      what: 'PyTorch CPU',
      runs: 0,
      medianMs: NaN,
      minMs: NaN,
      load: load(),
      note: 'no /usr/bin/python3',
    });
  try {
    const out = execFileSync(
      py,
      [
        'bench/model_forward_torch.py',
        weights,
        '--imgsz',
        String(imgsz),
        '--batch',
        String(batch),
        '--runs',
        String(runs),
        '--threads',
        threads,
      ],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const r = JSON.parse(out.trim().split('\n').pop()!);
    rows.push({
      config,
      what: `PyTorch ${r.torch} CPU, ${r.threads} threads`,
      runs: r.runs,
      medianMs: r.ms_median,
      minMs: r.ms_min,
      load: load(),
      note: `peak RSS ${r.peak_rss_mb.toFixed(0)} MB`,
    });
  } catch (e) {
    const why = String((e as { stderr?: string }).stderr ?? e)
      .trim()
      .split('\n')
      .pop();
    rows.push({
      config,
      what: 'PyTorch CPU',
      runs: 0,
      medianMs: NaN,
      minMs: NaN,
      load: load(),
      note: `skipped: ${why}`,
    });
  }
}

try {
  for (const [imgsz, batch] of configs) {
    if (wanted.includes('webgpu')) {
      const gpu = await E.openWebGPU();
      if (gpu) await benchDevice(gpu, imgsz, batch);
      else
        rows.push({
          config: `${imgsz}x${batch}`,
          what: 'yolo-ts webgpu',
          runs: 0,
          medianMs: NaN,
          minMs: NaN,
          load: load(),
          note: 'no WebGPU adapter',
        });
    }
    if (wanted.includes('cpu')) await benchDevice(E.cpu, imgsz, batch);
    benchTorch(imgsz, batch);
  }
} finally {
  const gpu = await E.openWebGPU().catch(() => null);
  console.log(`yolov8n-pose forward, fused, eval (weights ${weights}); webgpu adapter: ${gpu?.name ?? 'none'}`);
  E.releaseDevices();
}

console.log(
  '| input | backend | runs | median ms | min ms | peak device MB | plan MB | load avg (1/5/15 min) | note |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const f = (v: number | undefined, d = 1) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d));
  console.log(
    `| ${r.config} | ${r.what} | ${r.runs} | ${f(r.medianMs)} | ${f(r.minMs)} | ${f(r.peakDeviceMB)} | ${f(r.planMB)} | ${r.load} | ${r.note ?? ''} |`,
  );
}
