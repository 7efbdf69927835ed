// The wasm device's GEMM/conv kernels (engine/backends/wasm/gemm_wat.ts + gemm.ts) against the cpu
// reference of engine/ops/conv2d.ts (and a plain loop for matmul), in both builds (relaxed-SIMD FMA
// and plain SIMD), through the test runtime of wasm_test_runtime.ts: one range per kernel
// (threads 1) and an uneven split into 3 ranges (threads 3: more, smaller tasks, several packing
// slots), which must give the same numbers since tasks write disjoint outputs.
import t from 'tap';
import * as E from '../../engine/index.js';
import { convGeometry, conv2dCpu, type Conv2dOptions } from '../../engine/ops/conv2d.js';
import { gemmFragment } from '../../engine/backends/wasm/gemm_wat.js';
import {
  conv2dForward,
  conv2dGradInput,
  conv2dGradWeight,
  matmul,
  packConvWeights,
} from '../../engine/backends/wasm/gemm.js';
import { TestRuntime, enableRelaxedSimd, place } from './wasm_test_runtime.js';

enableRelaxedSimd();
const runtimes: [string, TestRuntime][] = [];
for (const relaxed of [true, false])
  for (const threads of [1, 3])
    runtimes.push([
      `${relaxed ? 'relaxed' : 'plain'} x${threads}`,
      await TestRuntime.create([gemmFragment], { relaxed, threads }),
    ]);

let seed = 12345;
/** uniform in [-1, 1), deterministic */
const randoms = (n: number) =>
  Float32Array.from({ length: n }, () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 31 - 1;
  });
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** max |a - ref| / max |ref| */
function relErr(a: ArrayLike<number>, ref: ArrayLike<number>) {
  let d = 0,
    m = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(a[i] - ref[i]) || (Number.isNaN(a[i]) ? Infinity : 0));
    m = Math.max(m, Math.abs(ref[i]));
  }
  return d / Math.max(m, 1e-30);
}

const TOL = 1e-5;

type Case = [string, number[], number[], boolean, Conv2dOptions];
// YOLOv8n-pose's conv kinds at odd sizes (not multiples of the 6x8 tile), plus every option
const FORWARD: Case[] = [
  ['stem 3->16 k3 s2, bias + silu', [1, 3, 37, 41], [16, 3, 3, 3], true, { stride: 2, padding: 1, act: 'silu' }],
  ['stem 3->16 k3 s2 batch 2, no bias', [2, 3, 20, 34], [16, 3, 3, 3], false, { stride: 2, padding: 1 }],
  ['1x1 32->24 batch 2, bias', [2, 32, 19, 21], [24, 32, 1, 1], true, {}],
  ['1x1 48->32 silu, no bias', [1, 48, 13, 15], [32, 48, 1, 1], false, { act: 'silu' }],
  ['1x1 40->96 batch 2 (x read in place, a packed last panel)', [2, 40, 7, 9], [96, 40, 1, 1], true, { act: 'silu' }],
  ['3x3 s1 16->16 bias + silu', [1, 16, 23, 17], [16, 16, 3, 3], true, { padding: 1, act: 'silu' }],
  ['3x3 s2 32->64 batch 2', [2, 32, 21, 19], [64, 32, 3, 3], true, { stride: 2, padding: 1, act: 'silu' }],
  ['3x3 s1 64->51 (pose head cv4)', [1, 64, 10, 11], [51, 64, 3, 3], true, { padding: 1 }],
  ['3x3 s2 128->7, 4x4 output', [1, 128, 8, 8], [7, 128, 3, 3], true, { stride: 2, padding: 1, act: 'silu' }],
  ['depthwise k3 s2', [2, 8, 11, 9], [8, 1, 3, 3], true, { stride: 2, padding: 1, groups: 8 }],
  ['groups 2, dilation 2', [1, 8, 12, 13], [12, 4, 3, 3], true, { padding: 2, dilation: 2, groups: 2 }],
  [
    '3x2 kernel, stride [2, 1], padding [0, 1], dilation [1, 2]',
    [2, 5, 14, 11],
    [9, 5, 3, 2],
    false,
    { stride: [2, 1], padding: [0, 1], dilation: [1, 2] },
  ],
  ['stride 3 kernel 2: input rows no tap reaches', [1, 4, 10, 9], [5, 4, 2, 2], true, { stride: 3 }],
  ['large silu inputs (exp range)', [1, 4, 9, 9], [6, 4, 3, 3], true, { padding: 1, act: 'silu' }],
];

for (const [rtName, rt] of runtimes) {
  t.test(`conv2dForward ${rtName}`, async (t) => {
    for (const [name, xs, ws, hasBias, opts] of FORWARD) {
      const g = convGeometry('test', xs, ws, opts);
      const scale = name.startsWith('large') ? 40 : 1;
      const x = randoms(numel(xs)).map((v) => v * scale),
        w = randoms(numel(ws)),
        b = hasBias ? randoms(g.o) : null;
      const ref = new Float32Array(g.n * g.o * g.oh * g.ow);
      conv2dCpu(x, w, b, ref, g, opts.act === 'silu');
      const used = rt.used;
      const [xp, wp, bp, yp] = place(rt, x, w, b ?? 1, ref.length);
      conv2dForward(rt, xp, wp, b ? bp : 0, yp, g, opts.act ?? null);
      const err = relErr(rt.f32(yp, ref.length), ref);
      t.ok(err < TOL, `${name}: rel err ${err.toExponential(2)}`);
      // the same with the weights packed once beforehand
      const packed = packConvWeights(rt, wp, g);
      rt.f32(yp, ref.length).fill(NaN);
      conv2dForward(rt, xp, 0, b ? bp : 0, yp, g, opts.act ?? null, { packedWeights: packed });
      const err2 = relErr(rt.f32(yp, ref.length), ref);
      t.ok(err2 < TOL, `${name}, weights packed beforehand: rel err ${err2.toExponential(2)}`);
      rt.free(packed);
      for (const p of [yp, bp, wp, xp]) rt.free(p);
      t.equal(rt.used, used, `${name}: scratch given back`);
    }
  });

  t.test(`conv2dForward into channel slices (plane layouts) ${rtName}`, async (t) => {
    // x = channels 2..9 of a 12-channel buffer, y = channels 3..13 of a 20-channel one (a concat)
    const [n, c, h, w, o] = [2, 8, 9, 10, 11];
    const g = convGeometry('test', [n, c, h, w], [o, c, 3, 3], { padding: 1 });
    const xbuf = randoms(n * 12 * h * w),
      wt = randoms(o * c * 9),
      b = randoms(o);
    const xl = { sb: 12 * h * w, sc: h * w, off: 2 * h * w },
      yl = { sb: 20 * h * w, sc: h * w, off: 3 * h * w };
    const ref = new Float32Array(n * 20 * h * w).fill(7);
    conv2dCpu(xbuf, wt, b, ref, g, true, yl, xl);
    const [xp, wp, bp, yp] = place(rt, xbuf, wt, b, ref.length);
    rt.f32(yp, ref.length).fill(7);
    conv2dForward(rt, xp, wp, bp, yp, g, 'silu', { layouts: { x: xl, y: yl } });
    const err = relErr(rt.f32(yp, ref.length), ref);
    t.ok(err < TOL, `rel err ${err.toExponential(2)} (and the other channels untouched)`);
    for (const p of [yp, bp, wp, xp]) rt.free(p);
  });
}

const BACKWARD: [string, number[], number[], Conv2dOptions][] = [
  ['3x3 s1 p1 16->24 batch 2', [2, 16, 13, 11], [24, 16, 3, 3], { padding: 1 }],
  ['3x3 s2 p1 16->32 batch 2', [2, 16, 15, 14], [32, 16, 3, 3], { stride: 2, padding: 1 }],
  ['stem 3->16 k3 s2 p1', [2, 3, 17, 19], [16, 3, 3, 3], { stride: 2, padding: 1 }],
  ['1x1 32->16', [2, 32, 9, 7], [16, 32, 1, 1], {}],
  ['1x1 s2: phases no tap reaches', [1, 6, 9, 8], [10, 6, 1, 1], { stride: 2 }],
  [
    'groups 2, stride 2, dilation 2, pad 2',
    [2, 6, 11, 10],
    [8, 3, 3, 3],
    { stride: 2, padding: 2, dilation: 2, groups: 2 },
  ],
  ['depthwise k3 s1', [1, 5, 8, 9], [5, 1, 3, 3], { padding: 1, groups: 5 }],
  ['5x3 kernel stride [3, 2] pad [2, 0]', [1, 4, 16, 13], [7, 4, 5, 3], { stride: [3, 2], padding: [2, 0] }],
  ['3x3 s1 64->51, K = 459 per pixel chunk', [1, 64, 12, 14], [51, 64, 3, 3], { padding: 1 }],
];

for (const [rtName, rt] of runtimes) {
  t.test(`conv2dGradInput and conv2dGradWeight ${rtName}`, async (t) => {
    for (const [name, xs, ws, opts] of BACKWARD) {
      const g = convGeometry('test', xs, ws, opts);
      const ys = [g.n, g.o, g.oh, g.ow];
      const x = randoms(numel(xs)),
        w = randoms(numel(ws)),
        gy = randoms(numel(ys));
      const refGx = E.conv2dGradInput(
        E.tensor(gy, ys, { device: E.cpu }),
        E.tensor(w, ws, { device: E.cpu }),
        xs,
        opts,
      ).dataSync();
      const refGw = E.conv2dGradWeight(
        E.tensor(x, xs, { device: E.cpu }),
        E.tensor(gy, ys, { device: E.cpu }),
        ws,
        opts,
      ).dataSync();
      const used = rt.used;
      const [xp, wp, gyp, gxp, gwp] = place(rt, x, w, gy, refGx.length, refGw.length);
      conv2dGradInput(rt, gyp, wp, gxp, g);
      conv2dGradWeight(rt, xp, gyp, gwp, g);
      const ex = relErr(rt.f32(gxp, refGx.length), refGx),
        ew = relErr(rt.f32(gwp, refGw.length), refGw);
      t.ok(ex < TOL, `${name}: grad-input rel err ${ex.toExponential(2)}`);
      t.ok(ew < TOL, `${name}: grad-weight rel err ${ew.toExponential(2)}`);
      for (const p of [gwp, gxp, gyp, wp, xp]) rt.free(p);
      t.equal(rt.used, used, `${name}: scratch given back`);
    }
  });

  t.test(`matmul ${rtName}`, async (t) => {
    for (const [m, k, n] of [
      [7, 13, 19],
      [1, 1, 1],
      [37, 300, 45],
      [6, 8, 8],
      [13, 5, 3],
      [85, 33, 29],
    ])
      for (const transA of [false, true])
        for (const transB of [false, true]) {
          const a = randoms(m * k),
            b = randoms(k * n);
          const A = (i: number, p: number) => (transA ? a[p * m + i] : a[i * k + p]);
          const B = (p: number, j: number) => (transB ? b[j * k + p] : b[p * n + j]);
          const ref = new Float32Array(m * n);
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++) {
              let s = 0;
              for (let p = 0; p < k; p++) s += A(i, p) * B(p, j);
              ref[i * n + j] = s;
            }
          const [ap, bp, cp] = place(rt, a, b, m * n);
          matmul(rt, ap, bp, cp, m, k, n, transA, transB);
          const err = relErr(rt.f32(cp, m * n), ref);
          t.ok(
            err < TOL,
            `(${m}, ${k}) x (${k}, ${n})${transA ? ' transA' : ''}${transB ? ' transB' : ''}: rel err ${err.toExponential(2)}`,
          );
          for (const p of [cp, bp, ap]) rt.free(p);
        }
  });
}

// grad-weight (kernels/grad_weight.ts): every path of its launcher. x is copied into padded stride-phase
// planes unless the conv is 1x1 stride 1 unpadded with a pixel count that is a multiple of 4 (then x and
// gy are read in place); gy gets a padded row pitch when taps reach past its width. The reduction runs
// in chunks of 512 pixels (whole images when one fits) and, in the 3-range runtimes (4 x 3 tasks wanted),
// is split across tasks when gw has fewer blocks (32 rows x 64 columns) than that. With the padded copies
// capped (maxCopyBytes) the images run in passes, each adding its partial blocks. The sums are in a
// different order from the cpu reference (f32 lane partials per chunk vs one f64 sum): relative error
// against max |gw| stays near 1e-7.
const GRAD_WEIGHT: [string, number[], number[], Conv2dOptions][] = [
  ['1x1 s1 in place (64 pixels), batch 3', [3, 8, 8, 8], [6, 8, 1, 1], {}],
  ['1x1 s1, 35 pixels: padded path', [2, 5, 5, 7], [3, 5, 1, 1], {}],
  ['1x1 s1 pad 1: zeros around every plane', [1, 3, 4, 5], [2, 3, 1, 1], { padding: 1 }],
  ['1x1 s2', [2, 6, 9, 7], [5, 6, 1, 1], { stride: 2 }],
  ['3x3 s1 p0, width 9', [2, 4, 7, 9], [5, 4, 3, 3], {}],
  ['3x3 s1 p1, width 13, 1 output channel', [2, 3, 6, 13], [1, 3, 3, 3], { padding: 1 }],
  ['3x3 s2 p1, odd sizes', [3, 5, 11, 13], [7, 5, 3, 3], { stride: 2, padding: 1 }],
  ['3x3 s2 p0', [1, 4, 9, 10], [3, 4, 3, 3], { stride: 2 }],
  ['1 pixel in, 3x3 p1: 1 pixel out', [2, 3, 1, 1], [4, 3, 3, 3], { padding: 1 }],
  ['1 pixel out of a 3x3 window', [1, 2, 3, 3], [3, 2, 3, 3], {}],
  [
    'rows and columns past one block (33 x 66 + 2) and K not a multiple of 4',
    [1, 22, 5, 6],
    [35, 22, 1, 3],
    { padding: [0, 1] },
  ],
  ['long reduction: 3 images of 24x24 > one 512-pixel chunk each', [3, 4, 24, 24], [6, 4, 3, 3], { padding: 1 }],
  ['stride 2 dilation 2: taps in one phase', [2, 3, 12, 11], [4, 3, 3, 3], { stride: 2, padding: 2, dilation: 2 }],
  ['stride 3 kernel 2 dilation 2', [1, 3, 14, 13], [5, 3, 2, 2], { stride: 3, dilation: 2, padding: 1 }],
  ['groups 3, stride [2, 1]', [2, 6, 9, 8], [9, 2, 3, 3], { stride: [2, 1], padding: 1, groups: 3 }],
  ['depthwise 1x1', [2, 4, 6, 6], [4, 1, 1, 1], { groups: 4 }],
  // row pitch: reads past a row's end land in the next row's leading zero columns where that is right
  ['5x5 s1 p2: pitch OW + 2', [2, 3, 9, 11], [4, 3, 5, 5], { padding: 2 }],
  ['5x5 s1 p1: pitch OW + 3', [1, 2, 8, 9], [3, 2, 5, 5], { padding: 1 }],
  ['3x3 s1 pad [1, 3]: more zero columns than taps reach', [1, 2, 6, 5], [3, 2, 3, 3], { padding: [1, 3] }],
  // >= 2 x 2048 pixels: split in two between tasks in the 3-range runtimes
  ['pixels split between tasks, at the middle of image 2', [5, 2, 32, 30], [3, 2, 3, 3], { padding: 1 }],
  ['1x1 in place, pixels split between tasks', [4, 8, 32, 32], [5, 8, 1, 1], {}],
];

for (const [rtName, rt] of runtimes) {
  t.test(`conv2dGradWeight (dot products along the pixels) ${rtName}`, async (t) => {
    for (const [name, xs, ws, opts] of GRAD_WEIGHT) {
      const g = convGeometry('test', xs, ws, opts);
      const ys = [g.n, g.o, g.oh, g.ow];
      const x = randoms(numel(xs)),
        gy = randoms(numel(ys));
      const ref = E.conv2dGradWeight(
        E.tensor(x, xs, { device: E.cpu }),
        E.tensor(gy, ys, { device: E.cpu }),
        ws,
        opts,
      ).dataSync();
      const used = rt.used;
      const [xp, gyp, gwp] = place(rt, x, gy, ref.length);
      conv2dGradWeight(rt, xp, gyp, gwp, g);
      const err = relErr(rt.f32(gwp, ref.length), ref);
      t.ok(err < TOL, `${name}: rel err ${err.toExponential(2)}`);
      if (g.n > 1) {
        // padded copies capped at 1 byte: one image per pass, each pass its own partial blocks
        rt.f32(gwp, ref.length).fill(NaN);
        conv2dGradWeight(rt, xp, gyp, gwp, g, 1);
        const err1 = relErr(rt.f32(gwp, ref.length), ref);
        t.ok(err1 < TOL, `${name}, one image per pass: rel err ${err1.toExponential(2)}`);
      }
      for (const p of [gwp, gyp, xp]) rt.free(p);
      t.equal(rt.used, used, `${name}: scratch given back`);
    }
  });
}

t.test('the 3-range runtime really split the kernels into uneven ranges', async (t) => {
  const [, rt] = runtimes.find(([name]) => name === 'plain x3')!;
  const conv = rt.log.filter(([k]) => k === 'gemm_conv2d');
  t.ok(
    conv.some(([, b, e]) => b > 0 && e > b),
    'gemm_conv2d ran in ranges not starting at 0',
  );
  t.ok(
    rt.log.some(
      ([, b, e], i) => i > 0 && e - b !== rt.log[i - 1][2] - rt.log[i - 1][1] && rt.log[i - 1][0] === rt.log[i][0],
    ),
    'ranges of unequal length',
  );
  t.ok(
    rt.log.some(([k, b, e]) => k === 'grad_weight_dot' && b > 0 && e > b),
    'grad-weight ran in ranges not starting at 0',
  );
  const sums = (r: TestRuntime) => r.log.filter(([k]) => k === 'grad_weight_sum').length;
  t.ok(sums(rt) > 0, 'grad-weight split the pixels between tasks and summed the partial blocks');
  // one thread: no pixel split, so a sum pass only where the images run in passes
  const [, one] = runtimes.find(([name]) => name === 'plain x1')!;
  const g = convGeometry('test', [3, 2, 9, 8], [4, 2, 3, 3], { padding: 1 });
  const [xp, gyp, gwp] = place(one, randoms(3 * 2 * 72), randoms(3 * 4 * 72), 4 * 2 * 9);
  const before = sums(one);
  conv2dGradWeight(one, xp, gyp, gwp, g);
  t.equal(sums(one), before, 'one thread, one pass: no sum pass');
  conv2dGradWeight(one, xp, gyp, gwp, g, 1);
  t.equal(sums(one), before + 1, 'one thread, one image per pass: one sum pass');
  for (const p of [gwp, gyp, xp]) one.free(p);
});

t.test('real worker threads: 3 ranges at once on one memory (scratch slots claimed atomically)', async (t) => {
  const rt = await TestRuntime.create([gemmFragment], { relaxed: false, threads: 3, workers: true });
  t.teardown(() => rt.close());
  // a layer big enough (~8 ms) that the three ranges overlap in time even on a busy machine
  const big: Case = ['3x3 32->64 batch 2 at 48x48', [2, 32, 48, 48], [64, 32, 3, 3], true, { padding: 1, act: 'silu' }];
  for (let rep = 0; rep < 3; rep++)
    for (const [name, xs, ws, hasBias, opts] of [big, ...FORWARD.slice(0, 8)]) {
      const g = convGeometry('test', xs, ws, opts);
      const x = randoms(numel(xs)),
        w = randoms(numel(ws)),
        b = hasBias ? randoms(g.o) : null;
      const ref = new Float32Array(g.n * g.o * g.oh * g.ow);
      conv2dCpu(x, w, b, ref, g, opts.act === 'silu');
      const [xp, wp, bp, yp] = place(rt, x, w, b ?? 1, ref.length);
      conv2dForward(rt, xp, wp, b ? bp : 0, yp, g, opts.act ?? null);
      const err = relErr(rt.f32(yp, ref.length), ref);
      if (rep === 2 || !(err < TOL)) t.ok(err < TOL, `${name}: rel err ${err.toExponential(2)}`);
      for (const p of [yp, bp, wp, xp]) rt.free(p);
    }
  for (const [name, xs, ws, opts] of BACKWARD.slice(0, 3)) {
    const g = convGeometry('test', xs, ws, opts);
    const ys = [g.n, g.o, g.oh, g.ow];
    const x = randoms(numel(xs)),
      w = randoms(numel(ws)),
      gy = randoms(numel(ys));
    const refGx = E.conv2dGradInput(
      E.tensor(gy, ys, { device: E.cpu }),
      E.tensor(w, ws, { device: E.cpu }),
      xs,
      opts,
    ).dataSync();
    const refGw = E.conv2dGradWeight(
      E.tensor(x, xs, { device: E.cpu }),
      E.tensor(gy, ys, { device: E.cpu }),
      ws,
      opts,
    ).dataSync();
    const [xp, wp, gyp, gxp, gwp] = place(rt, x, w, gy, refGx.length, refGw.length);
    conv2dGradInput(rt, gyp, wp, gxp, g);
    conv2dGradWeight(rt, xp, gyp, gwp, g);
    t.ok(relErr(rt.f32(gxp, refGx.length), refGx) < TOL, `${name}: grad-input`);
    t.ok(relErr(rt.f32(gwp, refGw.length), refGw) < TOL, `${name}: grad-weight`);
    for (const p of [gwp, gxp, gyp, wp, xp]) rt.free(p);
  }
  // grad-weight with its pixels split between the threads (partial blocks, then the sum pass)
  for (const [name, xs, ws, opts] of GRAD_WEIGHT.slice(-2)) {
    const g = convGeometry('test', xs, ws, opts);
    const ys = [g.n, g.o, g.oh, g.ow];
    const x = randoms(numel(xs)),
      gy = randoms(numel(ys));
    const ref = E.conv2dGradWeight(
      E.tensor(x, xs, { device: E.cpu }),
      E.tensor(gy, ys, { device: E.cpu }),
      ws,
      opts,
    ).dataSync();
    const [xp, gyp, gwp] = place(rt, x, gy, ref.length);
    conv2dGradWeight(rt, xp, gyp, gwp, g);
    t.ok(relErr(rt.f32(gwp, ref.length), ref) < TOL, `${name}: grad-weight`);
    rt.f32(gwp, ref.length).fill(NaN);
    conv2dGradWeight(rt, xp, gyp, gwp, g, 1);
    t.ok(relErr(rt.f32(gwp, ref.length), ref) < TOL, `${name}: grad-weight, one image per pass`);
    for (const p of [gwp, gyp, xp]) rt.free(p);
  }
  t.ok(
    rt.log.some(([k]) => k === 'grad_weight_sum'),
    'grad-weight summed partial blocks',
  );
});
