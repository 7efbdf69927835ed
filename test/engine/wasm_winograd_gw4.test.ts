// Winograd F(4x4, 3x3) grad-weight on the wasm device (engine/backends/wasm/winograd_grad_weight_f4.ts,
// kernels/winograd_gw4.ts) against an f64 reference of the cpu loops and the F(2x2) grad-weight:
// batch 2 and 3, odd plane sizes (4x4 tiles cut by the edge, groups of four tiles across tile rows
// and images), padding 0/1/2, C and O not multiples of 4, wide rows (four tiles per f32x4), several
// image passes, relaxed and plain builds, threads 1 vs 3, scratch freed; and conv2dGradWeight on the
// wasm device taking it (and not with YOLO_WINOGRAD_GW4=0 or YOLO_WINOGRAD_F4=0) against the cpu device.
import t from 'tap';
import { conv2dGradWeight, getDevice, releaseDevices, tensor, type Device } from '../../engine/index.js';
import type { WasmRuntimeImpl } from '../../engine/backends/wasm/runtime.js';
import { convGeometry } from '../../engine/ops/conv2d.js';
import { winogradGradWeight } from '../../engine/backends/wasm/winograd_grad_weight.js';
import {
  winogradGradWeightF4,
  winogradGradWeightF4Eligible,
} from '../../engine/backends/wasm/winograd_grad_weight_f4.js';
import { gemmFragment } from '../../engine/backends/wasm/gemm_wat.js';
import { winograd as winogradFragment } from '../../engine/backends/wasm/kernels/winograd.js';
import { winogradGw } from '../../engine/backends/wasm/kernels/winograd_gw.js';
import { winogradGw4 } from '../../engine/backends/wasm/kernels/winograd_gw4.js';
import { TestRuntime, enableRelaxedSimd, place } from './wasm_test_runtime.js';
import { relDiff, withEnv } from '../helpers.js';
import { gradWeightRef, seeded } from './winograd_refs.js';
import { kernelKind } from '../../engine/profile.js';

enableRelaxedSimd();
t.teardown(releaseDevices);

const cases = [
  // 2 x 3 tiles per image, 18 in all: groups of four across tile rows and images, the last past the end
  { shape: [3, 5, 7, 9], O: 6, pad: 1 },
  { shape: [2, 17, 11, 6], O: 9, pad: 0 },
  { shape: [2, 6, 5, 5], O: 13, pad: 2 },
  // wide rows: four tiles on one tile row (inside and at the border), an odd output height
  { shape: [2, 7, 9, 27], O: 5, pad: 1 },
  // 9 x 10 tiles per image: the four-per-row paths and long dot products (several pixel chunks)
  { shape: [2, 10, 35, 40], O: 11, pad: 1 },
  { shape: [2, 16, 20, 20], O: 18, pad: 1 },
];

t.test('F(4x4) Winograd grad-weight vs the f64 cpu reference and F(2x2), relaxed and plain builds', async (t) => {
  for (const relaxed of [true, false]) {
    const outs: Float32Array[][] = [];
    for (const threads of [1, 3]) {
      const rt = await TestRuntime.create([gemmFragment, winogradFragment, winogradGw, winogradGw4], {
        relaxed,
        threads,
      });
      const got: Float32Array[] = [];
      for (const c of cases) {
        const [N, C, H, W] = c.shape;
        const g = convGeometry('conv2d', c.shape, [c.O, C, 3, 3], { padding: c.pad });
        const tag = `${relaxed ? 'relaxed' : 'plain'} x${threads}: ${c.shape} -> ${c.O}, pad ${c.pad}`;
        const randoms = seeded(7);
        const x = randoms(N * C * H * W),
          gy = randoms(N * c.O * g.oh * g.ow);
        const ref = gradWeightRef(x, gy, g);
        const [xp, gyp, gw4, gwP, gw2] = place(rt, x, gy, ref.length, ref.length, ref.length);
        const used = rt.used;
        winogradGradWeightF4(rt, xp, gyp, gw4, g);
        t.equal(rt.used, used, `${tag}: scratch freed`);
        // one image per pass: every pass writes its own partial blocks
        winogradGradWeightF4(rt, xp, gyp, gwP, g, 1);
        t.equal(rt.used, used, `${tag}: scratch freed (passes)`);
        winogradGradWeight(rt, xp, gyp, gw2, g);
        const gw = rt.f32(gw4, ref.length).slice(),
          pass = rt.f32(gwP, ref.length).slice(),
          f2 = rt.f32(gw2, ref.length).slice();
        // measured 5.3e-7 .. 1.34e-6 of the largest entry (F(2x2): 1.4e-7 .. 5.1e-7): G's and A's
        // coefficients up to 8 and 16/15 cost ~3x F(2x2)'s rounding; 5e-6 leaves room for other shapes
        const [eRef, ePass, eF2] = [relDiff(gw, ref), relDiff(pass, ref), relDiff(f2, ref)];
        t.ok(
          eRef <= 5e-6,
          `${tag}: vs cpu (f64) ${eRef.toExponential(2)} of the largest (F(2x2) ${eF2.toExponential(2)})`,
        );
        t.ok(ePass <= 5e-6, `${tag}: one image per pass vs cpu ${ePass.toExponential(2)}`);
        got.push(gw);
      }
      outs.push(got);
      await rt.close();
    }
    t.ok(
      outs[0].every((a, i) => a.every((v, j) => Object.is(v, outs[1][i][j]))),
      `${relaxed ? 'relaxed' : 'plain'}: threads 1 and 3 bit-identical (the tiles are never split between tasks)`,
    );
  }
});

t.test(
  'conv2dGradWeight on the wasm device takes F(4x4) for an eligible shape, not with YOLO_WINOGRAD_GW4=0',
  async (t) => {
    const wasm: Device = await getDevice('wasm', { threads: 2 });
    const cpu: Device = await getDevice('cpu');
    const shape = [2, 16, 36, 37],
      O = 24;
    const g = convGeometry('conv2d', shape, [O, 16, 3, 3], { padding: 1 });
    t.ok(winogradGradWeightF4Eligible(g), `${shape} -> ${O} is eligible`);
    const randoms = seeded(3);
    const x = randoms(shape.reduce((a, b) => a * b)),
      gy = randoms(2 * O * g.oh * g.ow);
    const run = (d: Device) =>
      conv2dGradWeight(tensor(x, shape, { device: d }), tensor(gy, [2, O, g.oh, g.ow], { device: d }), [O, 16, 3, 3], {
        padding: 1,
      }).dataSync();
    const ref = run(cpu);
    const f4 = run(wasm);
    t.ok(relDiff(f4, ref) <= 5e-6, `F(4x4) vs cpu device ${relDiff(f4, ref).toExponential(2)}`);
    for (const env of ['YOLO_WINOGRAD_GW4', 'YOLO_WINOGRAD_F4']) {
      const f2 = withEnv(env, '0', () => {
        t.notOk(winogradGradWeightF4Eligible(g), `${env}=0: not eligible`);
        return run(wasm);
      });
      t.ok(relDiff(f2, ref) <= 2e-6, `${env}=0: F(2x2) vs cpu ${relDiff(f2, ref).toExponential(2)}`);
      t.ok(relDiff(f4, f2) > 0, `${env}=0: a different summation than F(4x4)'s`);
    }
    // the real runtime's allocator: the scratch is given back
    const rt = (wasm as Device & { wasm: WasmRuntimeImpl }).wasm;
    const [xp, gyp, gwp] = [x.length, gy.length, O * 16 * 9].map((n) => rt.alloc(4 * n));
    rt.f32(xp, x.length).set(x);
    rt.f32(gyp, gy.length).set(gy);
    const live = rt.liveBytes;
    winogradGradWeightF4(rt, xp, gyp, gwp, g);
    t.equal(rt.liveBytes, live, 'real runtime: scratch freed');
    t.ok(relDiff(rt.f32(gwp, O * 16 * 9), ref) <= 5e-6, 'real runtime, direct call: vs cpu device');
    for (const p of [gwp, gyp, xp]) rt.free(p);
    // 10x10 planes: 12x12 computed per 10x10 kept (1.44x) stay F(2x2), as the forward's rule
    t.notOk(winogradGradWeightF4Eligible(convGeometry('conv2d', [8, 64, 10, 10], [64, 64, 3, 3], { padding: 1 })));
  },
);

t.test('wino_in4 and wino_gy4 read a tensor ending where the memory ends through $wg_row, bit-identical', async (t) => {
  const [N, C, H, W, O] = [4, 5, 7, 9, 6]; // x and gy a whole number of 16-byte lines: they can end at the memory's end
  const g = convGeometry('conv2d', [N, C, H, W], [O, C, 3, 3], { padding: 1 });
  const tH = Math.ceil(g.oh / 4),
    tW = Math.ceil(g.ow / 4),
    P = N * tH * tW,
    len = Math.ceil(P / 4) * 4;
  for (const relaxed of [true, false]) {
    const rt = await TestRuntime.create([gemmFragment, winogradFragment, winogradGw4], { relaxed, threads: 2 });
    const randoms = seeded(11);
    const x = randoms(N * C * H * W),
      gy = randoms(N * O * g.oh * g.ow);
    const [vIn, vEnd, mIn, mEnd] = place(rt, 36 * C * len, 36 * C * len, 36 * O * len, 36 * O * len);
    const inArgs = (xp: number, v: number) => [xp, v, C, H, W, C * H * W, H * W, tH, tW, P, len, 4 * C * len, 1, 1];
    const gyArgs = (gp: number, m: number) => [gp, m, O, g.oh, g.ow, tH, tW, P, len, 4 * O * len];
    const [xMid, gyMid] = place(rt, x, gy);
    rt.parallel('wino_in4', inArgs(xMid, vIn), C);
    rt.parallel('wino_gy4', gyArgs(gyMid, mIn), O);
    /** a filler block, then a copy of a up to the last byte of the memory */
    const atEnd = (a: Float32Array) => {
      const top = rt.used + 1024,
        bytes = 4 * a.length;
      const end = Math.max(Math.ceil((top + bytes + 16) / 65536), rt.memory.buffer.byteLength / 65536) * 65536;
      rt.alloc(end - bytes - top);
      const [p] = place(rt, a);
      t.equal(p + bytes, rt.memory.buffer.byteLength, 'the copy ends where the memory ends');
      return p;
    };
    rt.parallel('wino_in4', inArgs(atEnd(x), vEnd), C);
    rt.parallel('wino_gy4', gyArgs(atEnd(gy), mEnd), O);
    const same = (a: number, b: number, n: number) =>
      rt.f32(a, n).every((v, i) => Object.is(v, rt.f32(b, n)[i])) && rt.f32(a, n).every(Number.isFinite);
    t.ok(same(vIn, vEnd, 36 * C * len), `${relaxed ? 'relaxed' : 'plain'}: V bit-identical, every place written`);
    t.ok(same(mIn, mEnd, 36 * O * len), `${relaxed ? 'relaxed' : 'plain'}: M' bit-identical, every place written`);
    await rt.close();
  }
});

t.test("YOLO_PROFILE counts the F(4x4) grad-weight's transforms as grad-weight", (t) => {
  for (const k of ['wino_in4', 'wino_gy4', 'wino_gw_out4'])
    t.equal(kernelKind(k), 'conv2d grad-weight (wasm Winograd transforms)', k);
  t.end();
});
