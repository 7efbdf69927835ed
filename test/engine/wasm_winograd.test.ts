// Winograd F(2x2, 3x3) on the wasm device (engine/backends/wasm/winograd.ts, kernels/winograd.ts)
// against the cpu reference conv2d: odd sizes (H, W odd, channels not multiples of 4), padding
// 0/1/2, batch 2, bias and SiLU, input and output as channel slices of larger buffers, threads 1
// vs 2 bit-identical (narrow planes: per-tile paths; wide ones: four tiles per f32x4); and yolov8n-pose compiled with Winograd against the cpu reference.
import t from 'tap';
import { loadPoseModel } from '../../models/index.js';
import { conv2d, getDevice, manualSeed, rand, releaseDevices, silu, tensor, type Device } from '../../engine/index.js';
import type { WasmRuntimeImpl } from '../../engine/backends/wasm/runtime.js';
import { convGeometry } from '../../engine/ops/conv2d.js';
import {
  packWinogradWeights,
  winogradConv2d,
  winogradApplies,
  winogradShape,
} from '../../engine/backends/wasm/winograd.js';

t.teardown(releaseDevices);
const WEIGHTS = 'test/fixtures/predict/yolov8n-pose-coco128.pt';
const wasmOf = (d: Device) => (d as Device & { wasm: WasmRuntimeImpl }).wasm;

function relDiff(got: ArrayLike<number>, ref: ArrayLike<number>) {
  let d = 0,
    mx = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(got[i] - ref[i]));
    mx = Math.max(mx, Math.abs(ref[i]));
  }
  return d / mx;
}

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
  [up, v, m].forEach((p) => rt.free(p));
  const all = yt.dataSync() as Float32Array;
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

t.test('Winograd conv vs the cpu reference conv2d on odd sizes, threads 1 vs 2 identical', async (t) => {
  const cases = [
    { shape: [2, 5, 7, 9], O: 6, pad: 1, act: 'silu' as const, bias: true },
    { shape: [2, 3, 11, 6], O: 7, pad: 0, act: null, bias: false },
    { shape: [1, 13, 5, 5], O: 9, pad: 2, act: 'silu' as const, bias: true },
    { shape: [2, 17, 1, 4], O: 3, pad: 1, act: null, bias: true },
    // wide enough for the transforms' four-tiles-per-vector paths, with scalar tiles at both edges
    { shape: [2, 6, 9, 29], O: 5, pad: 1, act: 'silu' as const, bias: true },
    { shape: [1, 33, 6, 21], O: 10, pad: 0, act: null, bias: true },
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
    for (const threads of [1, 2]) {
      const device = await getDevice('wasm', { threads });
      outs.push(winograd(t, device, x, w, c.bias ? b : null, [N, C, H, W], c.O, c.pad, c.act));
    }
    const tag = `${c.shape} -> ${c.O}, pad ${c.pad}, ${c.act ?? 'no act'}${c.bias ? ', bias' : ''}`;
    t.equal(outs[0].length, ref.length, `${tag}: output size`);
    t.ok(relDiff(outs[0], ref) <= 1e-5, `${tag}: vs cpu conv2d ${relDiff(outs[0], ref).toExponential(2)}`);
    t.ok(
      outs[0].every((v, i) => Object.is(v, outs[1][i])),
      `${tag}: threads 1 and 2 bit-identical`,
    );
  }
});

t.test('yolov8n-pose compiled on wasm with Winograd vs the cpu reference', async (t) => {
  const shape = [1, 3, 96, 128];
  manualSeed(3);
  const host = rand(shape).dataSync();
  const ref = loadPoseModel(WEIGHTS).eval().fuse();
  const want = ref.predict(tensor(host, shape)).dataSync();
  const device = await getDevice('wasm', { threads: 2 });
  const model = loadPoseModel(WEIGHTS, { device }).eval().fuse();
  const run = (winograd: boolean) => {
    const before = process.env.YOLO_WINOGRAD;
    process.env.YOLO_WINOGRAD = winograd ? '1' : '0';
    try {
      model.compile();
      return model.predict(tensor(host, shape, { device })).dataSync() as Float32Array;
    } finally {
      model.compile(false);
      if (before === undefined) delete process.env.YOLO_WINOGRAD;
      else process.env.YOLO_WINOGRAD = before;
    }
  };
  const wino = run(true),
    direct = run(false);
  t.ok(relDiff(wino, want) <= 1e-4, `Winograd vs cpu: ${relDiff(wino, want).toExponential(2)} of the largest value`);
  t.ok(relDiff(direct, want) <= 1e-5, `direct vs cpu: ${relDiff(direct, want).toExponential(2)}`);
  t.ok(
    wino.some((v, i) => v !== direct[i]),
    'YOLO_WINOGRAD=0 takes the direct path (the outputs round differently)',
  );
});
