import t from 'tap';
import { buildPoseModel } from '../../models/index.js';
import { cpu, noGrad, rand, type Tensor } from '../../engine/index.js';
import { traceModule, type Graph } from '../../engine/graph/index.js';
import { replay } from '../../engine/graph/replay.js';
import {
  eliminateDeadCode,
  foldBatchNorm,
  foldConstants,
  fuseElementwise,
  inferShapes,
  toNHWC,
} from '../../engine/graph/passes/index.js';
import { makeAnchors } from '../../nn/anchors.js';
import { relDiff } from '../helpers.js';

const m = buildPoseModel('yolov8n-pose.yaml', { seed: 2 }).eval();
const SHAPE = [2, 3, 64, 96];
const x = rand(SHAPE, { device: cpu });
const eager = (noGrad(() => m.forward(x)) as any)[0] as Tensor;
const trace = () => traceModule(m, [SHAPE]);
const read = (g: Graph) => (id: number) => (g.values[id].data ?? g.values[id].tensor!.dataSync()) as Float32Array;
const ops = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op);

const relDiffT = (a: Tensor, b: Tensor) => relDiff(a.dataSync(), b.dataSync());
const run = (g: Graph) => noGrad(() => replay(g, [x], cpu))[0] as Tensor;

t.test('BN folding: every conv -> batch_norm2d pair becomes one conv; outputs agree', async (t) => {
  const g = trace();
  const bns = ops(g, 'batch_norm2d').length;
  const before = g.nodes.length;
  t.equal(foldBatchNorm(g, read(g)), bns);
  t.equal(ops(g, 'batch_norm2d').length, 0);
  t.equal(g.nodes.length, before - bns);
  const conv0 = ops(g, 'conv2d')[0];
  t.equal(g.values[conv0.inputs[1]!].name, 'model.0.conv.weight');
  t.equal(g.values[conv0.inputs[2]!].name, 'model.0.conv.bias', 'a folded bias');
  t.ok(relDiffT(run(g), eager) < 1e-5, 'replay of the folded graph equals the eager forward');
  inferShapes(g); // shapes still consistent
});

t.test('dead-code elimination keeps what the chosen outputs need', async (t) => {
  const g = trace();
  t.equal(eliminateDeadCode(g), 0, 'nothing is dead in the full eval graph');
  const raw = g.outputs as any;
  g.outputs = raw[1][1]; // raw keypoints only
  const removed = eliminateDeadCode(g);
  t.ok(removed > 50, `${removed} nodes removed`);
  t.same(
    g.nodes.filter((n) => /^model\.22\.cv[23]/.test(n.module) || n.op === 'dfl' || n.op === 'anchors'),
    [],
    'box and class branches, DFL and anchors are gone',
  );
  t.ok(
    g.nodes.some((n) => n.module.startsWith('model.22.cv4')),
    'the keypoint branch stays',
  );
  const kpt = noGrad(() => replay(g, [x], cpu)) as Tensor;
  t.equal(relDiffT(kpt, (noGrad(() => m.forward(x)) as any)[1][1]), 0);
});

t.test('constant folding turns anchors into named constants at a fixed size, not at a symbolic one', async (t) => {
  const g = trace();
  t.equal(foldConstants(g), 2, 'anchors, and grid = points - 0.5 that then reads only constants');
  t.equal(ops(g, 'anchors').length, 0);
  t.equal(ops(g, 'add_scalar').length, 0);
  const pts = g.values.find((v) => v.name === 'model.22.anchors')!,
    st = g.values.find((v) => v.name === 'model.22.strides')!;
  t.same(pts.shape, [2, 8 * 12 + 4 * 6 + 2 * 3]);
  const ref = makeAnchors(
    [
      [8, 12],
      [4, 6],
      [2, 3],
    ],
    [8, 16, 32],
  );
  t.equal(pts.data![1], ref.points[2], 'x of anchor 1');
  t.equal(pts.data![126], ref.points[1], 'y of anchor 0');
  t.same([...st.data!].slice(-6), [32, 32, 32, 32, 32, 32]);
  t.equal(relDiffT(run(g), eager), 0, 'same outputs');
  const s = traceModule(m, [{ shape: ['B', 3, 'H', 'W'] }]);
  t.equal(foldConstants(s), 0, 'symbolic sizes: anchors stay a node');
});

t.test('elementwise chains: marked, single-reader links, same shape', async (t) => {
  const g = trace();
  const chains = fuseElementwise(g);
  t.ok(chains.length > 0);
  const users = g.users();
  for (const c of chains) {
    for (const k of c.nodes.slice(0, -1)) t.equal(users[g.nodes[k].outputs[0]].length, 1);
    t.ok(c.nodes.every((k) => g.nodes[k].fusion === chains.indexOf(c)));
  }
  const kpt = chains.find((c) => c.nodes.map((k) => g.nodes[k].op).join() === 'mul_scalar,add,mul');
  t.ok(kpt, 'the keypoint decode raw * 2 + grid, * stride is one chain');
  t.equal(kpt!.inputs.length, 3, 'reads the raw slice, the grid and the strides');
  t.equal(relDiffT(run(g), eager), 0, 'marking changes nothing');
});

t.test('shape inference re-derives every shape, at any size of a symbolic graph', async (t) => {
  const s = traceModule(m, [{ shape: ['B', 3, 'H', 'W'] }]);
  const fixed = traceModule(m, [[3, 3, 128, 192]]);
  const shapes = inferShapes(s, { B: 3, H: 128, W: 192 });
  t.same(
    shapes.filter((_, i) => s.values[i].kind === 'node'),
    fixed.values.filter((v) => v.kind === 'node').map((v) => v.shape),
  );
  const g = trace();
  g.values[g.nodes[5].outputs[0]].shape[1] = 999;
  t.throws(() => inferShapes(g), /inferShapes: .* gives \[2,\d+,\d+,\d+\] for %\d+, the graph says \[2,999/);
});

t.test('NCHW -> NHWC: spatial ops in NHWC, permutes only at the edges, same outputs', async (t) => {
  const g = trace();
  const n = toNHWC(g);
  const conv0 = ops(g, 'conv2d')[0];
  t.equal(conv0.attrs.layout, 'NHWC');
  t.same(g.shapeOf(conv0.outputs[0]), [2, 32, 48, 16], 'NHWC activations');
  const perms = ops(g, 'permute');
  t.equal(perms.length, n);
  t.ok(n <= 12, `${n} permutes: the input, the head's reshapes and the raw map outputs`);
  t.same(
    perms.filter((p) => !p.module.startsWith('model.22')).map((p) => p.module),
    ['model.0.conv'],
    'one before the first conv, none in the backbone and neck',
  );
  const concat = g.nodes.find((k) => k.op === 'concat' && k.module === 'model.11')!;
  t.equal(concat.attrs.axis, 3, 'channel concat on axis 3');
  t.equal(relDiffT(run(g), eager), 0, 'replayed (NHWC ops between permutes): same outputs');
  inferShapes(g);
});
