// The compiled forward (engine/graph/compile.ts) against the eager forward, on cpu and webgpu, and
// its plan: concats written in place, chains fused, buffers shared without two live values meeting.
import t from 'tap';
import { loadPoseModel } from '../../models/index.js';
import { concat, cpu, manualSeed, rand, tensor, type Device, type Tensor } from '../../engine/index.js';
import { Module } from '../../nn/module.js';
import { Conv2d } from '../../nn/layers.js';
import { CompiledForward, fuseElementwise, planGraph, type Plan } from '../../engine/graph/index.js';
import { layoutSpan, reshapeLayout, type Layout } from '../../engine/graph/layout.js';
import { testDevices, relDiff } from '../helpers.js';

const WEIGHTS = 'test/fixtures/predict/yolov8n-pose-coco128.pt';
const SHAPES = [
  [1, 3, 64, 64],
  [1, 3, 96, 128],
  [2, 3, 64, 64],
];

t.test('compiled predict equals the eager forward (n-pose, two sizes and batch 2)', async (t) => {
  for (const device of await testDevices(t)) {
    const model = loadPoseModel(WEIGHTS, { device }).eval().fuse();
    manualSeed(0);
    const xs = SHAPES.map((s) => tensor(rand(s).dataSync(), s, { device }));
    const refs: Float32Array[] = [];
    for (const x of xs) refs.push((await model.predict(x).data()) as Float32Array);
    model.compile();
    // each shape twice, interleaved: plans are cached per shape and replayed
    for (const round of [0, 1])
      for (const [i, x] of xs.entries()) {
        const y = model.predict(x);
        t.same(
          y.shape,
          [x.shape[0], 56, (x.shape[2] * x.shape[3] * 21) / 1024],
          `${device.type} ${x.shape}: output shape`,
        );
        const d = relDiff(await y.data(), refs[i]);
        t.ok(
          d <= 1e-6,
          `${device.type} ${x.shape} run ${round + 1}: max |compiled - eager| / max |eager| = ${d.toExponential(2)} <= 1e-6`,
        );
        y.dispose();
      }
    model.compile(false);
    xs.forEach((x) => x.dispose());
  }
});

/** Element offsets a layout covers. */
function elements(l: Layout): number[] {
  const out: number[] = [];
  const walk = (axis: number, base: number) => {
    if (axis === l.shape.length) return void out.push(base);
    for (let i = 0; i < l.shape[axis]; i++) walk(axis + 1, base + i * l.strides[axis]);
  };
  walk(0, l.offset);
  return out;
}

/** What each unit writes and reads, as (root, layout). */
function access(p: Plan) {
  const g = p.graph;
  const at = (v: number | null) => (v === null || !p.loc[v] ? [] : [p.loc[v]!]);
  return p.units.map((u) => {
    if (u.kind === 'chain') return { writes: at(u.out), reads: u.inputs.flatMap(at) };
    if (u.kind === 'copy') return { writes: [{ root: u.root, layout: u.layout }], reads: at(u.from) };
    const n = g.nodes[u.node];
    return { writes: n.outputs.flatMap(at), reads: n.inputs.flatMap(at) };
  });
}

t.test('the plan: concats in place, chains fused, no two live values share memory', async (t) => {
  const model = loadPoseModel(WEIGHTS, { device: cpu }).eval().fuse();
  const cf = new CompiledForward(model, cpu, { select: (o) => (o as number[])[0] });
  for (const exclusiveWrites of [false, true]) {
    const base = cf.plan([2, 3, 64, 64]);
    const p = planGraph(base.graph, fuseElementwise(base.graph), { exclusiveWrites });
    const g = p.graph,
      s = p.stats,
      mode = exclusiveWrites ? 'webgpu rules' : 'cpu rules';
    t.equal(s.concats, 22, `${mode}: 22 concats in n-pose`);
    // every input's producer writes its slice: C2f's cv1 whole (its two chunks), the bottlenecks (a
    // shortcut add reads its chunk of the same buffer through its output binding on webgpu), SPPF's
    // pools, the neck's upsamples and C2f outputs, the head's convs through the reshape to (B, 65, A)
    t.equal(s.concatCopies, 0, `${mode}: concat copies = ${s.concatCopies}`);
    t.equal(s.concatsEliminated, 22, `${mode}: concats without a kernel = ${s.concatsEliminated}`);
    const chain3 = p.units.find((u) => u.kind === 'chain' && u.nodes.length === 3);
    t.ok(chain3, 'the keypoint decode (x * 2 + (anchors - 0.5)) * strides is one kernel');
    t.same(chain3 && chain3.kind === 'chain' && chain3.nodes.map((k) => g.nodes[k].op), ['mul_scalar', 'add', 'mul']);
    t.ok(
      s.fusedChains >= 2 && s.elementwiseNodes > s.chains,
      `${mode}: ${s.elementwiseNodes} elementwise nodes run as ${s.chains} kernels`,
    );
    const VIEWS = ['reshape', 'narrow', 'permute', 'expand', 'slice'];
    const views = g.nodes.filter((n) => VIEWS.includes(n.op)).length,
      convs = g.nodes.filter((n) => n.op === 'conv2d').length;
    const direct = g.nodes.filter((n) => n.op === 'max_pool2d' || n.op === 'upsample_nearest2d').length;
    const others = g.nodes.length - views - convs - direct - s.concats - s.elementwiseNodes; // dfl: its eager op + a copy
    t.equal(
      s.kernels,
      convs + direct + s.chains + s.concatCopies + 2 * others,
      `${mode}: ${s.kernels} kernels for ${g.nodes.length} nodes (views, in-place concats and fused rows launch nothing)`,
    );
    t.same([direct, others], [5, 1]);
    t.ok(
      s.slots < s.roots && s.slotBytes < s.unsharedBytes / 2,
      `${mode}: ${s.roots} buffers share ${s.slots} slots, ${s.slotBytes} of ${s.unsharedBytes} bytes`,
    );

    // roots sharing a slot are never live at once
    const bySlot = new Map<number, number[]>();
    p.roots.forEach((r, i) => r.slot >= 0 && bySlot.set(r.slot, [...(bySlot.get(r.slot) ?? []), i]));
    let overlaps = 0;
    for (const rs of bySlot.values())
      for (const a of rs)
        for (const b of rs)
          if (a < b && !(p.roots[a].end < p.roots[b].start || p.roots[b].end < p.roots[a].start)) overlaps++;
    t.equal(overlaps, 0, `${mode}: no two roots in one slot are live at once`);
    // inside a root: every element written once, before anything reads it, and within the root
    const written = p.roots.map((r) => new Int32Array(r.size).fill(-1));
    for (const v of g.inputs) elements(p.loc[v]!.layout).forEach((e) => (written[p.loc[v]!.root][e] = -2));
    let twice = 0,
      early = 0,
      outside = 0;
    access(p).forEach(({ writes, reads }, u) => {
      for (const r of reads) for (const e of elements(r.layout)) if (written[r.root][e] === -1) early++;
      for (const w of writes) {
        const [lo, hi] = layoutSpan(w.layout);
        if (lo < 0 || hi >= p.roots[w.root].size) outside++;
        for (const e of elements(w.layout)) written[w.root][e] === -1 ? (written[w.root][e] = u) : twice++;
      }
    });
    t.equal(outside, 0, `${mode}: every write lies inside its buffer`);
    t.equal(twice, 0, `${mode}: no element is written twice in a forward`);
    t.equal(early, 0, `${mode}: no element is read before it is written`);
  }
  cf.dispose();
});

// concat([a, conv(a)]): on webgpu the second conv would read a's slice of the buffer it writes
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

t.test(
  'a conv reading the concat it writes: placed in place on cpu, given its own buffer and copied on webgpu',
  async (t) => {
    for (const device of await testDevices(t)) {
      manualSeed(1);
      const m = new ReadsOwnConcat(device).eval();
      const x = tensor(rand([2, 3, 8, 12]).dataSync(), [2, 3, 8, 12], { device });
      const ref = await m.forward(x).data();
      const cf = new CompiledForward(m, device);
      const p = cf.executor(x.shape).plan;
      t.same(
        [p.stats.concatsEliminated, p.stats.concatCopies],
        device.type === 'webgpu' ? [0, 1] : [1, 0],
        `${device.type}: in place / copies`,
      );
      const y = cf.run(x) as Tensor;
      t.ok(relDiff(await y.data(), ref) <= 1e-6, `${device.type}: equals the eager forward`);
      cf.dispose();
    }
  },
);

t.test('reshapeLayout: views of strided slices without copies, null where a copy is needed', async (t) => {
  // a (1, 65, 8, 8) map placed as channels x 84 columns of a (1, 65, 84) concat
  const slice: Layout = { shape: [1, 65, 64], strides: [65 * 84, 84, 1], offset: 20 };
  t.same(reshapeLayout(slice, [1, 65, 8, 8]), { shape: [1, 65, 8, 8], strides: [65 * 84, 84, 8, 1], offset: 20 });
  t.same(reshapeLayout(slice, [65, 64]), { shape: [65, 64], strides: [84, 1], offset: 20 });
  t.equal(reshapeLayout(slice, [1, 65 * 64]), null, 'channels and columns are not contiguous together');
  const perm: Layout = { shape: [3, 4], strides: [1, 3], offset: 0 }; // a transpose
  t.equal(reshapeLayout(perm, [12]), null);
  t.same(reshapeLayout(perm, [3, 2, 2]), { shape: [3, 2, 2], strides: [1, 6, 3], offset: 0 });
});
