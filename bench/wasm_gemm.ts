// Issue 11 P3: GFLOP/s of the wasm device's GEMM/conv kernels (engine/backends/wasm/gemm.ts) per
// YOLOv8n-pose conv shape, on ONE thread, in the relaxed-SIMD (FMA) and plain-SIMD builds, beside
// the 128-bit peak of this CPU measured the same way: a wasm loop of 12 independent f32x4 FMA
// (or mul + add) chains on registers only, no memory traffic.
//
// usage: node --import=tsx bench/wasm_gemm.ts [--min-time 0.3] [--only down] [--pass grad-weight] [--no-backward] [--wall] [--threads N]
// Forward (fused bias + SiLU) at 640x1; grad-input and grad-weight at 320x8. Times include the
// weight packing each launcher does per call. The kernels run through the test runtime
// (test/engine/wasm_test_runtime.ts: the calling thread, plus N - 1 worker threads with
// --threads N, timed by wall clock then); the real runtime is engine/backends/wasm/runtime.ts. Node 20 needs relaxed SIMD switched on: done below with
// v8.setFlagsFromString before any module compiles.
import { readFileSync } from 'node:fs';
import { gemmFragment } from '../engine/backends/wasm/gemm_wat.js';
import { conv2dForward, conv2dGradInput, conv2dGradWeight, packConvWeights } from '../engine/backends/wasm/gemm.js';
import { convGeometry, type ConvGeometry } from '../engine/ops/conv2d.js';
import type { WasmFeatures, WatFragment } from '../engine/backends/wasm/abi.js';
import { TestRuntime, enableRelaxedSimd } from '../test/engine/wasm_test_runtime.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const minTime = Number(opt('min-time', '0.3'));
const only = opt('only', '');
const pass = opt('pass', ''); // run only the passes whose label contains this (forward, grad-input, grad-weight)
const backward = !args.includes('--no-backward');
const threads = Number(opt('threads', '1'));

// [name, c, o, k, s, input side at 640]: the same subset as bench/conv2d.ts
const LAYERS: [string, number, number, number, number, number][] = [
  ['0 stem', 3, 16, 3, 2, 640],
  ['1 down', 16, 32, 3, 2, 320],
  ['2 c2f.cv1', 32, 32, 1, 1, 160],
  ['2 c2f.m.0.cv1', 16, 16, 3, 1, 160],
  ['2 c2f.cv2', 48, 32, 1, 1, 160],
  ['3 down', 32, 64, 3, 2, 160],
  ['4 c2f.m.0.cv1', 32, 32, 3, 1, 80],
  ['5 down', 64, 128, 3, 2, 80],
  ['6 c2f.m.0.cv1', 64, 64, 3, 1, 40],
  ['7 down', 128, 256, 3, 2, 40],
  ['8 c2f.m.0.cv1', 128, 128, 3, 1, 20],
  ['9 sppf.cv2', 512, 256, 1, 1, 20],
  ['15 c2f.cv1', 192, 64, 1, 1, 80],
  ['22 cv4.0.0 (P3)', 64, 51, 3, 1, 80],
  ['22 cv4.1.0 (P4)', 128, 51, 3, 1, 40],
  ['22 cv4.2.0 (P5)', 256, 51, 3, 1, 20],
];

/** 12 independent accumulators, 8 steps per iteration: 96 f32x4 FMAs = 768 flops per iteration. */
const peakFragment: WatFragment = {
  name: 'peak',
  wat: (f: WasmFeatures) => {
    const accs = [...Array(12).keys()];
    const step = accs
      .map(
        (i) =>
          `(local.set $c${i} ${f.relaxed ? `(f32x4.relaxed_madd (local.get $c${i}) (local.get $a) (local.get $b))` : `(f32x4.add (f32x4.mul (local.get $c${i}) (local.get $a)) (local.get $b))`})`,
      )
      .join(' ');
    return `(func (export "peak") (param $n i32) (result f32)
      ${accs.map((i) => `(local $c${i} v128)`).join(' ')} (local $a v128) (local $b v128)
      (local.set $a (f32x4.splat (f32.const 0.999))) (local.set $b (f32x4.splat (f32.const 0.001)))
      ${accs.map((i) => `(local.set $c${i} (f32x4.splat (f32.const ${i})))`).join(' ')}
      (loop $l ${Array(8).fill(step).join('\n')}
        (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
      (f32x4.extract_lane 0 ${accs.slice(1).reduce((s, i) => `(f32x4.add ${s} (local.get $c${i}))`, '(local.get $c0)')}))`;
  },
};

/**
 * Seconds per call after one warm-up call, repeating for at least minTime of CPU time: the CPU
 * time this process used (one busy thread), not wall time, so that other jobs sharing the cores
 * slow the numbers less (they still share caches and memory bandwidth). --wall: wall time.
 */
const wall = args.includes('--wall') || threads > 1;
function time(fn: () => void) {
  fn();
  let reps = 0;
  const c0 = process.cpuUsage(),
    t0 = performance.now();
  const elapsed = () => {
    const c = process.cpuUsage(c0);
    return wall ? (performance.now() - t0) / 1000 : (c.user + c.system) / 1e6;
  };
  while (elapsed() < minTime || reps < 2) {
    fn();
    reps++;
  }
  return elapsed() / reps;
}

function peakGflops(rt: TestRuntime) {
  const iters = 2_000_000;
  return (768 * iters) / time(() => rt.call('peak', iters)) / 1e9;
}

interface Row {
  name: string;
  kind: string;
  flops: number;
  gflops: number[];
}

function benchConv(
  rt: TestRuntime,
  kind: 'forward' | 'grad-input' | 'grad-weight' | 'forward-prepacked',
  g: ConvGeometry,
) {
  const xs = g.n * g.c * g.h * g.w,
    ws = g.o * g.cg * g.kh * g.kw,
    ys = g.n * g.o * g.oh * g.ow;
  const [x, w, b, y] = [xs, ws, g.o, ys].map((n) => rt.alloc(4 * n));
  for (const [p, n] of [
    [x, xs],
    [w, ws],
    [b, g.o],
    [y, ys],
  ])
    rt.f32(p, n).forEach((_, i, a) => (a[i] = Math.sin(i * 0.37) * 0.5));
  const flops = 2 * g.n * g.o * g.oh * g.ow * g.cg * g.kh * g.kw;
  const packed = kind === 'forward-prepacked' ? packConvWeights(rt, w, g) : 0;
  const s = time(() => {
    if (kind === 'forward') conv2dForward(rt, x, w, b, y, g, 'silu');
    else if (kind === 'forward-prepacked') conv2dForward(rt, x, 0, b, y, g, 'silu', { packedWeights: packed });
    else if (kind === 'grad-input') conv2dGradInput(rt, y, w, x, g);
    else conv2dGradWeight(rt, x, y, w, g);
  });
  for (const p of [packed, y, b, w, x].filter((p) => p)) rt.free(p);
  return flops / s / 1e9;
}

enableRelaxedSimd();
const builds = [true, false];
const rts = await Promise.all(
  builds.map((relaxed) => TestRuntime.create([gemmFragment, peakFragment], { relaxed, threads, workers: threads > 1 })),
);
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(
  `node ${process.version}, ${threads} thread(s), ${wall ? 'wall' : 'CPU'} time, load average at start ${load()}`,
);
const peaks = rts.map(peakGflops);
console.log(
  `128-bit peak per thread (register-only f32x4 loop, 12 chains, one thread): relaxed_madd ${peaks[0].toFixed(1)} GFLOP/s, mul+add ${peaks[1].toFixed(1)} GFLOP/s\n`,
);

const rows: Row[] = [];
const jobs: [string, 'forward' | 'grad-input' | 'grad-weight', number, number][] = [
  [`forward @640x1`, 'forward', 640, 1],
];
if (backward) jobs.push([`grad-input @320x8`, 'grad-input', 320, 8], [`grad-weight @320x8`, 'grad-weight', 320, 8]);
for (const [label, kind, side, n] of jobs.filter(([label]) => label.includes(pass)))
  for (const [name, c, o, k, s, h0] of LAYERS.filter(([nm]) => nm.includes(only))) {
    const h = (h0 * side) / 640;
    const g = convGeometry('bench', [n, c, h, h], [o, c, k, k], { stride: s, padding: Math.floor(k / 2) });
    const gflops = rts.map((rt) => benchConv(rt, kind, g));
    // the forward again with the weights packed once (as a device caching them would run it), relaxed build
    if (kind === 'forward') gflops.push(benchConv(rts[0], 'forward-prepacked', g));
    rows.push({ name, kind: label, flops: 2 * g.n * g.o * g.oh * g.ow * g.cg * g.kh * g.kw, gflops });
    const r = rows[rows.length - 1];
    console.log(
      `| ${label} | ${name} | ${c}->${o} k${k} s${s} ${h}x${h} | ${(r.flops / 1e9).toFixed(3)} | ${gflops[0].toFixed(1)} | ${((100 * gflops[0]) / peaks[0]).toFixed(0)}% | ${gflops[1].toFixed(1)} | ${((100 * gflops[1]) / peaks[1]).toFixed(0)}% | ${gflops[2]?.toFixed(1) ?? '-'} |`,
    );
  }
for (const [label] of jobs) {
  const rs = rows.filter((r) => r.kind === label);
  if (rs.length === 0) continue;
  // time-weighted: total flops / total time, as a whole network pass would see it
  const agg = rs[0].gflops.map(
    (_, i) => rs.reduce((a, r) => a + r.flops, 0) / rs.reduce((a, r) => a + r.flops / r.gflops[i], 0),
  );
  console.log(
    `| ${label} | all listed (total flops / total time) | | ${(rs.reduce((a, r) => a + r.flops, 0) / 1e9).toFixed(3)} | ${agg[0].toFixed(1)} | ${((100 * agg[0]) / peaks[0]).toFixed(0)}% | ${agg[1].toFixed(1)} | ${((100 * agg[1]) / peaks[1]).toFixed(0)}% | ${agg[2]?.toFixed(1) ?? '-'} |`,
  );
}
console.log(
  `\ncolumns: pass | layer | shape | GFLOP per call | relaxed GFLOP/s | % of relaxed peak | plain GFLOP/s | % of plain peak | relaxed GFLOP/s with weights packed beforehand (forward)`,
);
console.log(`load average at end ${load()}`);
await Promise.all(rts.map((rt) => rt.close()));
