// Winograd F(2x2, 3x3) grad-weight on the wasm device (engine/backends/wasm/winograd_grad_weight.ts,
// kernels/winograd_gw.ts) against an f64 reference of the cpu loops and the direct wasm grad-weight
// (gemm.ts conv2dGradWeight): batch > 1, odd plane sizes (tiles cut by the edge), padding 0/1/2,
// wide rows (four tiles per f32x4), long reductions, several image passes, relaxed and plain builds,
// threads 1 vs 3, scratch freed; and conv2dGradWeight on the wasm device taking it (and not with
// YOLO_WINOGRAD_GW=0 or YOLO_WINOGRAD=0) against the cpu device.
import t from 'tap';
import { conv2dGradWeight, getDevice, releaseDevices, tensor, type Device } from '../../engine/index.js';
import type { WasmRuntimeImpl } from '../../engine/backends/wasm/runtime.js';
import { convGeometry } from '../../engine/ops/conv2d.js';
import { winogradGradWeight, winogradGradWeightEligible } from '../../engine/backends/wasm/winograd_grad_weight.js';
import { conv2dGradWeight as gemmGradWeight } from '../../engine/backends/wasm/gemm.js';
import { gemmFragment } from '../../engine/backends/wasm/gemm_wat.js';
import { winograd as winogradFragment } from '../../engine/backends/wasm/kernels/winograd.js';
import { winogradGw } from '../../engine/backends/wasm/kernels/winograd_gw.js';
import { TestRuntime, enableRelaxedSimd, place } from './wasm_test_runtime.js';
import { relDiff, withEnv } from '../helpers.js';
import { gradWeightRef, seeded } from './winograd_refs.js';

enableRelaxedSimd();
t.teardown(releaseDevices);

const cases = [
  { shape: [3, 5, 7, 9], O: 6, pad: 1 },
  { shape: [2, 17, 11, 6], O: 9, pad: 0 },
  // 3 x 2 x 3 = 18 tiles: the dot products run to 20, over zeros written past the tiles
  { shape: [3, 4, 5, 7], O: 6, pad: 0 },
  { shape: [2, 6, 5, 5], O: 13, pad: 2 },
  // wide rows: wino_gy's four-tiles-per-vector path, an odd output height
  { shape: [2, 7, 9, 27], O: 5, pad: 1 },
  // 4 x 32 x 33 tiles: long dot products (several pixel chunks)
  { shape: [4, 8, 64, 66], O: 10, pad: 1 },
];

t.test(
  'Winograd grad-weight vs the f64 cpu reference and the direct grad-weight, relaxed and plain builds',
  async (t) => {
    for (const relaxed of [true, false]) {
      const outs: Float32Array[][] = [];
      for (const threads of [1, 3]) {
        const rt = await TestRuntime.create([gemmFragment, winogradFragment, winogradGw], { relaxed, threads });
        const got: Float32Array[] = [];
        for (const c of cases) {
          const [N, C, H, W] = c.shape;
          const g = convGeometry('conv2d', c.shape, [c.O, C, 3, 3], { padding: c.pad });
          const tag = `${relaxed ? 'relaxed' : 'plain'} x${threads}: ${c.shape} -> ${c.O}, pad ${c.pad}`;
          const randoms = seeded(7);
          const x = randoms(N * C * H * W),
            gy = randoms(N * c.O * g.oh * g.ow);
          const ref = gradWeightRef(x, gy, g);
          const [xp, gyp, gwW, gwP, gwD] = place(rt, x, gy, ref.length, ref.length, ref.length);
          const used = rt.used;
          winogradGradWeight(rt, xp, gyp, gwW, g);
          t.equal(rt.used, used, `${tag}: scratch freed`);
          // one image per pass: every pass writes its own partial blocks
          winogradGradWeight(rt, xp, gyp, gwP, g, 1);
          t.equal(rt.used, used, `${tag}: scratch freed (passes)`);
          gemmGradWeight(rt, xp, gyp, gwD, g);
          const gw = rt.f32(gwW, ref.length).slice(),
            gwPass = rt.f32(gwP, ref.length).slice(),
            direct = rt.f32(gwD, ref.length).slice();
          const [eRef, eDirect, ePass] = [relDiff(gw, ref), relDiff(gw, direct), relDiff(gwPass, ref)];
          t.ok(eRef <= 2e-6, `${tag}: vs cpu (f64) ${eRef.toExponential(2)} of the largest`);
          t.ok(
            eDirect <= 2e-6,
            `${tag}: vs direct ${eDirect.toExponential(2)} (direct vs f64 ${relDiff(direct, ref).toExponential(2)})`,
          );
          t.ok(ePass <= 2e-6, `${tag}: one image per pass vs cpu ${ePass.toExponential(2)}`);
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
  },
);

t.test(
  'conv2dGradWeight on the wasm device takes Winograd for an eligible shape, not with YOLO_WINOGRAD(_GW)=0',
  async (t) => {
    const wasm: Device = await getDevice('wasm', { threads: 2 });
    const cpu: Device = await getDevice('cpu');
    const rt = (wasm as Device & { wasm: WasmRuntimeImpl }).wasm;
    const shape = [2, 16, 35, 37],
      O = 24;
    const g = convGeometry('conv2d', shape, [O, 16, 3, 3], { padding: 1 });
    t.ok(winogradGradWeightEligible(g), `${shape} -> ${O} is eligible`);
    const randoms = seeded(3);
    const x = randoms(shape.reduce((a, b) => a * b)),
      gy = randoms(2 * O * g.oh * g.ow);
    const run = (d: Device) =>
      conv2dGradWeight(tensor(x, shape, { device: d }), tensor(gy, [2, O, g.oh, g.ow], { device: d }), [O, 16, 3, 3], {
        padding: 1,
      }).dataSync();
    const ref = run(cpu);
    const wino = run(wasm);
    for (const [env, v] of [
      ['YOLO_WINOGRAD_GW', '0'],
      ['YOLO_WINOGRAD', '0'],
    ]) {
      const direct = withEnv(env, v, () => {
        t.notOk(winogradGradWeightEligible(g), `${env}=0: not eligible`);
        return run(wasm);
      });
      t.ok(relDiff(direct, ref) <= 2e-6, `${env}=0: direct vs cpu ${relDiff(direct, ref).toExponential(2)}`);
      t.ok(relDiff(wino, direct) > 0, `${env}=0: a different summation than Winograd's`);
    }
    t.ok(relDiff(wino, ref) <= 2e-6, `Winograd vs cpu device ${relDiff(wino, ref).toExponential(2)}`);
    // the real runtime's allocator: the scratch is given back
    const [xp, gyp, gwp] = [x.length, gy.length, O * 16 * 9].map((n) => rt.alloc(4 * n));
    rt.f32(xp, x.length).set(x);
    rt.f32(gyp, gy.length).set(gy);
    const live = rt.liveBytes;
    winogradGradWeight(rt, xp, gyp, gwp, g);
    t.equal(rt.liveBytes, live, 'real runtime: scratch freed');
    t.ok(relDiff(rt.f32(gwp, O * 16 * 9), ref) <= 2e-6, 'real runtime, direct call: vs cpu device');
    for (const p of [gwp, gyp, xp]) rt.free(p);
  },
);
