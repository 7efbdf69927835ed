// Winograd F(4x4, 3x3) on the wasm device (engine/backends/wasm/winograd_f4.ts, kernels/winograd_f4.ts),
// the compiled eval forward's path for wide 3x3 stride-1 convs: the fused wino_fused4 launch against
// an f64 direct conv on odd sizes (H, W not multiples of 4, so output tiles overhang both edges),
// padding 0/1/2, batch 2, C and O not multiples of 4, input and output as channel slices of larger
// buffers, bias and the SiLU epilogue, in the relaxed and plain builds, threads 1 vs 3
// bit-identical (the block size changes with the threads, the arithmetic per tile does not); the
// eligibility rule and YOLO_WINOGRAD_F4=0 / YOLO_WINOGRAD=0; yolov8n-pose compiled with it against
// the cpu reference.
import t from 'tap';
import { loadPoseModel } from '../../models/index.js';
import { getDevice, manualSeed, rand, releaseDevices, tensor } from '../../engine/index.js';
import { convGeometry, type ConvGeometry } from '../../engine/ops/conv2d.js';
import { launchWinogradFused, winogradEligible } from '../../engine/backends/wasm/winograd.js';
import {
  packWinogradWeightsF4,
  prepareWinogradF4,
  winogradConv2dF4,
  winogradF4Eligible,
  winogradF4Forward,
  winogradF4GradInput,
  winogradF4WeightBytes,
} from '../../engine/backends/wasm/winograd_f4.js';
import { gemmFragment } from '../../engine/backends/wasm/gemm_wat.js';
import { winograd as winogradFragment } from '../../engine/backends/wasm/kernels/winograd.js';
import { winogradFused } from '../../engine/backends/wasm/kernels/winograd_fused.js';
import { winogradF4 } from '../../engine/backends/wasm/kernels/winograd_f4.js';
import { G4 } from '../../engine/backends/wasm/kernels/winograd_f4_transforms.js';
import { TestRuntime, enableRelaxedSimd, place } from './wasm_test_runtime.js';
import { relDiff, withEnv } from '../helpers.js';
import { compiledPredict, seeded } from './winograd_refs.js';
import { kernelKind } from '../../engine/profile.js';

enableRelaxedSimd();
t.teardown(releaseDevices);

/** act(conv2d(x, w) + b) in f64 (the direct sum over the taps that land inside x) */
function convRef(x: Float32Array, w: Float32Array, b: Float32Array | null, g: ConvGeometry, silu: boolean) {
  const y = new Float64Array(g.n * g.o * g.oh * g.ow);
  for (let n = 0; n < g.n; n++)
    for (let o = 0; o < g.o; o++)
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) {
          let s = b ? b[o] : 0;
          for (let c = 0; c < g.c; c++)
            for (let ky = 0; ky < 3; ky++) {
              const iy = oy - g.ph + ky;
              if (iy < 0 || iy >= g.h) continue;
              for (let kx = 0; kx < 3; kx++) {
                const ix = ox - g.pw + kx;
                if (ix < 0 || ix >= g.w) continue;
                s += x[((n * g.c + c) * g.h + iy) * g.w + ix] * w[((o * g.c + c) * 3 + ky) * 3 + kx];
              }
            }
          y[((n * g.o + o) * g.oh + oy) * g.ow + ox] = silu ? s / (1 + Math.exp(-s)) : s;
        }
  return y;
}

/**
 * The F(4x4) error bound, relative to the largest output: bench/winograd_error.py measures 3.3e-6
 * for one C = 64 conv in f32 at our points (7.9e-6 at Lavin and Gray's; F(2x2) 3.3e-7); these
 * convs, with weights in [-1, 1) and C up to 70, measured 3.7e-7 .. 2.1e-6 (printed per case).
 * 1e-5 leaves ~5x for other data, and is far under what a wrong transform coefficient or a
 * misplaced tile gives (errors of the size of the outputs).
 */
const TOL = 1e-5;

t.test('wino_fused4 vs an f64 direct conv: odd sizes, paddings, slices, bias + SiLU, both builds', async (t) => {
  const cases = [
    { shape: [2, 5, 7, 9], O: 6, pad: 1, act: true, bias: true },
    { shape: [2, 3, 11, 6], O: 7, pad: 0, act: false, bias: false },
    { shape: [1, 13, 5, 5], O: 9, pad: 2, act: true, bias: true },
    { shape: [2, 17, 1, 4], O: 3, pad: 1, act: false, bias: true },
    // wide rows: four tiles on one tile row, inside (five plain loads per row) and at the border (masked)
    { shape: [2, 6, 13, 45], O: 5, pad: 1, act: true, bias: true },
    { shape: [1, 33, 10, 47], O: 10, pad: 0, act: false, bias: true },
    // several tile blocks per image and across images, a part-filled last block, tile rows of 5 tiles
    { shape: [2, 20, 21, 18], O: 18, pad: 1, act: true, bias: true },
    { shape: [2, 9, 30, 17], O: 21, pad: 2, act: false, bias: false },
    // as wide as a model layer, C and O not multiples of 4
    { shape: [1, 70, 20, 20], O: 66, pad: 1, act: true, bias: true },
  ];
  for (const relaxed of [true, false]) {
    const outs: Float32Array[][] = [];
    for (const threads of [1, 3]) {
      const rt = await TestRuntime.create([gemmFragment, winogradFragment, winogradFused, winogradF4], {
        relaxed,
        threads,
      });
      const got: Float32Array[] = [];
      for (const c of cases) {
        const [N, C, H, W] = c.shape;
        const g = convGeometry('conv2d', c.shape, [c.O, C, 3, 3], { padding: c.pad });
        const randoms = seeded(11);
        const x = randoms(N * C * H * W),
          w = randoms(c.O * C * 9),
          b = randoms(c.O);
        const ref = convRef(x, w, c.bias ? b : null, g, c.act);
        // x in channels [2, 2 + C) of an (N, C + 3, H, W) buffer (NaN elsewhere: never read), y into
        // channels [1, 1 + O) of an (N, O + 2, OH, OW) one (NaN elsewhere: must stay so)
        const [cx, cy] = [2, 1];
        const xs = new Float32Array(N * (C + 3) * H * W).fill(NaN);
        for (let n = 0; n < N; n++) xs.set(x.subarray(n * C * H * W, (n + 1) * C * H * W), (n * (C + 3) + cx) * H * W);
        const ysz = N * (c.O + 2) * g.oh * g.ow;
        const [xp, wp, bp, yp] = place(rt, xs, w, b, ysz);
        const up = packWinogradWeightsF4(rt, wp, g);
        const plane = (ch: number, h: number, ww: number, off: number) => ({
          sb: ch * h * ww,
          sc: h * ww,
          off: off * h * ww,
        });
        const used = rt.used;
        winogradConv2dF4(
          rt,
          xp,
          plane(C + 3, H, W, cx),
          up,
          c.bias ? bp : 0,
          yp,
          plane(c.O + 2, g.oh, g.ow, cy),
          g,
          c.act ? 'silu' : null,
        );
        t.equal(rt.used, used, 'scratch freed');
        const all = rt.f32(yp, ysz).slice();
        const y = new Float32Array(ref.length);
        let untouched = true;
        for (let n = 0; n < N; n++)
          for (let o = 0; o < c.O + 2; o++) {
            const src = all.subarray((n * (c.O + 2) + o) * g.oh * g.ow, (n * (c.O + 2) + o + 1) * g.oh * g.ow);
            if (o >= cy && o < cy + c.O) y.set(src, (n * c.O + o - cy) * g.oh * g.ow);
            else untouched &&= src.every((e) => Number.isNaN(e));
          }
        const tag = `${relaxed ? 'relaxed' : 'plain'} x${threads}: ${c.shape} -> ${c.O}, pad ${c.pad}${c.bias ? ', bias' : ''}${c.act ? ', silu' : ''}`;
        t.ok(untouched, `${tag}: channels outside the output slice untouched`);
        const err = relDiff(y, ref);
        t.ok(err <= TOL, `${tag}: vs f64 direct ${err.toExponential(2)} of the largest output`);
        got.push(y);
        rt.free(up);
      }
      outs.push(got);
      await rt.close();
    }
    t.ok(
      outs[0].every((a, i) => a.every((v, j) => Object.is(v, outs[1][i][j]))),
      `${relaxed ? 'relaxed' : 'plain'}: threads 1 and 3 bit-identical`,
    );
  }
});

// The eager ops (training) take F(4x4) too: U from w on every call, and the grad-input as the conv
// of gy with w flipped and transposed (wino_weights4's flip), checked against f64 references.
t.test('eager forward and grad-input (winogradF4Forward / winogradF4GradInput) vs f64, both builds', async (t) => {
  const cases = [
    { shape: [2, 5, 9, 7], O: 6, pad: 1 },
    { shape: [1, 18, 13, 10], O: 11, pad: 1 },
    { shape: [2, 7, 6, 11], O: 9, pad: 0 },
    { shape: [1, 9, 5, 8], O: 5, pad: 2 },
  ];
  for (const relaxed of [true, false]) {
    const rt = await TestRuntime.create([gemmFragment, winogradFragment, winogradFused, winogradF4], {
      relaxed,
      threads: 2,
    });
    for (const c of cases) {
      const [N, C, H, W] = c.shape;
      const g = convGeometry('conv2d', c.shape, [c.O, C, 3, 3], { padding: c.pad });
      const randoms = seeded(5);
      const x = randoms(N * C * H * W),
        w = randoms(c.O * C * 9),
        b = randoms(c.O),
        gy = randoms(N * c.O * g.oh * g.ow);
      const ref = convRef(x, w, b, g, true);
      // gx[n, c, iy, ix] = sum over o and the taps of gy[n, o, iy + ph - ky, ix + pw - kx] w[o, c, ky, kx]
      const gxRef = new Float64Array(N * C * H * W);
      for (let n = 0; n < N; n++)
        for (let o = 0; o < c.O; o++)
          for (let oy = 0; oy < g.oh; oy++)
            for (let ox = 0; ox < g.ow; ox++) {
              const v = gy[((n * c.O + o) * g.oh + oy) * g.ow + ox];
              for (let ci = 0; ci < C; ci++)
                for (let ky = 0; ky < 3; ky++)
                  for (let kx = 0; kx < 3; kx++) {
                    const iy = oy - g.ph + ky,
                      ix = ox - g.pw + kx;
                    if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                      gxRef[((n * C + ci) * H + iy) * W + ix] += v * w[((o * C + ci) * 3 + ky) * 3 + kx];
                  }
            }
      const [xp, wp, bp, gyp, yp, gxp] = place(rt, x, w, b, gy, ref.length, gxRef.length);
      const used = rt.used;
      winogradF4Forward(rt, xp, wp, bp, yp, g, 'silu');
      winogradF4GradInput(rt, gyp, wp, gxp, g);
      t.equal(rt.used, used, 'U and scratch freed');
      const tag = `${relaxed ? 'relaxed' : 'plain'}: ${c.shape} -> ${c.O}, pad ${c.pad}`;
      const ey = relDiff(rt.f32(yp, ref.length), ref),
        egx = relDiff(rt.f32(gxp, gxRef.length), gxRef);
      t.ok(ey <= TOL, `${tag}: forward + bias + SiLU within ${TOL} of f64 (${ey.toExponential(1)})`);
      t.ok(egx <= TOL, `${tag}: grad-input within ${TOL} of f64 (${egx.toExponential(1)})`);
    }
  }
});

t.test('wino_weights4: U = G g Gt in f32 vs f64, packed for the 36 GEMMs, both builds', async (t) => {
  for (const relaxed of [true, false]) {
    const rt = await TestRuntime.create([gemmFragment, winogradFragment, winogradFused, winogradF4], {
      relaxed,
      threads: 3,
    });
    const [O, C] = [7, 5];
    const randoms = seeded(3);
    const w = randoms(O * C * 9);
    const [wp] = place(rt, w);
    const g = convGeometry('conv2d', [1, C, 8, 8], [O, C, 3, 3], { padding: 1 });
    const up = packWinogradWeightsF4(rt, wp, g);
    const u = rt.f32(up, winogradF4WeightBytes(g) / 4);
    const mpan = Math.ceil(O / 4);
    let err = 0,
      mx = 0,
      padZero = true;
    for (let r = 0; r < 4 * mpan; r++)
      for (let q = 0; q < C; q++)
        for (let i = 0; i < 6; i++)
          for (let j = 0; j < 6; j++) {
            let ref = 0;
            if (r < O)
              for (let a = 0; a < 3; a++)
                for (let b = 0; b < 3; b++) ref += G4[i][a] * w[(r * C + q) * 9 + 3 * a + b] * G4[j][b];
            const got = u[(((6 * i + j) * mpan + (r >> 2)) * C + q) * 4 + (r & 3)];
            if (r >= O) padZero &&= got === 0;
            err = Math.max(err, Math.abs(got - ref));
            mx = Math.max(mx, Math.abs(ref));
          }
    const tag = relaxed ? 'relaxed' : 'plain';
    t.ok(padZero, `${tag}: rows past O in the last panel are zero`);
    // G's 1/3 and 1/15 round in f32: measured 1.7e-7 (~1.5 ulp of the largest U)
    t.ok(err / mx <= 5e-7, `${tag}: f32 U vs f64 ${(err / mx).toExponential(2)} of the largest`);
    await rt.close();
  }
});

t.test('x ending where the memory ends: the loads that could leave it go through $wg_row', async (t) => {
  // 9x10 planes: three tiles per tile row, so most quads span two tile rows (the lane-by-lane path)
  const shape = [2, 5, 9, 10],
    O = 6;
  const [N, C, H, W] = shape;
  const g = convGeometry('conv2d', shape, [O, C, 3, 3], { padding: 1 });
  for (const relaxed of [true, false]) {
    const rt = await TestRuntime.create([gemmFragment, winogradFragment, winogradFused, winogradF4], {
      relaxed,
      threads: 2,
    });
    const randoms = seeded(5);
    const x = randoms(N * C * H * W),
      w = randoms(O * C * 9),
      b = randoms(O);
    const ref = convRef(x, w, b, g, true);
    const [wp, bp, yp] = place(rt, w, b, N * O * g.oh * g.ow);
    const up = packWinogradWeightsF4(rt, wp, g);
    const xl = { sb: C * H * W, sc: H * W, off: 0 },
      yl = { sb: O * g.oh * g.ow, sc: g.oh * g.ow, off: 0 };
    const l0 = prepareWinogradF4(rt, 0, xl, up, bp, yp, yl, g, 'silu');
    const [params, flags, scratch] = [4 * l0.words.length, l0.flagBytes, l0.scratchBytes].map((n) => rt.alloc(n));
    // a filler block, then x up to the last byte of the memory
    const top = rt.used + 1024,
      bytes = 4 * x.length;
    const end = Math.max(Math.ceil((top + bytes + 16) / 65536), rt.memory.buffer.byteLength / 65536) * 65536;
    rt.alloc(end - bytes - top);
    const [xp] = place(rt, x);
    t.equal(xp + bytes, rt.memory.buffer.byteLength, 'x ends where the memory ends');
    launchWinogradFused(rt, prepareWinogradF4(rt, xp, xl, up, bp, yp, yl, g, 'silu'), params, flags, scratch);
    const err = relDiff(rt.f32(yp, ref.length), ref);
    t.ok(err <= TOL, `${relaxed ? 'relaxed' : 'plain'}: vs f64 direct ${err.toExponential(2)}`);
    await rt.close();
  }
});

t.test('winogradF4Eligible: F(2x2)-eligible convs with little tile overhang; the switches turn it off', (t) => {
  const geo = (c: number, o: number, hw: number, stride = 1, n = 1) =>
    convGeometry('conv2d', [n, c, hw, hw], [o, c, 3, 3], { padding: 1, stride });
  for (const [g, want, f2] of [
    [geo(64, 64, 80), true, true],
    [geo(16, 16, 160), true, true],
    [geo(256, 64, 20), true, true],
    [geo(64, 64, 10), false, false], // 25 2x2 tiles: direct (winogradEligible)
    [geo(128, 128, 10, 1, 8), false, true], // batch 8: F(2x2), but 4x4 tiles compute 12x12 of 10x10
    [geo(64, 64, 44, 1, 2), true, true], // 44 = 4 x 11: no overhang
    [geo(8, 64, 80), false, false], // too few channels
    [geo(64, 64, 80, 2), false, false], // stride 2
  ] as const) {
    const tag = `${g.n}x${g.c}x${g.h}x${g.w} -> ${g.o}, stride ${g.sh}`;
    t.equal(winogradF4Eligible(g), want, `${tag}: F(4x4) ${want}`);
    t.equal(winogradEligible(g), f2, `${tag}: F(2x2) ${f2}`);
  }
  t.equal(kernelKind('wino_fused4'), kernelKind('wino_fused'), 'YOLO_PROFILE counts wino_fused4 in the fused row');
  const wide = geo(64, 64, 80);
  for (const [name, v] of [
    ['YOLO_WINOGRAD_F4', '0'],
    ['YOLO_WINOGRAD', '0'],
  ]) {
    withEnv(name, v, () => {
      t.notOk(winogradF4Eligible(wide), `${name}=${v}: off`);
      t.equal(
        winogradEligible(wide),
        name === 'YOLO_WINOGRAD_F4',
        `${name}=${v}: F(2x2) ${name === 'YOLO_WINOGRAD_F4' ? 'stays' : 'off too'}`,
      );
    });
  }
  t.end();
});

t.test('yolov8n-pose compiled on wasm with F(4x4) vs F(2x2) and the cpu reference', async (t) => {
  const WEIGHTS = 'test/fixtures/predict/yolov8n-pose-coco128.pt';
  const shape = [1, 3, 160, 192]; // 16x80x96 .. 64x20x24 3x3 convs: all winogradEligible, so F(4x4)
  manualSeed(3);
  const host = rand(shape).dataSync();
  const ref = loadPoseModel(WEIGHTS).eval().fuse();
  const want = ref.predict(tensor(host, shape)).dataSync();
  const device = await getDevice('wasm', { threads: 2 });
  const model = loadPoseModel(WEIGHTS, { device }).eval().fuse();
  const run = (f4: boolean) =>
    withEnv('YOLO_WINOGRAD_F4', f4 ? '1' : '0', () => compiledPredict(model, host, shape, device));
  const f4 = run(true),
    f2 = run(false);
  // relative to the outputs' largest values (box coordinates, ~200) F(4x4) measured 3.7e-7 (F(2x2)
  // 3.3e-7): its per-conv error (1e-6 .. 6e-6 of a conv's largest output, above) stays in the
  // features' low bits; 3e-6 is 8x that and 10x under the 1e-4-class change of a wrong tile
  const e4 = relDiff(f4, want),
    e2 = relDiff(f2, want);
  t.ok(e4 <= 3e-6, `F(4x4) vs cpu: ${e4.toExponential(2)} of the largest value (F(2x2): ${e2.toExponential(2)})`);
  t.ok(e2 <= 1e-5, `F(2x2) vs cpu: ${e2.toExponential(2)}`);
  t.ok(
    f4.some((v, i) => v !== f2[i]),
    'YOLO_WINOGRAD_F4=0 takes F(2x2) (the outputs round differently)',
  );
  // the confidences (sigmoid of the class logit, row 4 of (1, 56, A); measured 4.5e-8) far under what moves a detection
  const A = f4.length / 56;
  let dc = 0;
  for (let a = 0; a < A; a++) dc = Math.max(dc, Math.abs(f4[4 * A + a] - want[4 * A + a]));
  t.ok(dc <= 1e-5, `confidences: max abs diff ${dc.toExponential(2)}`);
});
