import t from 'tap';
import * as E from '../../engine/index.js';
import { BatchNorm2d, Conv, Conv2d, Module, Sequential, SiLU } from '../../nn/index.js';

class Tiny extends Module {
  constructor() {
    super();
    this.registerParameter('scale', E.ones([2]));
    this.registerBuffer('count', E.zeros([1]));
    this.registerModule('conv', new Conv2d(2, 3, 1));
    this.registerModule('bn', new BatchNorm2d(3));
    this.registerModule('body', new Sequential(new Conv(3, 4, 3), new Conv(4, 4, 1)));
  }
}

t.test('names come out in registration order, as torch state_dict() orders them', async (t) => {
  const m = new Tiny();
  t.same(
    [...m.stateDict().keys()],
    [
      'scale',
      'count',
      'conv.weight',
      'conv.bias',
      'bn.weight',
      'bn.bias',
      'bn.running_mean',
      'bn.running_var',
      'bn.num_batches_tracked',
      'body.0.conv.weight',
      'body.0.bn.weight',
      'body.0.bn.bias',
      'body.0.bn.running_mean',
      'body.0.bn.running_var',
      'body.0.bn.num_batches_tracked',
      'body.1.conv.weight',
      'body.1.bn.weight',
      'body.1.bn.bias',
      'body.1.bn.running_mean',
      'body.1.bn.running_var',
      'body.1.bn.num_batches_tracked',
    ],
  );
  t.same(
    m.namedParameters().map(([n]) => n),
    [
      'scale',
      'conv.weight',
      'conv.bias',
      'bn.weight',
      'bn.bias',
      'body.0.conv.weight',
      'body.0.bn.weight',
      'body.0.bn.bias',
      'body.1.conv.weight',
      'body.1.bn.weight',
      'body.1.bn.bias',
    ],
  );
  t.same(
    m
      .namedBuffers()
      .map(([n]) => n)
      .filter((n) => n.startsWith('bn.')),
    ['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked'],
  );
  t.ok(
    m.parameters().every((p) => p.requiresGrad),
    'parameters require grad',
  );
  t.notOk(
    m.namedBuffers().some(([, b]) => b.requiresGrad),
    'buffers do not',
  );
  // Every Conv shares Ultralytics' one SiLU: torch's modules() yields it once.
  const acts = m.modules().filter((x) => x instanceof SiLU);
  t.equal(acts.length, 1, 'the shared SiLU is one module');
  t.equal(m.modules().length, 11, 'modules(): Tiny, conv, bn, body, 2 x (Conv, conv, bn) and one SiLU');
});

t.test('train() and eval() reach every module', async (t) => {
  const m = new Tiny();
  t.ok(m.modules().every((x) => x.training));
  m.eval();
  t.ok(m.modules().every((x) => !x.training));
  m.train();
  t.ok(m.modules().every((x) => x.training));
});

t.test('loadStateDict copies in place and lists every mismatch in one error', async (t) => {
  const a = new Tiny(),
    b = new Tiny();
  const before = b.stateDict().get('conv.weight')!;
  b.loadStateDict(a.stateDict());
  t.equal(b.stateDict().get('conv.weight'), before, 'same tensor object (optimizers keep their references)');
  t.same(b.stateDict().get('conv.weight')!.dataSync(), a.stateDict().get('conv.weight')!.dataSync(), 'values copied');

  const sd = new Map<string, E.Tensor | { shape: number[]; data: ArrayLike<number> | BigInt64Array }>(a.stateDict());
  sd.delete('conv.bias');
  sd.delete('body.1.bn.running_var');
  sd.set('head.weight', E.zeros([1]));
  sd.set('bn.weight', E.zeros([4]));
  sd.set('bn.num_batches_tracked', { shape: [], data: BigInt64Array.of(7n) });
  let msg = '';
  try {
    b.loadStateDict(sd);
  } catch (e) {
    msg = (e as Error).message;
  }
  t.match(msg, /missing keys \(2\): conv\.bias, body\.1\.bn\.running_var/);
  t.match(msg, /unexpected keys \(1\): head\.weight/);
  t.match(msg, /wrong shapes \(1\):\s+bn\.weight: checkpoint \[4\] vs model \[3\]/);
  // strict=false tolerates missing/unexpected keys, never a wrong shape
  t.throws(() => b.loadStateDict(sd, { strict: false }), /wrong shapes/);
  sd.set('bn.weight', E.full([3], 2));
  const r = b.loadStateDict(sd, { strict: false });
  t.same(r, { missing: ['conv.bias', 'body.1.bn.running_var'], unexpected: ['head.weight'] });
  t.same([...b.stateDict().get('bn.weight')!.dataSync()], [2, 2, 2]);
  t.same(
    [...b.stateDict().get('bn.num_batches_tracked')!.dataSync()],
    [7],
    'int64 from a checkpoint lands in the i32 buffer',
  );
});

t.test('BatchNorm2d: Ultralytics settings, running stats update only in train mode', async (t) => {
  const bn = new BatchNorm2d(2);
  t.equal(bn.eps, 1e-3);
  t.equal(bn.momentum, 0.03);
  const x = E.tensor([1, 2, 3, 4, 10, 20, 30, 40], [1, 2, 2, 2]);
  bn.eval();
  bn.forward(x);
  t.same([...bn.runningMean.dataSync()], [0, 0], 'eval leaves running stats');
  bn.train();
  bn.forward(x);
  const mean = bn.runningMean.dataSync(),
    v = bn.runningVar.dataSync();
  t.ok(
    Math.abs(mean[0] - 0.03 * 2.5) < 1e-6 && Math.abs(mean[1] - 0.03 * 25) < 1e-5,
    'running_mean = 0.97 * 0 + 0.03 * batch mean',
  );
  t.ok(Math.abs(v[0] - (0.97 + 0.03 * (5 / 3))) < 1e-6, 'running_var uses the unbiased batch variance');
  t.same([...bn.stateDict().get('num_batches_tracked')!.dataSync()], [1]);
});

t.test('Conv2d init: kaiming_uniform(a=sqrt(5)) and bias bound 1/sqrt(fan_in), seeded', async (t) => {
  E.manualSeed(3);
  const c = new Conv2d(8, 16, 3);
  const w = c.weight.dataSync(),
    b = c.bias!.dataSync();
  const bound = 1 / Math.sqrt(8 * 9);
  t.ok(w.every((v) => Math.abs(v) <= bound) && b.every((v) => Math.abs(v) <= bound), 'inside the bound');
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  t.ok(
    Math.abs(std - bound / Math.sqrt(3)) < 0.05 * bound,
    `uniform spread (std ${std.toFixed(4)} vs ${(bound / Math.sqrt(3)).toFixed(4)})`,
  );
  E.manualSeed(3);
  t.same(new Conv2d(8, 16, 3).weight.dataSync(), w, 'manualSeed reproduces the weights');
});
