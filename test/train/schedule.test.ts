// The optimization wiring against Ultralytics' formulas: nominal-batch arithmetic, the auto rule,
// parameter groups, and the warmup / LambdaLR numbers, checked against the lr columns of
// Ultralytics' own results.csv for the coco8 reference run (AdamW, 2 batches per epoch, 150 epochs).
import t from 'tap';
import { fileURLToPath } from 'node:url';
import * as E from '../../engine/index.js';
import { Module } from '../../nn/module.js';
import {
  applyWarmup,
  buildOptimizer,
  lrLambda,
  nominalBatch,
  paramGroups,
  scheduleEpoch,
  warmupIterations,
} from '../../tasks/train/optimizer.js';
import { roundHalfEven } from '../../engine/math.js';
import { readResults } from '../../tasks/train/results.js';
import { formatG } from '../../tasks/format.js';

const REF = fileURLToPath(new URL('../fixtures/train/train-curve-coco8-n160.csv', import.meta.url));

/** A small module tree: a conv-like layer, a norm layer, a frozen layer, nested in registration order. */
class BatchNormLike extends Module {
  constructor() {
    super();
    this.registerParameter('weight', E.ones([2]));
    this.registerParameter('bias', E.zeros([2]));
  }
}
function toy() {
  const root = new Module();
  const conv = root.registerModule('conv', new Module());
  conv.registerParameter('weight', E.zeros([2, 2]));
  root.registerModule('bn', new BatchNormLike());
  const head = root.registerModule('head', new Module());
  head.registerParameter('weight', E.zeros([3]));
  head.registerParameter('bias', E.zeros([3]));
  const dfl = head.registerModule('dfl', new Module());
  dfl.registerParameter('weight', E.zeros([4]), false);
  return { root, conv, head };
}

t.test('nominal batch 64: accumulate, scaled weight decay, iterations', async (t) => {
  t.same(nominalBatch({ batch: 4, nbs: 64, weightDecay: 5e-4, datasetSize: 8, epochs: 150 }), {
    accumulate: 16,
    weightDecay: 5e-4,
    iterations: 150,
  });
  t.same(nominalBatch({ batch: 16, nbs: 64, weightDecay: 5e-4, datasetSize: 118287, epochs: 100 }), {
    accumulate: 4,
    weightDecay: 5e-4,
    iterations: 184900,
  });
  const b24 = nominalBatch({ batch: 24, nbs: 64, weightDecay: 5e-4, datasetSize: 100, epochs: 10 });
  t.equal(b24.accumulate, 3, 'round(64 / 24) = 3');
  t.ok(Math.abs(b24.weightDecay - (5e-4 * 24 * 3) / 64) < 1e-15);
  t.equal(
    nominalBatch({ batch: 128, nbs: 64, weightDecay: 5e-4, datasetSize: 8, epochs: 1 }).accumulate,
    1,
    'never below 1',
  );
  t.equal(roundHalfEven(2.5), 2, "Python's round: halves to even");
  t.equal(roundHalfEven(3.5), 4);
  t.equal(warmupIterations(3, 2), 100, 'at least 100 warmup iterations');
  t.equal(warmupIterations(3, 1000), 3000);
  t.equal(warmupIterations(0, 1000), -1, 'warmup_epochs 0: none');
});

t.test('parameter groups: biases, weights with decay, norm weights; frozen left out', async (t) => {
  const { root, conv, head } = toy();
  const g = paramGroups(root);
  t.equal(g.biases.length, 2);
  t.equal(g.decay.length, 2);
  t.equal(g.bnWeights.length, 1);
  t.same(g.frozen, ['head.dfl.weight']);
  t.equal(g.decay[0], conv.namedParameters()[0][1], 'registration order: conv.weight first');
  t.equal(g.decay[1], head.namedParameters()[0][1]);
});

t.test(
  'optimizer=auto: AdamW for short runs (lr from nc, warmup_bias_lr 0), SGD beyond 10,000 iterations',
  async (t) => {
    const logs: string[] = [];
    const base = { name: 'auto', lr: 0.01, momentum: 0.937, decay: 5e-4, warmupBiasLr: 0.1 };
    const a = buildOptimizer(toy().root, { ...base, iterations: 150, nc: 1 }, (s) => logs.push(s));
    t.equal(a.name, 'AdamW');
    t.equal(a.lr, 0.002, 'round(0.002 * 5 / (4 + 1), 6)');
    t.equal(a.momentum, 0.9);
    t.equal(a.warmupBiasLr, 0);
    t.equal(buildOptimizer(toy().root, { ...base, iterations: 150, nc: 80 }).lr, 0.000119, 'round(0.01 / 84, 6)');
    t.match(logs[0], /'optimizer=auto' found, ignoring 'lr0=0.01' and 'momentum=0.937'/);
    t.equal(
      logs[1],
      'optimizer: AdamW(lr=0.002, momentum=0.9) with parameter groups 1 weight(decay=0.0), 2 weight(decay=0.0005), 2 bias(decay=0.0)',
    );
    const groups = a.optimizer.paramGroups;
    t.same(
      groups.map((g) => [g.params.length, g.weightDecay, g.lr, g.momentum]),
      [
        [2, 0, 0.002, 0.9],
        [2, 5e-4, 0.002, 0.9],
        [1, 0, 0.002, 0.9],
      ],
      'pg0 biases, pg1 decayed weights, pg2 norm weights',
    );
    const s = buildOptimizer(toy().root, { ...base, iterations: 20000, nc: 1 });
    t.same([s.name, s.lr, s.momentum, s.warmupBiasLr], ['SGD', 0.01, 0.9, 0]);
    const explicit = buildOptimizer(toy().root, { ...base, name: 'SGD', iterations: 10, nc: 1 });
    t.same(
      [explicit.name, explicit.lr, explicit.momentum, explicit.warmupBiasLr],
      ['SGD', 0.01, 0.937, 0.1],
      'an explicit optimizer keeps lr0, momentum and warmup_bias_lr',
    );
    t.throws(() => buildOptimizer(toy().root, { ...base, name: 'Adagrad', iterations: 10, nc: 1 }), /not found/);
  },
);

t.test(
  'SGD warmup: bias lr falls from warmup_bias_lr, others rise from 0, momentum from 0.8, accumulate from 1',
  async (t) => {
    const b = buildOptimizer(toy().root, {
      name: 'SGD',
      lr: 0.01,
      momentum: 0.937,
      decay: 5e-4,
      iterations: 10,
      nc: 1,
      warmupBiasLr: 0.1,
    });
    const lf = lrLambda(100, 0.01, false);
    const w = {
      nw: 100,
      nbs: 64,
      batch: 4,
      warmupBiasLr: 0.1,
      warmupMomentum: 0.8,
      momentum: 0.937,
      rampMomentum: true,
    };
    scheduleEpoch(b.optimizer, lf, 0);
    t.equal(applyWarmup(b.optimizer, 0, 0, lf, w), 1);
    t.same(
      b.optimizer.paramGroups.map((g) => [g.lr, g.momentum]),
      [
        [0.1, 0.8],
        [0, 0.8],
        [0, 0.8],
      ],
    );
    // ni 50 of 100, epoch 25: halfway from the start values to initial_lr * lf(25)
    const acc = applyWarmup(b.optimizer, 50, 25, lf, w);
    t.equal(acc, 8, 'int(np.interp(50, [0, 100], [1, 16]).round()) = round(8.5) = 8');
    const target = 0.01 * lf(25);
    t.ok(Math.abs(b.optimizer.paramGroups[0].lr - (0.1 + target) / 2) < 1e-15);
    t.ok(Math.abs(b.optimizer.paramGroups[1].lr - target / 2) < 1e-15);
    t.ok(Math.abs(b.optimizer.paramGroups[2].momentum - (0.8 + 0.937) / 2) < 1e-15);
    t.equal(applyWarmup(b.optimizer, 100, 50, lf, w), 16);
    t.ok(Math.abs(lrLambda(100, 0.01, true)(50) - 0.505) < 1e-12, 'one_cycle halfway');
    t.equal(lf(100), 0.01);
  },
);

t.test("the lr columns of Ultralytics' coco8 reference run, epoch by epoch", async (t) => {
  const ref = readResults(REF);
  const b = buildOptimizer(toy().root, {
    name: 'auto',
    lr: 0.01,
    momentum: 0.937,
    decay: 5e-4,
    iterations: 150,
    nc: 1,
    warmupBiasLr: 0.1,
  });
  const epochs = 150,
    nb = 2,
    nw = warmupIterations(3, nb),
    lf = lrLambda(epochs, 0.01, false);
  const w = {
    nw,
    nbs: 64,
    batch: 4,
    warmupBiasLr: b.warmupBiasLr,
    warmupMomentum: 0.8,
    momentum: 0.937,
    rampMomentum: false,
  };
  let bad = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    scheduleEpoch(b.optimizer, lf, epoch);
    for (let i = 0; i < nb; i++) {
      const ni = i + nb * epoch;
      if (ni <= nw) applyWarmup(b.optimizer, ni, epoch, lf, w);
    }
    b.optimizer.paramGroups.forEach((g, k) => {
      const want = ref.data[`lr/pg${k}`][epoch];
      if (formatG(g.lr, 5) !== formatG(want, 5))
        bad++ < 5 && t.fail(`epoch ${epoch + 1} lr/pg${k}: ${formatG(g.lr, 5)} vs Ultralytics ${formatG(want, 5)}`);
    });
  }
  t.equal(bad, 0, 'all 450 learning rates equal to 5 significant digits');
});
