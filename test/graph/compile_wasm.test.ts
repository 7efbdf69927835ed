// The compiled forward on the wasm device (engine/graph/executor_wasm.ts, kernels/chain.ts) against
// the eager forward on wasm and the cpu reference: elementwise chains over strided, broadcast and
// permuted operands written into concat slices, the real yolov8n-pose checkpoint, the buffer plan's
// blocks in the shared memory, and threads 1 vs 2.
import t from 'tap';
import { loadPoseModel } from '../../models/index.js';
import {
  add,
  clamp,
  concat,
  cpu,
  exp,
  getDevice,
  manualSeed,
  mul,
  neg,
  permute,
  rand,
  releaseDevices,
  sigmoid,
  silu,
  sub,
  tensor,
  type Device,
  type Tensor,
} from '../../engine/index.js';
import { Module } from '../../nn/module.js';
import { Conv2d } from '../../nn/layers.js';
import { CompiledForward } from '../../engine/graph/index.js';
import type { WasmRuntimeImpl } from '../../engine/backends/wasm/runtime.js';
import { relDiff } from '../helpers.js';

t.teardown(releaseDevices);
const WEIGHTS = 'test/fixtures/predict/yolov8n-pose-coco128.pt';

const wasmOf = (d: Device) => (d as Device & { wasm: WasmRuntimeImpl }).wasm;

// chains over channel slices of one conv output, a per-channel constant, a transposed view; the
// first two land in a concat's slices (planes of 5 x 7 = 35: a tail after the 8 whole vectors)
class Chains extends Module {
  constructor(device: Device) {
    super();
    this.registerModule('c', new Conv2d(6, 8, 3, { padding: 1, device }));
  }
  override forward(x: Tensor): Tensor[] {
    const c = (this.child('c') as Conv2d).forward(x);
    const a = c.narrow(1, 0, 4),
      b = c.narrow(1, 4, 4);
    const y1 = clamp(sigmoid(mul(add(a, b), 2)), 0.1, 0.9); // add > mul_scalar > sigmoid > clamp
    const s = tensor([0.5, -1, 2, 0.25], [1, 4, 1, 1], { device: x.device });
    const y2 = silu(sub(mul(b, s), a)); // a per-channel broadcast operand
    const y3 = exp(neg(mul(permute(c, [0, 1, 3, 2]), 0.3))); // inner stride 7: gathered
    return [concat([y1, y2], 1), y3];
  }
}

t.test(
  'elementwise chains as one kernel: strided, broadcast and transposed operands, into concat slices',
  async (t) => {
    const wasm = await getDevice('wasm', { threads: 2 });
    manualSeed(3);
    const host = rand([2, 6, 5, 7]).dataSync();
    const outs: Float32Array[][] = [];
    for (const device of [cpu, wasm]) {
      manualSeed(4);
      const m = new Chains(device).eval();
      const x = tensor(host, [2, 6, 5, 7], { device });
      const eager = m.forward(x).map((y) => y.dataSync() as Float32Array);
      if (device === cpu) {
        outs.push(eager);
        continue;
      }
      const cf = new CompiledForward(m, device);
      const ex = cf.executor(x.shape);
      t.equal(ex.plan.stats.fusedChains, 3, 'three chains of two or more rows');
      t.same(ex.genericUnits, [], 'every unit runs a wasm kernel (no eager op, no host loop)');
      t.equal(ex.plan.stats.concatCopies, 0, 'both chains write their concat slice in place');
      const got = (cf.run(x) as Tensor[]).map((y) => y.dataSync() as Float32Array);
      got.forEach((g, i) => {
        t.ok(
          relDiff(g, eager[i]) <= 1e-6,
          `output ${i}: compiled vs eager wasm ${relDiff(g, eager[i]).toExponential(2)}`,
        );
        t.ok(
          relDiff(g, outs[0][i]) <= 1e-6,
          `output ${i}: compiled wasm vs cpu ${relDiff(g, outs[0][i]).toExponential(2)}`,
        );
      });
      cf.dispose();
    }
  },
);

// concat([a, conv(a)]): the second conv reads one slice of the buffer it writes another slice of
// (webgpu gives it its own buffer and a copy; wasm has no such rule and keeps both in place)
class ReadsOwnConcat extends Module {
  constructor(device: Device) {
    super();
    this.registerModule('c1', new Conv2d(3, 4, 3, { padding: 1, device }));
    this.registerModule('c2', new Conv2d(4, 4, 1, { device }));
  }
  override forward(x: Tensor): Tensor {
    const a = (this.child('c1') as Conv2d).forward(x, 'silu');
    return concat([a, (this.child('c2') as Conv2d).forward(a)], 1);
  }
}

t.test('a conv reading a slice of the concat it writes: in place on wasm', async (t) => {
  const wasm = await getDevice('wasm', { threads: 2 });
  manualSeed(1);
  const m = new ReadsOwnConcat(wasm).eval();
  const x = tensor(rand([2, 3, 8, 12]).dataSync(), [2, 3, 8, 12], { device: wasm });
  const ref = m.forward(x).dataSync();
  const cf = new CompiledForward(m, wasm);
  const ex = cf.executor(x.shape);
  t.same([ex.plan.stats.concatsEliminated, ex.plan.stats.concatCopies], [1, 0], 'the concat launches nothing');
  t.same(ex.genericUnits, [], 'both convs run the GEMM on their slices');
  const d = relDiff((cf.run(x) as Tensor).dataSync(), ref);
  t.ok(d <= 1e-6, `equals the eager forward: ${d.toExponential(2)}`);
  cf.dispose();
});

t.test('yolov8n-pose: compiled = eager on wasm and = the cpu reference; the plan in the shared memory', async (t) => {
  const wasm = await getDevice('wasm', { threads: 2 });
  const rt = wasmOf(wasm);
  const ref = loadPoseModel(WEIGHTS, { device: cpu }).eval().fuse();
  const model = loadPoseModel(WEIGHTS, { device: wasm }).eval().fuse();
  // peak bytes live in the wasm memory during a forward (the runtime's high-water mark)
  const peakOf = (fn: () => void) => {
    const base = rt.liveBytes;
    rt.peakBytes = base;
    fn();
    return rt.peakBytes - base;
  };
  try {
    for (const shape of [
      [1, 3, 96, 128],
      [2, 3, 64, 64],
    ]) {
      manualSeed(0);
      const host = rand(shape).dataSync();
      const x = tensor(host, shape, { device: wasm });
      const cpuOut = ref.predict(tensor(host, shape)).dataSync();
      model.compile(false);
      let eager = new Float32Array();
      const eagerPeak = peakOf(() => (eager = model.predict(x).dataSync() as Float32Array));
      model.compile();
      const before = rt.liveBytes;
      const ex = model.compiled!.executor(shape);
      const planBytes = rt.liveBytes - before; // slots, packed weights, parameter blocks
      const s = ex.plan.stats;
      t.ok(
        s.slotBytes < s.unsharedBytes / 2,
        `${shape}: ${s.roots} values' buffers share ${s.slots} blocks: ${s.slotBytes} of ${s.unsharedBytes} bytes`,
      );
      const packed = model.compiled!['weights'].wasmPacked.bytes;
      const scratch = ex['wasmBlocks']!.sharedBytes; // Winograd's V and M, shared by its convs
      t.ok(
        planBytes >= s.slotBytes && planBytes - packed - scratch < 1.2 * s.slotBytes + 65536,
        `${shape}: the plan's blocks in the wasm memory: ${planBytes} bytes (slots ${s.slotBytes}, packed weights ~${packed}, Winograd scratch ${scratch})`,
      );
      t.same(ex.genericUnits, ['dfl'], 'every unit but dfl (its eager op + a copy) runs a wasm kernel');
      for (const run of [1, 2]) {
        let got = new Float32Array();
        const compiledPeak = peakOf(() => {
          const y = model.predict(x);
          got = y.dataSync() as Float32Array;
          y.dispose();
        });
        t.ok(
          relDiff(got, eager) <= 1e-5,
          `${shape} run ${run}: compiled vs eager wasm ${relDiff(got, eager).toExponential(2)}`,
        );
        t.ok(
          relDiff(got, cpuOut) <= 1e-5,
          `${shape} run ${run}: compiled wasm vs cpu ${relDiff(got, cpuOut).toExponential(2)}`,
        );
        if (run === 2)
          t.ok(
            compiledPeak < eagerPeak / 4,
            `${shape}: a compiled forward allocates ${compiledPeak} bytes at peak beside its plan; eager ${eagerPeak}`,
          );
      }
      x.dispose();
    }
  } finally {
    model.compile(false);
  }
});

t.test('threads 1 and 2 give identical compiled outputs', async (t) => {
  const shape = [2, 3, 64, 96];
  manualSeed(5);
  const host = rand(shape).dataSync();
  const outs: Float32Array[] = [];
  for (const threads of [1, 2]) {
    const device = await getDevice('wasm', { threads });
    t.equal(wasmOf(device).threads, threads);
    const model = loadPoseModel(WEIGHTS, { device }).eval().fuse().compile();
    outs.push(model.predict(tensor(host, shape, { device })).dataSync() as Float32Array);
    model.compile(false);
  }
  let same = outs[0].length === outs[1].length;
  for (let i = 0; same && i < outs[0].length; i++) same = Object.is(outs[0][i], outs[1][i]);
  t.ok(same, `bit-identical over ${outs[0].length} values`);
});
