import t from 'tap';
import { buildPoseModel, type PoseModel } from '../../models/index.js';
import { Module } from '../../nn/module.js';
import { BatchNorm2d, Conv2d } from '../../nn/layers.js';
import { cpu, matmul, noGrad, rand, relu, sum, tensor, type Tensor } from '../../engine/index.js';
import { Sym, traceModule } from '../../engine/graph/index.js';
import { replay } from '../../engine/graph/replay.js';

const MODELS = [
  'yolov8n-pose.yaml',
  'yolov8s-pose.yaml',
  'yolov8m-pose.yaml',
  'yolov8l-pose.yaml',
  'yolov8x-pose.yaml',
  'yolov8x-pose-p6.yaml',
];
const count = (g: ReturnType<typeof traceModule>, op: string) => g.nodes.filter((n) => n.op === op).length;
const anchors = (m: PoseModel, h: number, w: number) => m.stride.reduce((a, s) => a + (h / s) * (w / s), 0);

function maxDiff(a: Tensor, b: Tensor) {
  const x = a.dataSync(),
    y = b.dataSync();
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  return d;
}

t.test('every model traces: one conv2d per Conv2d that runs, BN per BatchNorm2d, the output shape', async (t) => {
  for (const name of MODELS) {
    const m = buildPoseModel(name, { seed: 0 }).eval();
    const s = Math.max(...m.stride);
    const mods = m.modules();
    const convs = mods.filter((x) => x instanceof Conv2d).length - 1; // the DFL conv never runs: the dfl op does its work
    const bns = mods.filter((x) => x instanceof BatchNorm2d).length;
    for (const fused of [false, true]) {
      if (fused) m.fuse();
      const g = traceModule(m, [[2, 3, 2 * s, 3 * s]]);
      const A = anchors(m, 2 * s, 3 * s);
      t.equal(count(g, 'conv2d'), convs, `${name} fused=${fused}: conv2d nodes`);
      t.equal(count(g, 'batch_norm2d'), fused ? 0 : bns, 'batch_norm2d nodes');
      t.equal(count(g, 'dfl'), 1);
      const outs = g.outputIds();
      t.same(g.shapeOf(outs[0]), [2, 4 + 1 + 51, A], 'predictions (B, 56, A)');
      t.equal(outs.length, 1 + m.stride.length + 1, 'eval outputs: pred, per-level maps, raw keypoints');
      // every parameter and buffer the forward reads is a named constant with its state-dict name
      const used = new Set(g.values.filter((v) => v.kind === 'parameter' || v.kind === 'buffer').map((v) => v.name));
      const want = [...m.namedParameters(), ...m.namedBuffers()]
        .map(([n]) => n)
        .filter(
          (n) => !n.endsWith('num_batches_tracked') && n !== 'model.22.dfl.conv.weight' && !n.includes(`.dfl.conv.`),
        );
      t.same(
        want.filter((n) => !used.has(n)),
        [],
        'no parameter missing from the graph',
      );
      if (fused)
        t.ok(
          g.nodes.filter((n) => n.op === 'conv2d' && n.attrs.act === 'silu').length > 0,
          'fused convs carry act=silu',
        );
      if (name === 'yolov8n-pose.yaml') t.equal(g.nodes.length, fused ? 149 : 275, 'yolov8n-pose node count');
    }
  }
});

t.test('replaying the trace gives exactly the eager forward (eval, fused, train)', async (t) => {
  const m = buildPoseModel('yolov8n-pose.yaml', { seed: 1 }).eval();
  const x = rand([2, 3, 64, 96], { device: cpu });
  const g = traceModule(m, [[2, 3, 64, 96]]);
  t.equal(g.nodes.find((n) => n.op === 'conv2d')!.module, 'model.0.conv', 'module path of the first conv');
  t.equal(g.nodes.find((n) => n.op === 'silu')!.module, 'model.0.act', 'the shared SiLU is named by its caller');
  t.equal(g.nodes.find((n) => n.op === 'dfl')!.module, 'model.22.dfl');
  const [pe] = noGrad(() => m.forward(x)) as any;
  const [pr] = noGrad(() => replay(g, [x], cpu));
  t.equal(maxDiff(pe, pr), 0, 'eval, unfused');
  m.train();
  const gt = traceModule(m, [[2, 3, 64, 96]]);
  t.ok(
    gt.nodes.filter((n) => n.op === 'batch_norm2d').every((n) => n.attrs.training === true),
    'train-mode BN',
  );
  t.equal(gt.outputIds().length, 4, 'train outputs: 3 maps + raw keypoints');
  const [fe, ke] = noGrad(() => m.forward(x)) as any;
  const [fr, kr] = noGrad(() => replay(gt, [x], cpu));
  t.equal(maxDiff(ke, kr), 0, 'train: keypoints');
  t.equal(maxDiff(fe[2], fr[2]), 0, 'train: level-3 map');
  m.eval().fuse();
  const gf = traceModule(m, [[1, 3, 64, 64]]);
  const x1 = rand([1, 3, 64, 64], { device: cpu });
  t.equal(maxDiff((noGrad(() => m.forward(x1)) as any)[0], noGrad(() => replay(gf, [x1], cpu))[0]), 0, 'fused');
  t.notOk(Object.prototype.hasOwnProperty.call(m.child('model')!, 'forward'), 'forwards restored');
  t.equal(m.parameters()[0].device, cpu, 'parameters restored');
});

t.test('symbolic B, H, W: one trace, every shape a polynomial that evaluates to the fixed-size trace', async (t) => {
  const m = buildPoseModel('yolov8n-pose.yaml', { seed: 0 }).eval();
  const g = traceModule(m, [{ shape: ['B', 3, 'H', 'W'] }]);
  const out = g.values[g.outputIds()[0]];
  t.same(out.shape.map(String), ['B', '56', 'H*W*21/1024']);
  t.ok(out.shape[0] instanceof Sym);
  const fixed = traceModule(m, [[3, 3, 128, 192]]);
  t.equal(g.nodes.length, fixed.nodes.length);
  const env = { B: 3, H: 128, W: 192 };
  const bad = fixed.values.filter((v) => JSON.stringify(g.shapeOf(v.id, env)) !== JSON.stringify(v.shape));
  t.same(
    bad.map((v) => v.id),
    [],
    'all shapes agree at B=3, H=128, W=192',
  );
  const reshape = g.nodes.find((n) => n.op === 'reshape' && n.module === 'model.22')!;
  t.equal(String((reshape.attrs.shape as unknown[])[0]), 'B', 'reshape targets follow the batch');
});

t.test('a non-default kpt_shape and nc', async (t) => {
  const m = buildPoseModel('yolov8s-pose.yaml', { nc: 3, kptShape: [5, 2], seed: 0 }).eval();
  const g = traceModule(m, [[1, 3, 64, 96]]);
  t.same(g.shapeOf(g.outputIds()[0]), [1, 4 + 3 + 10, 8 * 12 + 4 * 6 + 2 * 3]);
  t.equal(
    g.nodes.filter((n) => n.module === 'model.22' && n.op === 'sigmoid').length,
    1,
    'no visibility sigmoid for 2-D keypoints',
  );
});

class Mlp extends Module {
  constructor() {
    super();
    this.registerParameter('w1', rand([4, 8], { device: cpu }));
    this.registerModule('inner', new Scale());
  }
  override forward(x: Tensor): Tensor {
    return sum(this.child('inner')!.forward(relu(matmul(x, this.tensor('w1')))), 1);
  }
}
class Scale extends Module {
  constructor() {
    super();
    this.registerBuffer('s', tensor([2], [1], { device: cpu }));
  }
  override forward(x: Tensor): Tensor {
    return x.mul(this.tensor('s')).add(1);
  }
}

t.test('a user Module traces with no extra code', async (t) => {
  const m = new Mlp();
  const g = traceModule(m, [['B', 4]], { sizes: { B: 3 } });
  t.same(
    g.nodes.map((n) => `${n.op}@${n.module}`),
    ['matmul@', 'relu@', 'mul@inner', 'add_scalar@inner', 'reduce@', 'reshape@'],
  );
  t.same(
    g.values.filter((v) => v.kind !== 'node' && v.kind !== 'input').map((v) => `${v.kind}:${v.name}`),
    ['parameter:w1', 'buffer:inner.s'],
  );
  t.same(g.values[g.outputIds()[0]].shape.map(String), ['B']);
  const x = rand([3, 4], { device: cpu });
  t.equal(maxDiff(m.forward(x), replay(g, [x], cpu)), 0);
  t.match(g.toString(), /%\d+ = matmul\(%0, w1\) -> f32\[B,8\]/);
});

class Peeks extends Module {
  constructor(readonly how: 'dataSync' | 'data' | 'item') {
    super();
    this.registerModule('c', new Conv2d(3, 4, 3));
  }
  override forward(x: Tensor): Tensor {
    const y = this.child('c')!.forward(x);
    if (this.how === 'dataSync' && y.dataSync()[0] > 0) return y.relu();
    if (this.how === 'data') void y.data();
    if (this.how === 'item') void sum(y).item();
    return y;
  }
}

t.test('reading values on the host while tracing names the op and the module', async (t) => {
  const outer = new (class extends Module {
    constructor() {
      super();
      this.registerModule('head', new Peeks('dataSync'));
    }
    override forward(x: Tensor) {
      return this.child('head')!.forward(x);
    }
  })();
  t.throws(
    () => traceModule(outer, [[1, 3, 8, 8]]),
    /dataSync\(\) reads the values of the output of conv2d \(at 'head\.c'\) on the host, in the forward of 'head' \(Peeks\)/,
  );
  t.throws(
    () => traceModule(new Peeks('data'), [[1, 3, 8, 8]]),
    /data\(\) reads the values of the output of conv2d \(at 'c'\)/,
  );
  t.throws(
    () => traceModule(new Peeks('item'), [[1, 3, 8, 8]]),
    /data\(\) reads the values of the output of reshape \(at ''\) on the host, in the forward of '' \(Peeks\)/,
  );
  const p = outer.child('head') as Peeks;
  t.equal((p.child('c') as Conv2d).weight.device, cpu, 'parameters are back after a failed trace');
});
