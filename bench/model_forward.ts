// Forward latency of yolov8n-pose at 640x640, batch 1, fused, eval, per device, beside PyTorch CPU
// (bench/model_forward_torch.py, the same network with the same weights, 2 threads) when
// /usr/bin/python3 has torch. Latency is wall time from upload to the (1, 56, 8400) output read
// back on the host. Memory: GpuRuntime.peakBytes (device buffers, pool included) and the process's
// peak RSS.
//
// usage: npx tsx bench/model_forward.ts [--runs 10] [--devices webgpu,cpu] [--imgsz 640]
//        [--weights test/fixtures/models/yolov8n-pose-seed0.pt] [--threads 2]
// The cpu device is the plain-TypeScript reference: it runs exactly once, without warm-up (it is
// slow). Peak RSS is the process's high-water mark so far, so it accumulates down the table.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as E from '../engine/index.js';
import { loadPoseModel } from '../models/index.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const runs = Number(opt('runs', '10'));
const imgsz = Number(opt('imgsz', '640'));
const weights = opt('weights', 'test/fixtures/models/yolov8n-pose-seed0.pt');
const threads = opt('threads', '2');
const wanted = opt('devices', 'webgpu,cpu').split(',');

interface Row {
  what: string;
  runs: number;
  medianMs: number;
  minMs: number;
  peakDeviceMB?: number;
  peakRssMB: number;
  note?: string;
}
const rows: Row[] = [];
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const mb = (b: number) => b / 2 ** 20;

async function benchDevice(device: E.Device, n: number, warmup: number) {
  const model = loadPoseModel(weights, { device }).eval().fuse();
  E.manualSeed(0);
  const host = E.rand([1, 3, imgsz, imgsz]).dataSync();
  const gpu = device instanceof E.WebGPUDevice ? device.gpu : null;
  const once = async () => {
    const t0 = performance.now();
    const x = E.tensor(host, [1, 3, imgsz, imgsz], { device });
    const y = model.predict(x);
    await y.data();
    const ms = performance.now() - t0;
    x.dispose();
    y.dispose();
    return ms;
  };
  for (let i = 0; i < warmup; i++) await once();
  if (gpu) gpu.peakBytes = gpu.allocatedBytes; // the peak of the timed runs, weights and pool included
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await once());
  rows.push({
    what: `yolo-ts ${device.type} (${device.name})`, runs: n, medianMs: median(times), minMs: Math.min(...times),
    peakDeviceMB: gpu ? mb(gpu.peakBytes) : undefined, peakRssMB: process.resourceUsage().maxRSS / 1024,
  });
}

function benchTorch() {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return void rows.push({ what: 'PyTorch CPU', runs: 0, medianMs: NaN, minMs: NaN, peakRssMB: NaN, note: 'no /usr/bin/python3' });
  try {
    const out = execFileSync(py, ['bench/model_forward_torch.py', weights, '--imgsz', String(imgsz), '--runs', String(runs), '--threads', threads], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    rows.push({ what: `PyTorch ${r.torch} CPU, ${r.threads} threads`, runs: r.runs, medianMs: r.ms_median, minMs: r.ms_min, peakRssMB: r.peak_rss_mb });
  } catch (e) {
    const why = String((e as { stderr?: string }).stderr ?? e).trim().split('\n').pop();
    rows.push({ what: 'PyTorch CPU', runs: 0, medianMs: NaN, minMs: NaN, peakRssMB: NaN, note: `skipped: ${why}` });
  }
}

try {
  if (wanted.includes('webgpu')) {
    const gpu = await E.openWebGPU();
    if (gpu) await benchDevice(gpu, runs, 2);
    else rows.push({ what: 'yolo-ts webgpu', runs: 0, medianMs: NaN, minMs: NaN, peakRssMB: NaN, note: 'no WebGPU adapter' });
  }
  if (wanted.includes('cpu')) await benchDevice(E.cpu, 1, 0);
  benchTorch();
} finally {
  E.releaseDevices();
}

console.log(`yolov8n-pose forward, ${imgsz}x${imgsz}, batch 1, fused, eval (weights ${weights})`);
console.log('| backend | runs | median ms | min ms | peak device MB | peak RSS MB |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  const f = (v: number | undefined, d = 1) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d));
  console.log(`| ${r.what}${r.note ? ` (${r.note})` : ''} | ${r.runs} | ${f(r.medianMs)} | ${f(r.minMs)} | ${f(r.peakDeviceMB)} | ${f(r.peakRssMB)} |`);
}
