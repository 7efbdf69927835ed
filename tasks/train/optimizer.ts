// Optimization wiring of Ultralytics' BaseTrainer: the nominal-batch arithmetic (accumulate,
// scaled weight decay, iterations), build_optimizer's auto rule and three parameter groups, the
// LambdaLR schedule (linear or one-cycle), and the per-iteration warmup of lr, momentum and
// accumulate. Pure numbers apart from the optimizer itself, so tests can check them by hand.
//
// Imports: nn (Module, optimizers, schedules).

import type { Tensor } from '../../engine/index.js';
import type { Module } from '../../nn/module.js';
import { AdamW, SGD, type Optimizer } from '../../nn/optim.js';
import { Adam, Adamax, NAdam, RAdam, RMSprop } from '../../nn/optim_more.js';
import { interp, linearLf, oneCycle } from '../../nn/lr_schedule.js';
import { roundHalfEven } from '../../engine/math.js';

/** The numbers _setup_train derives from batch, nbs and the dataset size. */
export function nominalBatch(o: {
  batch: number;
  nbs: number;
  weightDecay: number;
  datasetSize: number;
  epochs: number;
}) {
  const accumulate = Math.max(roundHalfEven(o.nbs / o.batch), 1); // accumulate loss before optimizing
  const weightDecay = (o.weightDecay * o.batch * accumulate) / o.nbs; // scale weight_decay
  const iterations = Math.ceil(o.datasetSize / Math.max(o.batch, o.nbs)) * o.epochs;
  return { accumulate, weightDecay, iterations };
}

/** Warmup length in iterations: max(round(warmup_epochs * nb), 100), or -1 (none). */
export const warmupIterations = (warmupEpochs: number, nb: number) =>
  warmupEpochs > 0 ? Math.max(roundHalfEven(warmupEpochs * nb), 100) : -1;

export interface ParamGroups {
  /** weights with decay (Ultralytics' g[0]) */
  decay: Tensor[];
  /** normalization-layer weights, no decay (g[1]) */
  bnWeights: Tensor[];
  /** every bias, no decay (g[2]) */
  biases: Tensor[];
  /** parameters that do not require grad (the DFL's fixed conv): left out of every group */
  frozen: string[];
}

/**
 * build_optimizer's split: walk named modules in registration order and each one's own parameters;
 * a name containing 'bias' -> biases, a parameter of a *Norm* layer -> bnWeights, else decay.
 */
export function paramGroups(model: Module): ParamGroups {
  const out: ParamGroups = { decay: [], bnWeights: [], biases: [], frozen: [] };
  const seen = new Set<Tensor>();
  for (const [prefix, m] of model.namedModules()) {
    const own = m.namedParameters().filter(([n]) => !n.includes('.')); // named_parameters(recurse=False)
    for (const [n, p] of own) {
      if (seen.has(p)) continue;
      seen.add(p);
      const full = prefix ? `${prefix}.${n}` : n;
      if (!p.requiresGrad) out.frozen.push(full);
      else if (full.includes('bias')) out.biases.push(p);
      else if (m.typeName.includes('Norm')) out.bnWeights.push(p);
      else out.decay.push(p);
    }
  }
  return out;
}

export interface BuiltOptimizer {
  optimizer: Optimizer;
  /** the optimizer's name ('auto' resolved to 'SGD' or 'AdamW') */
  name: string;
  lr: number;
  momentum: number;
  /** 'auto' sets warmup_bias_lr to 0 ("no higher than 0.01 for Adam") */
  warmupBiasLr: number;
  /** the line Ultralytics logs */
  summary: string;
}

/**
 * build_optimizer(model, name, lr, momentum, decay, iterations). 'auto': SGD(lr 0.01, momentum 0.9)
 * for more than 10,000 iterations, else AdamW(lr round(0.002 * 5 / (4 + nc), 6), momentum 0.9).
 * Groups: [0] biases (pg0), [1] weights with `decay` (pg1), [2] BN weights (pg2).
 */
export function buildOptimizer(
  model: Module,
  o: {
    name: string;
    lr: number;
    momentum: number;
    decay: number;
    iterations: number;
    nc: number;
    warmupBiasLr: number;
  },
  log: (s: string) => void = () => {},
): BuiltOptimizer {
  let { name, lr, momentum, warmupBiasLr } = o;
  if (name === 'auto') {
    log(
      `optimizer: 'optimizer=auto' found, ignoring 'lr0=${o.lr}' and 'momentum=${o.momentum}' and determining best 'optimizer', 'lr0' and 'momentum' automatically... `,
    );
    const lrFit = Math.round(((0.002 * 5) / (4 + o.nc)) * 1e6) / 1e6; // lr0 fit equation to 6 decimal places
    [name, lr, momentum] = o.iterations > 10000 ? ['SGD', 0.01, 0.9] : ['AdamW', lrFit, 0.9];
    warmupBiasLr = 0.0;
  }
  const g = paramGroups(model);
  const groups = [
    { params: g.biases, weightDecay: 0 },
    { params: g.decay, weightDecay: o.decay },
    { params: g.bnWeights, weightDecay: 0 },
  ];
  let optimizer: Optimizer;
  const betas: [number, number] = [momentum, 0.999]; // Ultralytics: betas=(momentum, 0.999) for the Adam family
  if (name === 'AdamW') optimizer = new AdamW(groups, { lr, betas, weightDecay: 0 });
  else if (name === 'Adam') optimizer = new Adam(groups, { lr, betas });
  else if (name === 'Adamax') optimizer = new Adamax(groups, { lr, betas });
  else if (name === 'NAdam') optimizer = new NAdam(groups, { lr, betas });
  else if (name === 'RAdam') optimizer = new RAdam(groups, { lr, betas });
  else if (name === 'RMSProp') optimizer = new RMSprop(groups, { lr, momentum });
  else if (name === 'SGD') optimizer = new SGD(groups, { lr, momentum, nesterov: true });
  else
    throw new Error(
      `optimizer '${name}' not found in list of available optimizers [Adam, Adamax, AdamW, NAdam, RAdam, RMSProp, SGD, auto]`,
    );
  const summary = `optimizer: ${name === 'RMSProp' ? 'RMSprop' : name}(lr=${lr}, momentum=${momentum}) with parameter groups ${g.bnWeights.length} weight(decay=0.0), ${g.decay.length} weight(decay=${o.decay}), ${g.biases.length} bias(decay=0.0)`;
  log(summary);
  return { optimizer, name, lr, momentum, warmupBiasLr, summary };
}

/** _setup_scheduler's lf: one_cycle(1, lrf, epochs) with cos_lr, else linear decay to lrf. */
export function lrLambda(epochs: number, lrf: number, cosLr: boolean): (epoch: number) => number {
  return cosLr ? oneCycle(1, lrf, epochs) : linearLf(epochs, lrf);
}

/** LambdaLR.step() as the trainer calls it at each epoch start: lr = initial_lr * lf(epoch). */
export function scheduleEpoch(opt: Optimizer, lf: (e: number) => number, epoch: number) {
  for (const g of opt.paramGroups) g.lr = g.initialLr * lf(epoch);
}

export interface WarmupArgs {
  nw: number;
  nbs: number;
  batch: number;
  warmupBiasLr: number;
  warmupMomentum: number;
  momentum: number;
  /** SGD groups carry a momentum the warmup ramps; Adam's betas are left alone */
  rampMomentum: boolean;
}

/**
 * One warmup iteration (ni <= nw): accumulate rises from 1 to nbs / batch, the bias group's lr falls
 * from warmup_bias_lr and the others rise from 0, all to initial_lr * lf(epoch); SGD momentum rises
 * from warmup_momentum to momentum. Returns the new accumulate.
 */
export function applyWarmup(
  opt: Optimizer,
  ni: number,
  epoch: number,
  lf: (e: number) => number,
  w: WarmupArgs,
): number {
  const xi: [number, number] = [0, w.nw];
  const accumulate = Math.max(1, roundHalfEven(interp(ni, xi, [1, w.nbs / w.batch])));
  opt.paramGroups.forEach((g, j) => {
    g.lr = interp(ni, xi, [j === 0 ? w.warmupBiasLr : 0.0, g.initialLr * lf(epoch)]);
    if (w.rampMomentum) g.momentum = interp(ni, xi, [w.warmupMomentum, w.momentum]);
  });
  return accumulate;
}
