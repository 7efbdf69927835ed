// The rest of Ultralytics' optimizer list: torch.optim's Adam, Adamax, NAdam, RAdam and RMSprop
// (torch 1.13's single-tensor update rules, L2 weight decay added to the gradient), written with
// ordinary elementwise ops so they run on every backend. SGD and AdamW, the two the trainer picks
// by itself, have fused kernels in nn/optim.ts; these five are chosen by name (optimizer=Adam ...).
//
// Imports: engine, ./optim.

import { Tensor, add, abs, assign, div, maximum, mul, sqrt, sub, tidy } from '../engine/index.js';
import { Optimizer, type ParamGroup, type ParamGroupOptions } from './optim.js';

type AdamOpts = { lr: number; betas?: [number, number]; eps?: number; weightDecay?: number };

/** One step's shared part: the state's step count and the gradient (clipped, plus L2 decay). */
abstract class Elementwise extends Optimizer {
  protected step_(p: Tensor): number {
    const s = this.stateOf(p);
    s.step = ((s.step as number | undefined) ?? 0) + 1;
    return s.step;
  }

  protected stateOf(p: Tensor): Record<string, Tensor | number> {
    const s = this.state.get(p) ?? {};
    this.state.set(p, s);
    return s;
  }

  /** g * gradScale + weight_decay * p */
  protected grad(p: Tensor, g: Tensor, group: ParamGroup, gradScale: number): Tensor {
    const gs = gradScale === 1 ? g : mul(g, gradScale);
    return group.weightDecay ? add(gs, mul(p, group.weightDecay)) : gs;
  }
}

/** Adam's and its relatives' betas: group.momentum is beta1 (Ultralytics passes betas=(momentum, 0.999)). */
abstract class AdamLike extends Elementwise {
  readonly beta2: number;
  readonly eps: number;
  constructor(groups: ParamGroupOptions[], opts: AdamOpts, eps: number) {
    super(groups, { lr: opts.lr, weightDecay: opts.weightDecay ?? 0, momentum: opts.betas?.[0] ?? 0.9 });
    this.beta2 = opts.betas?.[1] ?? 0.999;
    this.eps = opts.eps ?? eps;
  }

  protected groupDict(g: ParamGroup): Record<string, number | boolean> {
    return {
      lr: g.lr,
      initial_lr: g.initialLr,
      beta1: g.momentum,
      beta2: this.beta2,
      eps: this.eps,
      weight_decay: g.weightDecay,
    };
  }
}

/** torch.optim.Adam (amsgrad off). */
export class Adam extends AdamLike {
  constructor(groups: ParamGroupOptions[], opts: AdamOpts) {
    super(groups, opts, 1e-8);
  }

  protected update(p: Tensor, g: Tensor, group: ParamGroup, gradScale: number) {
    const m = this.buffer(p, 'exp_avg'),
      v = this.buffer(p, 'exp_avg_sq');
    const t = this.step_(p),
      b1 = group.momentum,
      b2 = this.beta2;
    tidy(() => {
      const gr = this.grad(p, g, group, gradScale);
      assign(m, add(mul(m, b1), mul(gr, 1 - b1)));
      assign(v, add(mul(v, b2), mul(mul(gr, gr), 1 - b2)));
      const stepSize = group.lr / (1 - b1 ** t);
      const denom = add(div(sqrt(v), Math.sqrt(1 - b2 ** t)), this.eps);
      assign(p, sub(p, mul(div(m, denom), stepSize)));
    });
  }
}

/** torch.optim.Adamax: the infinity norm u = max(beta2 * u, |g| + eps). */
export class Adamax extends AdamLike {
  constructor(groups: ParamGroupOptions[], opts: AdamOpts) {
    super(groups, opts, 1e-8);
  }

  protected update(p: Tensor, g: Tensor, group: ParamGroup, gradScale: number) {
    const m = this.buffer(p, 'exp_avg'),
      u = this.buffer(p, 'exp_inf');
    const t = this.step_(p),
      b1 = group.momentum;
    tidy(() => {
      const gr = this.grad(p, g, group, gradScale);
      assign(m, add(mul(m, b1), mul(gr, 1 - b1)));
      assign(u, maximum(mul(u, this.beta2), add(abs(gr), this.eps)));
      const clr = group.lr / (1 - b1 ** t);
      assign(p, sub(p, mul(div(m, u), clr)));
    });
  }
}

/** torch.optim.NAdam: Nesterov momentum with the momentum schedule mu_t = beta1 (1 - 0.5 * 0.96^(t psi)). */
export class NAdam extends AdamLike {
  readonly momentumDecay: number;
  constructor(groups: ParamGroupOptions[], opts: AdamOpts & { momentumDecay?: number }) {
    super(groups, opts, 1e-8);
    this.momentumDecay = opts.momentumDecay ?? 4e-3;
  }

  protected update(p: Tensor, g: Tensor, group: ParamGroup, gradScale: number) {
    const m = this.buffer(p, 'exp_avg'),
      v = this.buffer(p, 'exp_avg_sq');
    const t = this.step_(p),
      b1 = group.momentum,
      b2 = this.beta2,
      psi = this.momentumDecay;
    const s = this.stateOf(p);
    const mu = b1 * (1 - 0.5 * 0.96 ** (t * psi));
    const muNext = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi));
    // torch keeps mu_product as a float32 scalar tensor
    const muProduct = Math.fround(((s.mu_product as number | undefined) ?? 1) * mu);
    s.mu_product = muProduct;
    const muProductNext = muProduct * muNext;
    tidy(() => {
      const gr = this.grad(p, g, group, gradScale);
      assign(m, add(mul(m, b1), mul(gr, 1 - b1)));
      assign(v, add(mul(v, b2), mul(mul(gr, gr), 1 - b2)));
      const denom = add(sqrt(div(v, 1 - b2 ** t)), this.eps);
      const p1 = sub(p, mul(div(gr, denom), (group.lr * (1 - mu)) / (1 - muProduct)));
      assign(p, sub(p1, mul(div(m, denom), (group.lr * muNext) / (1 - muProductNext))));
    });
  }

  protected override groupDict(g: ParamGroup) {
    return { ...super.groupDict(g), momentum_decay: this.momentumDecay };
  }
}

/** torch.optim.RAdam: Adam with the variance rectification once rho_t > 5, plain momentum SGD before. */
export class RAdam extends AdamLike {
  constructor(groups: ParamGroupOptions[], opts: AdamOpts) {
    super(groups, opts, 1e-8);
  }

  protected update(p: Tensor, g: Tensor, group: ParamGroup, gradScale: number) {
    const m = this.buffer(p, 'exp_avg'),
      v = this.buffer(p, 'exp_avg_sq');
    const t = this.step_(p),
      b1 = group.momentum,
      b2 = this.beta2;
    const bc1 = 1 - b1 ** t,
      bc2 = 1 - b2 ** t;
    const rhoInf = 2 / (1 - b2) - 1;
    const rhoT = rhoInf - (2 * t * b2 ** t) / bc2;
    tidy(() => {
      const gr = this.grad(p, g, group, gradScale);
      assign(m, add(mul(m, b1), mul(gr, 1 - b1)));
      assign(v, add(mul(v, b2), mul(mul(gr, gr), 1 - b2)));
      const corrected = div(m, bc1);
      if (rhoT > 5) {
        const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
        const adaptive = div(Math.sqrt(bc2), add(sqrt(v), this.eps));
        assign(p, sub(p, mul(mul(mul(corrected, group.lr), adaptive), rect)));
      } else assign(p, sub(p, mul(corrected, group.lr)));
    });
  }
}

/** torch.optim.RMSprop (not centered): square_avg = alpha * sq + (1 - alpha) g^2, optional momentum. */
export class RMSprop extends Elementwise {
  readonly alpha: number;
  readonly eps: number;
  constructor(
    groups: ParamGroupOptions[],
    opts: { lr: number; alpha?: number; eps?: number; momentum?: number; weightDecay?: number },
  ) {
    super(groups, { lr: opts.lr, weightDecay: opts.weightDecay ?? 0, momentum: opts.momentum ?? 0 });
    this.alpha = opts.alpha ?? 0.99;
    this.eps = opts.eps ?? 1e-8;
  }

  protected update(p: Tensor, g: Tensor, group: ParamGroup, gradScale: number) {
    const sq = this.buffer(p, 'square_avg');
    const buf = group.momentum > 0 ? this.buffer(p, 'momentum_buffer') : null;
    this.step_(p);
    tidy(() => {
      const gr = this.grad(p, g, group, gradScale);
      assign(sq, add(mul(sq, this.alpha), mul(mul(gr, gr), 1 - this.alpha)));
      const avg = add(sqrt(sq), this.eps);
      if (buf) {
        assign(buf, add(mul(buf, group.momentum), div(gr, avg)));
        assign(p, sub(p, mul(buf, group.lr)));
      } else assign(p, sub(p, mul(div(gr, avg), group.lr)));
    });
  }

  protected groupDict(g: ParamGroup) {
    return {
      lr: g.lr,
      initial_lr: g.initialLr,
      momentum: g.momentum,
      alpha: this.alpha,
      eps: this.eps,
      weight_decay: g.weightDecay,
      centered: false,
    };
  }
}
