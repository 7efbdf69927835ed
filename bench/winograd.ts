// Winograd F(2x2, 3x3) vs direct GEMM for the 3x3 stride-1 convs of the wasm compiled forward.
// Part 1: yolov8n-pose's forward, compiled with YOLO_WINOGRAD on and off, alternating one of each
// per round in one process (a shared machine's load falls on both alike): process CPU time and
// wall time, medians and minimums, the load printed. Part 2: each distinct 3x3 stride-1 conv shape
// of the model, both paths on the same buffers, in effective GFLOP/s (the direct conv's
// 2 O C 9 OH OW flops over the time, for all three: direct, Winograd in three launches, and the
// compiled forward's fused single launch, F(2x2) and F(4x4)) and per thread, and which one the
// compiled forward takes (winogradEligible, winogradF4Eligible). Part 3 (--eager): the eager
// ops a training step runs (conv2dWasm / conv2dGradInputWasm: U computed per call) per 3x3
// stride-1 shape at each NxIMGSZ given, forward and grad-input, direct vs F(2x2) vs F(4x4), and
// which one ops_conv.ts takes (winogradF4Eligible, winogradEligible); grad-weight direct vs F(2x2)
// (winogradGradWeightEligible) vs F(4x4) (winogradGradWeightF4Eligible).
//
// usage: npx tsx bench/winograd.ts [--threads 2] [--imgsz 640] [--rounds 8] [--layers 1]
//        [--compiled 1] [--eager 8x320,1x640]
import * as E from '../engine/index.js';
import { loadPoseModel } from '../models/index.js';
import { traceEval } from '../models/summary.js';
import { convGeometry, type ConvGeometry } from '../engine/ops/conv2d.js';
import { conv2dForward, conv2dGradInput, conv2dGradWeight, packConvWeights } from '../engine/backends/wasm/gemm.js';
import { winogradGradWeight, winogradGradWeightEligible } from '../engine/backends/wasm/winograd_grad_weight.js';
import { winogradGradWeightF4, winogradGradWeightF4Eligible } from '../engine/backends/wasm/winograd_grad_weight_f4.js';
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
} from '../engine/backends/wasm/winograd.js';
import {
  packWinogradWeightsF4,
  winogradConv2dF4,
  winogradF4Eligible,
  winogradF4Forward,
  winogradF4GradInput,
} from '../engine/backends/wasm/winograd_f4.js';
import type { WasmRuntimeImpl } from '../engine/backends/wasm/runtime.js';
import { f1, machineLoad, median, opt, relDiff } from './common.js';

const imgsz = Number(opt('imgsz', '640'));
const rounds = Number(opt('rounds', '8'));
const layers = opt('layers', '1') !== '0';
const compiled = opt('compiled', '1') !== '0';
const eager = opt('eager', '')
  .split(',')
  .filter(Boolean)
  .map((e) => e.split('x').map(Number));
const weights = opt('weights', 'test/fixtures/predict/yolov8n-pose-coco128.pt');
const shape = [1, 3, imgsz, imgsz];

const device = await E.getDevice('wasm', { threads: opt('threads', '') || undefined });
const rt = (device as E.Device & { wasm: WasmRuntimeImpl }).wasm;
console.log(`yolov8n-pose ${shape.join('x')} on ${E.describeDevice(device)}; ${machineLoad()}`);
const cpuMs = (fn: () => void) => {
  const c0 = process.cpuUsage(),
    t0 = performance.now();
  fn();
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e3, wall: performance.now() - t0 };
};
/** wall ms of fn, the minimum of 5 calls after one warm-up */
const best = (fn: () => void) => Math.min(...Array.from({ length: 6 }, () => cpuMs(fn).wall).slice(1));

/** The distinct 3x3 stride-1 conv shapes of the model traced at `shape`, with how many layers have each. */
function convShapes(model: ReturnType<typeof loadPoseModel>, shape: number[]) {
  const g = traceEval(model, shape);
  const shapes = new Map<string, { geo: ConvGeometry; count: number }>();
  for (const n of g.nodes) {
    if (n.op !== 'conv2d') continue;
    const geo = convGeometry('conv2d', g.shapeOf(n.inputs[0]!), g.shapeOf(n.inputs[1]!), n.attrs as any);
    if (!winogradApplies(geo)) continue;
    const key = `${geo.c}x${geo.h}x${geo.w} -> ${geo.o}`;
    const e = shapes.get(key);
    if (e) e.count++;
    else shapes.set(key, { geo, count: 1 });
  }
  return shapes;
}

try {
  const model = loadPoseModel(weights, { device }).eval().fuse();
  E.manualSeed(0);
  const x = E.tensor(E.rand(shape).dataSync(), shape, { device });
  const modes = ['direct', 'winograd'] as const;
  if (compiled) {
    const cpu = { direct: [] as number[], winograd: [] as number[] },
      wall = { direct: [] as number[], winograd: [] as number[] };
    const outs: Record<string, Float32Array> = {};
    for (let r = -1; r < rounds; r++)
      for (const m of modes) {
        process.env.YOLO_WINOGRAD = m === 'winograd' ? '1' : '0';
        model.compile(false);
        model.compile();
        model.predict(x).dispose(); // plan, pack, record
        let y: E.Tensor | undefined;
        const t = cpuMs(() => (y = model.predict(x)));
        outs[m] = y!.dataSync() as Float32Array;
        y!.dispose();
        if (r < 0) continue;
        cpu[m].push(t.cpu);
        wall[m].push(t.wall);
      }
    model.compile(false);
    delete process.env.YOLO_WINOGRAD;
    console.log('\n| 3x3 stride-1 convs | rounds | CPU ms median | CPU ms min | wall ms median | wall ms min |');
    console.log('|---|---|---|---|---|---|');
    for (const m of modes)
      console.log(
        `| ${m} | ${rounds} | ${f1(median(cpu[m]))} | ${f1(Math.min(...cpu[m]))} | ${f1(median(wall[m]))} | ${f1(Math.min(...wall[m]))} |`,
      );
    console.log(
      `winograd / direct CPU time (medians): ${(median(cpu.winograd) / median(cpu.direct)).toFixed(2)}; outputs differ by ${relDiff(outs.winograd, outs.direct).toExponential(1)} of their largest value`,
    );
  }

  if (layers) {
    const shapes = convShapes(model, shape);
    console.log(`\nper layer shape, ${rt.threads} threads: effective GFLOP/s = 2 O C 9 OH OW / time (minimum of 5)`);
    console.log(
      '| C x H x W -> O | layers | compiled takes | direct ms | winograd ms (3 launches) | fused ms | F(4x4) fused ms | direct GFLOP/s | winograd GFLOP/s eff. | fused GFLOP/s eff. | F(4x4) GFLOP/s eff. | direct / fused | fused / F(4x4) | F(4x4) vs fused outputs |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    let sumD = 0,
      sumW = 0,
      sumF = 0,
      sum4 = 0,
      sumT = 0,
      warm4 = false;
    for (const [key, { geo, count }] of shapes) {
      const xs = E.rand([1, geo.c, geo.h, geo.w], { device });
      const ws = E.rand([geo.o, geo.c, 3, 3], { device });
      const bs = E.rand([geo.o], { device });
      const ys = E.zeros([1, geo.o, geo.oh, geo.ow], { device });
      const wp = packConvWeights(rt, ws.storage.ptr, geo),
        up = packWinogradWeights(rt, ws.storage.ptr, geo),
        up4 = packWinogradWeightsF4(rt, ws.storage.ptr, geo);
      const { vBytes, mBytes } = winogradShape(geo);
      const v = rt.alloc(vBytes),
        m = rt.alloc(mBytes);
      const pl = (c: number, h: number, w: number) => ({ sb: c * h * w, sc: h * w, off: 0 });
      // the launches' common arguments: x, its plane layout, bias, y, its plane layout
      const [x, xl, b, y, yl] = [
        xs.storage.ptr,
        pl(geo.c, geo.h, geo.w),
        bs.storage.ptr,
        ys.storage.ptr,
        pl(geo.o, geo.oh, geo.ow),
      ];
      const d = best(() => conv2dForward(rt, x, 0, b, y, geo, 'silu', { packedWeights: wp }));
      const w = best(() => winogradConv2d(rt, x, xl, up, b, y, yl, geo, 'silu', v, m));
      // the compiled forward's one-launch form (wino_fused)
      const fz = best(() => winogradConv2dFused(rt, x, xl, up, b, y, yl, geo, 'silu'));
      const y2 = ys.dataSync().slice();
      // the F(4x4) fused launch (wino_fused4) with U cached, as the compiled forward runs it
      const runF4 = () => winogradConv2dF4(rt, x, xl, up4, b, y, yl, geo, 'silu');
      // V8 runs a wasm function as baseline code until it tiers it up (in the background, after
      // enough calls); wino_fused4 is big, so its first shape measured slow without a warm-up
      if (!warm4) for (let i = 0; i < 30; i++) runF4();
      warm4 = true;
      const f4 = best(runF4);
      const diff = relDiff(ys.dataSync() as Float32Array, y2 as Float32Array);
      const flops = 2 * geo.o * geo.c * 9 * geo.oh * geo.ow;
      const taken = !winogradEligible(geo) ? 'direct' : winogradF4Eligible(geo) ? 'F(4x4)' : 'F(2x2) fused';
      sumD += d * count;
      sumW += w * count;
      sumF += fz * count;
      sum4 += f4 * count;
      sumT += (taken === 'direct' ? d : taken === 'F(4x4)' ? f4 : fz) * count;
      console.log(
        `| ${key} | ${count} | ${taken} | ${d.toFixed(2)} | ${w.toFixed(2)} | ${fz.toFixed(2)} | ${f4.toFixed(2)} | ${(flops / d / 1e6).toFixed(1)} | ${(flops / w / 1e6).toFixed(1)} | ${(flops / fz / 1e6).toFixed(1)} | ${(flops / f4 / 1e6).toFixed(1)} | ${(d / fz).toFixed(2)} | ${(fz / f4).toFixed(2)} | ${diff.toExponential(1)} |`,
      );
      [wp, up, up4, v, m].forEach((p) => rt.free(p));
      [xs, ws, bs, ys].forEach((t) => t.dispose());
    }
    console.log(
      `| all ${[...shapes.values()].reduce((s, e) => s + e.count, 0)} layers (taken: ${sumT.toFixed(1)} ms) | | | ${sumD.toFixed(1)} | ${sumW.toFixed(1)} | ${sumF.toFixed(1)} | ${sum4.toFixed(1)} | | | | | ${(sumD / sumF).toFixed(2)} | ${(sumF / sum4).toFixed(2)} | |`,
    );
  }
  for (const [N, size] of eager) {
    const shapes = convShapes(model, [N, 3, size, size]);
    console.log(
      `\neager ops at ${N}x${size} (a training step's convs), ${rt.threads} threads: ms per call (minimum of 5); fwd includes packing w or computing U`,
    );
    console.log(
      '| C x H x W -> O | layers | fwd direct | fwd F(2x2) | fwd F(4x4) | fwd taken | grad-input direct | grad-input F(2x2) | grad-input F(4x4) | grad-input taken | grad-weight direct | grad-weight F(2x2) | grad-weight F(4x4) | grad-weight taken |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    const sum = { fd: 0, fw: 0, f4: 0, ft: 0, gd: 0, gw: 0, g4: 0, gt: 0, wd: 0, ww: 0, w4: 0, wt: 0 };
    for (const [key, { geo, count }] of shapes) {
      const xs = E.rand([N, geo.c, geo.h, geo.w], { device });
      const ws = E.rand([geo.o, geo.c, 3, 3], { device });
      const bs = E.rand([geo.o], { device });
      const ys = E.zeros([N, geo.o, geo.oh, geo.ow], { device });
      const gws = E.zeros([geo.o, geo.c, 3, 3], { device });
      const [xp, wp, bp, yp, gwp] = [xs, ws, bs, ys, gws].map((e) => e.storage.ptr);
      const fd = best(() => conv2dForward(rt, xp, wp, bp, yp, geo, null));
      const fw = best(() => winogradForward(rt, xp, wp, bp, yp, geo, null));
      const f4 = best(() => winogradF4Forward(rt, xp, wp, bp, yp, geo, null));
      const gd = best(() => conv2dGradInput(rt, yp, wp, xp, geo));
      const gw = best(() => winogradGradInput(rt, yp, wp, xp, geo));
      const g4 = best(() => winogradF4GradInput(rt, yp, wp, xp, geo));
      const wd = best(() => conv2dGradWeight(rt, xp, yp, gwp, geo));
      const ww = best(() => winogradGradWeight(rt, xp, yp, gwp, geo));
      const w4 = best(() => winogradGradWeightF4(rt, xp, yp, gwp, geo));
      const wTake = winogradGradWeightF4Eligible(geo)
        ? 'F(4x4)'
        : winogradGradWeightEligible(geo)
          ? 'F(2x2)'
          : 'direct';
      sum.wd += count * wd;
      sum.ww += count * ww;
      sum.w4 += count * w4;
      sum.wt += count * (wTake === 'F(4x4)' ? w4 : wTake === 'F(2x2)' ? ww : wd);
      // what ops_conv.ts takes: F(4x4) where winogradF4Eligible, else F(2x2) where winogradEligible, else direct
      const taken = (g: ConvGeometry, [d, w2, w4]: number[]) =>
        winogradF4Eligible(g)
          ? { ms: w4, what: 'F(4x4)' }
          : winogradEligible(g)
            ? { ms: w2, what: 'F(2x2)' }
            : { ms: d, what: 'direct' };
      const fTake = taken(geo, [fd, fw, f4]),
        gTake = taken(winogradGradInputGeometry(geo), [gd, gw, g4]);
      sum.fd += count * fd;
      sum.fw += count * fw;
      sum.f4 += count * f4;
      sum.ft += count * fTake.ms;
      sum.gd += count * gd;
      sum.gw += count * gw;
      sum.g4 += count * g4;
      sum.gt += count * gTake.ms;
      const mark = (ms: number, ...others: number[]) => `${ms.toFixed(2)}${others.every((o) => ms <= o) ? ' *' : ''}`;
      console.log(
        `| ${key} | ${count} | ${mark(fd, fw, f4)} | ${mark(fw, fd, f4)} | ${mark(f4, fd, fw)} | ${fTake.what} | ${mark(gd, gw, g4)} | ${mark(gw, gd, g4)} | ${mark(g4, gd, gw)} | ${gTake.what} | ${mark(wd, ww, w4)} | ${mark(ww, wd, w4)} | ${mark(w4, wd, ww)} | ${wTake} |`,
      );
      [xs, ws, bs, ys, gws].forEach((e) => e.dispose());
    }
    console.log(
      `| all, ms per step (taken: ${sum.ft.toFixed(1)} fwd, ${sum.gt.toFixed(1)} grad-input, ${sum.wt.toFixed(1)} grad-weight) | | ${sum.fd.toFixed(1)} | ${sum.fw.toFixed(1)} | ${sum.f4.toFixed(1)} | | ${sum.gd.toFixed(1)} | ${sum.gw.toFixed(1)} | ${sum.g4.toFixed(1)} | | ${sum.wd.toFixed(1)} | ${sum.ww.toFixed(1)} | ${sum.w4.toFixed(1)} | |`,
    );
  }
} finally {
  console.log(machineLoad());
  E.releaseDevices();
}
