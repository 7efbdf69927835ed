// conv2d speed at YOLOv8n-pose's own conv layer shapes: GFLOP/s of the forward (fused bias + SiLU,
// the inference kernel) and of the backward (grad-input + grad-weight), per device, beside PyTorch
// CPU (bench/torch_conv2d.py, same shapes, 2 threads) when /usr/bin/python3 has torch.
//
// usage: node --import=tsx bench/conv2d.ts [--devices webgpu,cpu] [--config 640x1,320x8] [--min-time 0.3] [--only down] [--cpu-time]
//        YOLO_KERNEL_VARIANT=gpu|cpu-like picks the GEMM core (default: by adapter)
// The cpu device (the plain-TypeScript reference) runs only the layers marked `cpu`, once each.
// FLOPs: forward 2 * N * O * OH * OW * C/groups * kh * kw; backward twice that (two GEMMs of the
// same size). GPU time: `await gpu.sync()` around repetitions after one warm-up run.
import { execFileSync } from 'node:child_process';
import * as E from '../engine/index.js';
import { gemmVariant } from '../engine/backends/kernel_variants.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const minTime = Number(opt('min-time', '0.3'));
// --cpu-time: divide by the CPU time the process used (all threads) instead of wall time, and scale
// by the 2 cores both sides use: a fairer comparison on a machine other jobs are loading
const cpuTime = args.includes('--cpu-time');
const wanted = opt('devices', 'webgpu,cpu').split(',');
const only = opt('only', ''); // run the layers whose name contains this
const configs = opt('config', '640x1,320x8')
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number]);

// YOLOv8n-pose convs (model.<i> in the Ultralytics yaml), input side 640: [name, c, o, k, s, input side].
// A representative subset: the stem and every stride-2 conv, one bottleneck conv and the 1x1 convs of
// a C2f per scale, SPPF's cv2, and the pose head's first 3x3 conv (cv4) at each level.
const LAYERS: [string, number, number, number, number, number, boolean?][] = [
  ['0 stem', 3, 16, 3, 2, 640, true],
  ['1 down', 16, 32, 3, 2, 320],
  ['2 c2f.cv1', 32, 32, 1, 1, 160],
  ['2 c2f.m.0.cv1', 16, 16, 3, 1, 160],
  ['2 c2f.cv2', 48, 32, 1, 1, 160],
  ['3 down', 32, 64, 3, 2, 160],
  ['4 c2f.m.0.cv1', 32, 32, 3, 1, 80],
  ['5 down', 64, 128, 3, 2, 80],
  ['6 c2f.m.0.cv1', 64, 64, 3, 1, 40, true],
  ['7 down', 128, 256, 3, 2, 40],
  ['8 c2f.m.0.cv1', 128, 128, 3, 1, 20],
  ['9 sppf.cv2', 512, 256, 1, 1, 20],
  ['15 c2f.cv1', 192, 64, 1, 1, 80],
  ['22 cv4.0.0 (P3)', 64, 51, 3, 1, 80],
  ['22 cv4.1.0 (P4)', 128, 51, 3, 1, 40],
  ['22 cv4.2.0 (P5)', 256, 51, 3, 1, 20],
];

interface Shape {
  name: string;
  n: number;
  c: number;
  h: number;
  o: number;
  k: number;
  s: number;
  cpu: boolean;
}
const shapes: Shape[] = configs.flatMap(([side, n]) =>
  LAYERS.filter(([name]) => name.includes(only)).map(([name, c, o, k, s, h, cpu]) => ({
    name: `${name} @${side}x${n}`,
    n,
    c,
    h: (h * side) / 640,
    o,
    k,
    s,
    cpu: !!cpu && side === 640,
  })),
);
const flops = (s: Shape) => {
  const oh = Math.floor((s.h + 2 * Math.floor(s.k / 2) - s.k) / s.s) + 1;
  return 2 * s.n * s.o * oh * oh * s.c * s.k * s.k;
};

/** ms per call (wall, or CPU time / 2 with --cpu-time) after one warm-up call. */
async function timeIt(fn: () => void, sync: () => Promise<void>, once = false): Promise<number> {
  fn();
  await sync(); // warm-up: compiles pipelines, fills the buffer pool
  let reps = 0;
  const t0 = performance.now(),
    c0 = process.cpuUsage();
  while (true) {
    fn();
    reps++;
    await sync();
    const ms = performance.now() - t0;
    if (once || (ms >= minTime * 1000 && reps >= 2)) {
      const c = process.cpuUsage(c0);
      return (cpuTime ? (c.user + c.system) / 1000 / 2 : ms) / reps;
    }
  }
}

async function benchDevice(device: E.Device, s: Shape) {
  E.manualSeed(0);
  const x = E.randn([s.n, s.c, s.h, s.h], { device }),
    w = E.mul(E.randn([s.o, s.c, s.k, s.k], { device }), 0.1),
    b = E.randn([s.o], { device });
  const opts = { stride: s.s, padding: Math.floor(s.k / 2) };
  const gpu = device instanceof E.WebGPUDevice ? device.gpu : null;
  const sync = async () => {
    if (gpu) await gpu.sync();
  };
  const y = E.conv2d(x, w, b, opts);
  const gy = E.randn(y.shape, { device });
  const once = device.type === 'cpu';
  const fwd = await timeIt(() => E.tidy(() => void E.conv2d(x, w, b, { ...opts, act: 'silu' })), sync, once);
  const bwd = await timeIt(
    () =>
      E.tidy(() => {
        E.conv2dGradInput(gy, w, x.shape, opts);
        E.conv2dGradWeight(x, gy, w.shape, opts);
      }),
    sync,
    once,
  );
  for (const t of [x, w, b, y, gy]) t.dispose();
  return { fwd, bwd };
}

function torchTimes(): { fwd_ms: number; bwd_ms: number; fwd_cpu_ms: number; bwd_cpu_ms: number }[] | null {
  try {
    const list = shapes.map((s) => [s.n, s.c, s.h, s.h, s.o, s.k, s.s]);
    const out = execFileSync(
      '/usr/bin/python3',
      ['bench/torch_conv2d.py', JSON.stringify(list), '--threads', '2', '--min-time', String(minTime)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    return JSON.parse(out.trim().split('\n').pop()!);
  } catch {
    return null;
  }
}

const gf = (f: number, ms: number) => (f / ms / 1e6).toFixed(2);
const devices: E.Device[] = [];
if (wanted.includes('webgpu')) {
  const g = await E.openWebGPU();
  if (g) devices.push(g);
  else console.log('no WebGPU adapter: skipping webgpu');
}
if (wanted.includes('cpu')) devices.push(E.cpu);
console.log(
  `conv2d GFLOP/s, forward (bias + SiLU fused) and backward (grad-input + grad-weight)${cpuTime ? ', from CPU time / 2 cores' : ''}`,
);
for (const d of devices)
  console.log(`  ${d.type}: ${d.name}${d instanceof E.WebGPUDevice ? `, GEMM core '${gemmVariant(d.gpu)}'` : ''}`);
const torch = torchTimes();
console.log(torch ? '  torch: PyTorch CPU, 2 threads' : '  torch: /usr/bin/python3 with torch not available');
const header = [
  'layer',
  'GFLOP',
  ...devices.flatMap((d) => [`${d.type} fwd`, `${d.type} bwd`]),
  ...(torch ? ['torch fwd', 'torch bwd', 'fwd x', 'bwd x'] : []),
];
const rows: string[][] = [header];
const ratios: number[][] = [];
for (let i = 0; i < shapes.length; i++) {
  const s = shapes[i],
    f = flops(s);
  const row = [s.name, (f / 1e9).toFixed(3)];
  let gpuT: { fwd: number; bwd: number } | null = null;
  for (const d of devices) {
    if (d.type === 'cpu' && !s.cpu) {
      row.push('-', '-');
      continue;
    }
    const r = await benchDevice(d, s);
    if (d.type === 'webgpu') gpuT = r;
    row.push(gf(f, r.fwd), gf(2 * f, r.bwd));
  }
  if (torch) {
    const t = torch[i];
    const tt = cpuTime ? { fwd_ms: t.fwd_cpu_ms / 2, bwd_ms: t.bwd_cpu_ms / 2 } : t;
    row.push(gf(f, tt.fwd_ms), gf(2 * f, tt.bwd_ms));
    // time ratio webgpu / torch: how many times slower than PyTorch
    if (gpuT) {
      ratios.push([gpuT.fwd, tt.fwd_ms, gpuT.bwd, tt.bwd_ms]);
      row.push((gpuT.fwd / tt.fwd_ms).toFixed(2), (gpuT.bwd / tt.bwd_ms).toFixed(2));
    } else row.push('-', '-');
  }
  rows.push(row);
  console.error(`  done ${s.name}`);
}
const widths = header.map((_, j) => Math.max(...rows.map((r) => r[j].length)));
for (const [k, r] of rows.entries()) {
  console.log('| ' + r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join(' | ') + ' |');
  if (k === 0)
    console.log('|' + widths.map((w, j) => (j === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|');
}
if (ratios.length) {
  // total webgpu time over total torch time across these layers, as a whole network would see it
  const total = (k: number) => ratios.reduce((a, r) => a + r[k], 0);
  console.log(
    `\nwebgpu time / torch time summed over these layers: forward ${(total(0) / total(1)).toFixed(2)}x, backward ${(total(2) / total(3)).toFixed(2)}x`,
  );
}
E.releaseDevices();
