// Winograd F(2x2, 3x3) on the wasm device (engine/backends/wasm/winograd.ts, kernels/winograd.ts)
// against the cpu reference conv2d: odd sizes (H, W odd, channels not multiples of 4), padding
// 0/1/2, batch 2, bias and SiLU, input and output as channel slices of larger buffers, the fused
// single-launch path (winogradConv2dFused) bit-identical to the three launches, threads 1
// vs 3 bit-identical (narrow planes: per-tile paths; wide ones: four tiles per f32x4); U from the
// wino_weights kernel against G g Gt in f64 (forward and flipped/transposed for grad-input); the
// eager forward and grad-input (winogradForward / winogradGradInput) in the relaxed and plain
// builds against the cpu reference and the direct GEMM path; the conv2d ops on the wasm device
// taking Winograd for an eligible shape (and not with YOLO_WINOGRAD=0); and yolov8n-pose compiled
// with Winograd against the cpu reference.
import t from 'tap';
import { loadPoseModel } from '../../models/index.js';
import {
  conv2d,
  conv2dGradInput,
  getDevice,
  manualSeed,
  rand,
  releaseDevices,
  silu,
  tensor,
  type Device,
} from '../../engine/index.js';
import type { WasmRuntimeImpl } from '../../engine/backends/wasm/runtime.js';
import { convGeometry, conv2dCpu, type ConvGeometry } from '../../engine/ops/conv2d.js';
import {
  packWinogradWeights,
  winogradConv2d,
  winogradConv2dFused,
  winogradApplies,
  winogradEligible,
  winogradForward,
  winogradGradInput,
  winogradGradInputGeometry,
  winogradShape,
  winogradWeightBytes,
} from '../../engine/backends/wasm/winograd.js';
import { conv2dForward, conv2dGradInput as gemmGradInput } from '../../engine/backends/wasm/gemm.js';
import { gemmFragment } from '../../engine/backends/wasm/gemm_wat.js';
import { winograd as winogradFragment } from '../../engine/backends/wasm/kernels/winograd.js';
import { winogradFused as winogradFusedFragment } from '../../engine/backends/wasm/kernels/winograd_fused.js';
import { TestRuntime, enableRelaxedSimd, place } from './wasm_test_runtime.js';
import { relDiff, withEnv } from '../helpers.js';
import { compiledPredict, seeded } from './winograd_refs.js';

enableRelaxedSimd();

t.teardown(releaseDevices);
const WEIGHTS = 'test/fixtures/predict/yolov8n-pose-coco128.pt';
const wasmOf = (d: Device) => (d as Device & { wasm: WasmRuntimeImpl }).wasm;

/**
 * conv2d(x, w, b, padding) [SiLU] through Winograd on `device`, with x read from channels [cx, cx + C)
 * of an (N, C + 3, H, W) buffer and y written into channels [cy, cy + O) of an (N, O + 2, OH, OW)
 * one; returns y (N, O, OH, OW) and checks the rest of the output buffer is untouched.
 */
function winograd(
  t: Tap.Test,
  device: Device,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  [N, C, H, W]: number[],
  O: number,
  pad: number,
  act: 'silu' | null,
) {
  const rt = wasmOf(device);
  const geo = convGeometry('conv2d', [N, C, H, W], [O, C, 3, 3], { padding: pad });
  t.ok(winogradApplies(geo), 'applies: 3x3, stride 1, padding <= 2');
  const { oh: OH, ow: OW } = geo;
  const [cx, cy] = [2, 1];
  const xs = new Float32Array(N * (C + 3) * H * W).fill(NaN); // channels outside the slice are never read
  for (let n = 0; n < N; n++) xs.set(x.subarray(n * C * H * W, (n + 1) * C * H * W), (n * (C + 3) + cx) * H * W);
  const xt = tensor(xs, [N, C + 3, H, W], { device });
  const wt = tensor(w, [O, C, 3, 3], { device });
  const bt = b && tensor(b, [O], { device });
  const yt = tensor(new Float32Array(N * (O + 2) * OH * OW).fill(-7), [N, O + 2, OH, OW], { device });
  const { vBytes, mBytes } = winogradShape(geo);
  const up = packWinogradWeights(rt, wt.storage.ptr, geo);
  const v = rt.alloc(vBytes),
    m = rt.alloc(mBytes);
  const plane = (c: number, h: number, w: number, off: number) => ({ sb: c * h * w, sc: h * w, off: off * h * w });
  winogradConv2d(
    rt,
    xt.storage.ptr,
    plane(C + 3, H, W, cx),
    up,
    bt ? bt.storage.ptr : 0,
    yt.storage.ptr,
    plane(O + 2, OH, OW, cy),
    geo,
    act,
    v,
    m,
  );
  // the compiled forward's single-launch path: bit-identical to the three launches, slice included
  const yf = tensor(new Float32Array(N * (O + 2) * OH * OW).fill(-7), [N, O + 2, OH, OW], { device });
  const yl = plane(O + 2, OH, OW, cy);
  winogradConv2dFused(
    rt,
    xt.storage.ptr,
    plane(C + 3, H, W, cx),
    up,
    bt ? bt.storage.ptr : 0,
    yf.storage.ptr,
    yl,
    geo,
    act,
  );
  [up, v, m].forEach((p) => rt.free(p));
  const all = yt.dataSync() as Float32Array;
  const fused = yf.dataSync() as Float32Array;
  yf.dispose();
  t.ok(
    all.every((e, i) => Object.is(e, fused[i])),
    `fused single launch bit-identical to wino_in + GEMM + wino_out (${N}x${C}x${H}x${W} -> ${O})`,
  );
  const y = new Float32Array(N * O * OH * OW);
  let untouched = true;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < O + 2; c++) {
      const src = all.subarray((n * (O + 2) + c) * OH * OW, (n * (O + 2) + c + 1) * OH * OW);
      if (c >= cy && c < cy + O) y.set(src, (n * O + c - cy) * OH * OW);
      else untouched &&= src.every((e) => e === -7);
    }
  t.ok(untouched, 'channels outside the output slice untouched');
  [xt, wt, bt, yt].forEach((e) => e?.dispose());
  return y;
}

t.test(
  'Winograd conv vs the cpu reference conv2d on odd sizes, threads 1 vs 3 identical, fused = unfused',
  async (t) => {
    const cases = [
      { shape: [2, 5, 7, 9], O: 6, pad: 1, act: 'silu' as const, bias: true },
      { shape: [2, 3, 11, 6], O: 7, pad: 0, act: null, bias: false },
      { shape: [1, 13, 5, 5], O: 9, pad: 2, act: 'silu' as const, bias: true },
      { shape: [2, 17, 1, 4], O: 3, pad: 1, act: null, bias: true },
      // wide enough for the transforms' four-tiles-per-vector paths, with scalar tiles at both edges
      { shape: [2, 6, 9, 29], O: 5, pad: 1, act: 'silu' as const, bias: true },
      { shape: [1, 33, 6, 21], O: 10, pad: 0, act: null, bias: true },
      // several fused tile blocks per image and across the two images, a part-filled last block
      { shape: [2, 20, 13, 37], O: 18, pad: 1, act: 'silu' as const, bias: true },
      { shape: [2, 9, 30, 17], O: 21, pad: 2, act: null, bias: false },
    ];
    for (const c of cases) {
      manualSeed(7);
      const [N, C, H, W] = c.shape;
      const x = rand(c.shape).dataSync() as Float32Array;
      const w = rand([c.O, C, 3, 3]).dataSync() as Float32Array;
      const b = rand([c.O]).dataSync() as Float32Array;
      for (let i = 0; i < x.length; i++) x[i] = 2 * x[i] - 1;
      for (let i = 0; i < w.length; i++) w[i] = w[i] - 0.5;
      const ref0 = conv2d(tensor(x, c.shape), tensor(w, [c.O, C, 3, 3]), c.bias ? tensor(b, [c.O]) : null, {
        padding: c.pad,
      });
      const ref = (c.act ? silu(ref0) : ref0).dataSync();
      const outs: Float32Array[] = [];
      for (const threads of [1, 3]) {
        const device = await getDevice('wasm', { threads });
        outs.push(winograd(t, device, x, w, c.bias ? b : null, [N, C, H, W], c.O, c.pad, c.act));
      }
      const tag = `${c.shape} -> ${c.O}, pad ${c.pad}, ${c.act ?? 'no act'}${c.bias ? ', bias' : ''}`;
      t.equal(outs[0].length, ref.length, `${tag}: output size`);
      t.ok(relDiff(outs[0], ref) <= 1e-5, `${tag}: vs cpu conv2d ${relDiff(outs[0], ref).toExponential(2)}`);
      t.ok(
        outs[0].every((v, i) => Object.is(v, outs[1][i])),
        `${tag}: threads 1 and 3 bit-identical`,
      );
    }
  },
);

t.test('yolov8n-pose compiled on wasm with Winograd vs the cpu reference', async (t) => {
  const shape = [1, 3, 160, 192]; // the head's 20x24 convs are big enough for Winograd (winogradEligible)
  manualSeed(3);
  const host = rand(shape).dataSync();
  const ref = loadPoseModel(WEIGHTS).eval().fuse();
  const want = ref.predict(tensor(host, shape)).dataSync();
  const device = await getDevice('wasm', { threads: 2 });
  const model = loadPoseModel(WEIGHTS, { device }).eval().fuse();
  const run = (winograd: boolean) =>
    withEnv('YOLO_WINOGRAD', winograd ? '1' : '0', () => compiledPredict(model, host, shape, device));
  const wino = run(true),
    direct = run(false);
  t.ok(relDiff(wino, want) <= 1e-4, `Winograd vs cpu: ${relDiff(wino, want).toExponential(2)} of the largest value`);
  t.ok(relDiff(direct, want) <= 1e-5, `direct vs cpu: ${relDiff(direct, want).toExponential(2)}`);
  t.ok(
    wino.some((v, i) => v !== direct[i]),
    'YOLO_WINOGRAD=0 takes the direct path (the outputs round differently)',
  );
});

/** U = G g Gt in f64 for the 3x3 kernel g (9 taps): 16 values, k = 4 i + j. */
function uRef(g: ArrayLike<number>) {
  const G = [
    [1, 0, 0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0, 0, 1],
  ];
  const u = new Float64Array(16);
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 4; j++)
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) u[4 * i + j] += G[i][a] * g[3 * a + b] * G[j][b];
  return u;
}

t.test(
  'wino_weights: U = G g Gt in f32 vs f64, packed for the 16 GEMMs; flipped and transposed for grad-input',
  async (t) => {
    for (const relaxed of [true, false]) {
      const rt = await TestRuntime.create([gemmFragment, winogradFragment, winogradFusedFragment], {
        relaxed,
        threads: 3,
      });
      const [O, C] = [7, 5];
      const w = seeded(2024)(O * C * 9);
      const wp = rt.alloc(4 * w.length);
      rt.f32(wp, w.length).set(w);
      for (const transposed of [false, true]) {
        // the grad-input conv has C output channels (rows) reducing over O; kernel w[o][c] flipped
        const g = convGeometry('conv2d', [1, C, 6, 6], [O, C, 3, 3], { padding: 1 });
        const geo = transposed ? winogradGradInputGeometry(g) : g;
        const [R, Q] = [geo.o, geo.c];
        const mpan = Math.ceil(R / 4);
        const before = rt.used;
        const up = packWinogradWeights(rt, wp, geo, transposed);
        const u = rt.f32(up, winogradWeightBytes(geo) / 4).slice();
        rt.free(up);
        t.equal(rt.used, before, 'U block freed');
        let err = 0,
          mx = 0,
          padZero = true;
        for (let r = 0; r < 4 * mpan; r++)
          for (let q = 0; q < Q; q++) {
            const taps = Array.from({ length: 9 }, (_, j) =>
              transposed ? w[(q * C + r) * 9 + 8 - j] : w[(r * C + q) * 9 + j],
            );
            const ref = r < R ? uRef(taps) : new Float64Array(16);
            for (let k = 0; k < 16; k++) {
              const got = u[((k * mpan + (r >> 2)) * Q + q) * 4 + (r & 3)];
              if (r >= R) padZero &&= got === 0;
              err = Math.max(err, Math.abs(got - ref[k]));
              mx = Math.max(mx, Math.abs(ref[k]));
            }
          }
        const tag = `${relaxed ? 'relaxed' : 'plain'}, ${transposed ? 'grad-input (flipped, transposed)' : 'forward'}`;
        t.ok(padZero, `${tag}: rows past R in the last panel are zero`);
        t.ok(err / mx <= 2e-7, `${tag}: f32 U vs f64 ${(err / mx).toExponential(2)} of the largest`);
      }
      await rt.close();
    }
  },
);

/** cpu reference of gx for g (f64 sums over the taps that land, as the transposed conv) */
function gradInputRef(gy: Float32Array, w: Float32Array, g: ConvGeometry) {
  const gx = new Float64Array(g.n * g.c * g.h * g.w);
  for (let n = 0; n < g.n; n++)
    for (let o = 0; o < g.o; o++)
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) {
          const v = gy[((n * g.o + o) * g.oh + oy) * g.ow + ox];
          for (let c = 0; c < g.c; c++)
            for (let ky = 0; ky < 3; ky++)
              for (let kx = 0; kx < 3; kx++) {
                const iy = oy - g.ph + ky,
                  ix = ox - g.pw + kx;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                gx[((n * g.c + c) * g.h + iy) * g.w + ix] += v * w[((o * g.c + c) * 3 + ky) * 3 + kx];
              }
        }
  return gx;
}

t.test(
  'eager Winograd forward and grad-input vs the cpu reference and the direct GEMM, relaxed and plain builds',
  async (t) => {
    const cases = [
      { shape: [3, 5, 7, 9], O: 6, pad: 1, act: 'silu' as const, bias: true },
      { shape: [2, 17, 11, 6], O: 9, pad: 0, act: null, bias: false },
      { shape: [2, 6, 5, 5], O: 13, pad: 2, act: 'silu' as const, bias: false },
      // wide rows: the transforms' four-tiles-per-vector paths
      { shape: [2, 7, 10, 27], O: 5, pad: 1, act: null, bias: true },
    ];
    for (const relaxed of [true, false]) {
      const outs: Float32Array[][] = [];
      for (const threads of [1, 3]) {
        const rt = await TestRuntime.create([gemmFragment, winogradFragment, winogradFusedFragment], {
          relaxed,
          threads,
        });
        const got: Float32Array[] = [];
        for (const c of cases) {
          const [N, C, H, W] = c.shape;
          const g = convGeometry('conv2d', c.shape, [c.O, C, 3, 3], { padding: c.pad });
          const tag = `${relaxed ? 'relaxed' : 'plain'} x${threads}: ${c.shape} -> ${c.O}, pad ${c.pad}${c.bias ? ', bias' : ''}${c.act ? ', silu' : ''}`;
          const randoms = seeded(99);
          const x = randoms(N * C * H * W),
            w = randoms(c.O * C * 9),
            b = randoms(c.O),
            gy = randoms(N * c.O * g.oh * g.ow);
          const ref = new Float32Array(gy.length);
          conv2dCpu(x, w, c.bias ? b : null, ref, g, c.act === 'silu');
          const gxRef = gradInputRef(gy, w, g);
          const [xp, wp, bp, gyp] = place(rt, x, w, b, gy);
          const [yW, yD, gxW, gxD] = place(rt, gy.length, gy.length, x.length, x.length);
          const used = rt.used;
          winogradForward(rt, xp, wp, c.bias ? bp : 0, yW, g, c.act);
          winogradGradInput(rt, gyp, wp, gxW, g);
          t.equal(rt.used, used, `${tag}: U, V and M freed`);
          conv2dForward(rt, xp, wp, c.bias ? bp : 0, yD, g, c.act);
          gemmGradInput(rt, gyp, wp, gxD, g);
          const y = rt.f32(yW, gy.length).slice(),
            gx = rt.f32(gxW, x.length).slice();
          t.ok(relDiff(y, ref) <= 1e-5, `${tag}: forward vs cpu ${relDiff(y, ref).toExponential(2)}`);
          t.ok(
            relDiff(y, rt.f32(yD, gy.length)) <= 1e-5,
            `${tag}: forward vs direct ${relDiff(y, rt.f32(yD, gy.length)).toExponential(2)}`,
          );
          t.ok(relDiff(gx, gxRef) <= 1e-5, `${tag}: grad-input vs cpu (f64) ${relDiff(gx, gxRef).toExponential(2)}`);
          t.ok(
            relDiff(gx, rt.f32(gxD, x.length)) <= 1e-5,
            `${tag}: grad-input vs direct ${relDiff(gx, rt.f32(gxD, x.length)).toExponential(2)}`,
          );
          got.push(y, gx);
        }
        outs.push(got);
        await rt.close();
      }
      t.ok(
        outs[0].every((a, i) => a.every((v, j) => Object.is(v, outs[1][i][j]))),
        `${relaxed ? 'relaxed' : 'plain'}: threads 1 and 3 bit-identical`,
      );
    }
  },
);

t.test(
  'conv2d and conv2dGradInput on the wasm device take Winograd for an eligible shape, not with YOLO_WINOGRAD=0',
  async (t) => {
    // 2 x 17 x 37 x 41 -> 19: 798 tiles, 8.8 M multiply-adds: eligible both ways (grad-input swaps C and O)
    const [xs, ws] = [
      [2, 17, 37, 41],
      [19, 17, 3, 3],
    ];
    const g = convGeometry('conv2d', xs, ws, { padding: 1 });
    t.ok(winogradEligible(g) && winogradEligible(winogradGradInputGeometry(g)), 'eligible, forward and grad-input');
    manualSeed(5);
    const [x, w, b] = [rand(xs), rand(ws), rand([19])].map((e) => e.dataSync() as Float32Array);
    for (let i = 0; i < w.length; i++) w[i] -= 0.5;
    const gy = rand([2, 19, 37, 41]).dataSync() as Float32Array;
    const ref = silu(conv2d(tensor(x, xs), tensor(w, ws), tensor(b, [19]), { padding: 1 })).dataSync();
    const gxRef = conv2dGradInput(tensor(gy, [2, 19, 37, 41]), tensor(w, ws), xs, { padding: 1 }).dataSync();
    const device = await getDevice('wasm', { threads: 2 });
    const run = (on: boolean) =>
      withEnv('YOLO_WINOGRAD', on ? '1' : '0', () => {
        const [xt, wt, bt, gyt] = [
          tensor(x, xs, { device }),
          tensor(w, ws, { device }),
          tensor(b, [19], { device }),
          tensor(gy, [2, 19, 37, 41], { device }),
        ];
        const y = conv2d(xt, wt, bt, { padding: 1, act: 'silu' }).dataSync() as Float32Array;
        const gx = conv2dGradInput(gyt, wt, xs, { padding: 1 }).dataSync() as Float32Array;
        [xt, wt, bt, gyt].forEach((e) => e.dispose());
        return { y, gx };
      });
    const wino = run(true),
      direct = run(false);
    for (const [k, want] of [
      ['y', ref],
      ['gx', gxRef],
    ] as const) {
      t.ok(relDiff(wino[k], want) <= 1e-5, `${k}: Winograd vs cpu ${relDiff(wino[k], want).toExponential(2)}`);
      t.ok(relDiff(direct[k], want) <= 1e-5, `${k}: direct vs cpu ${relDiff(direct[k], want).toExponential(2)}`);
      t.ok(
        wino[k].some((v, i) => v !== direct[k][i]),
        `${k}: YOLO_WINOGRAD=0 takes the direct path (the outputs round differently)`,
      );
    }
  },
);
