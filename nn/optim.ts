// Optimizers with PyTorch's update rules and parameter groups (Ultralytics builds three:
// biases, weights with decay, BatchNorm weights), gradient-norm clipping, and a state dict in
// torch.optim's layout so a checkpoint carries the optimizer across a resume.
import {
  Tensor,
  zerosLike,
  noGrad,
  tidy,
  add,
  sum,
  mul,
  sqrt,
  sgdStep,
  adamwStep,
  tensor,
  contiguous,
} from '../engine/index.js';

export interface ParamGroupOptions {
  params: Tensor[];
  lr?: number;
  weightDecay?: number;
  momentum?: number;
}

export interface ParamGroup {
  params: Tensor[];
  lr: number;
  /** the lr the schedule scales (torch's initial_lr) */
  initialLr: number;
  weightDecay: number;
  /** SGD momentum, or Adam's β1 (Ultralytics' warmup ramps it only for SGD) */
  momentum: number;
}

export type OptimizerState = {
  state: Record<number, Record<string, Tensor | number>>;
  param_groups: Record<string, number | boolean | number[]>[];
};

export abstract class Optimizer {
  readonly paramGroups: ParamGroup[] = [];
  /** per-parameter buffers, by parameter */
  protected state = new Map<Tensor, Record<string, Tensor | number>>();

  constructor(
    groups: ParamGroupOptions[],
    protected defaults: { lr: number; weightDecay: number; momentum: number },
  ) {
    for (const g of groups) this.addParamGroup(g);
  }

  addParamGroup(g: ParamGroupOptions) {
    for (const p of g.params)
      if (!p.requiresGrad) throw new Error('optimizer: every parameter must have requiresGrad set');
    const lr = g.lr ?? this.defaults.lr;
    this.paramGroups.push({
      params: g.params,
      lr,
      initialLr: lr,
      weightDecay: g.weightDecay ?? this.defaults.weightDecay,
      momentum: g.momentum ?? this.defaults.momentum,
    });
  }

  /** Applies one update to every parameter that has a gradient. `gradScale` multiplies the gradients first. */
  step(gradScale = 1) {
    noGrad(() => {
      for (const group of this.paramGroups)
        for (const p of group.params) {
          if (!p.grad) continue;
          // the fused kernels need a compact gradient; backward may leave a view (a slice of a concat's grad)
          const g = contiguous(p.grad);
          this.update(p, g, group, gradScale);
          if (g !== p.grad) g.dispose();
        }
    });
  }

  protected abstract update(p: Tensor, g: Tensor, group: ParamGroup, gradScale: number): void;

  /** Frees and clears every gradient (torch's zero_grad(set_to_none=True)). */
  zeroGrad() {
    for (const group of this.paramGroups)
      for (const p of group.params) {
        p.grad?.dispose();
        p.grad = null;
      }
  }

  protected buffer(p: Tensor, name: string): Tensor {
    const s = this.state.get(p) ?? {};
    this.state.set(p, s);
    return ((s[name] as Tensor | undefined) ??= noGrad(() => zerosLike(p)));
  }

  /** torch.optim layout: state keyed by the parameter's index across groups, groups list indices. */
  stateDict(): OptimizerState {
    const state: OptimizerState['state'] = {};
    let index = 0;
    const param_groups = this.paramGroups.map((g) => {
      const ids: number[] = [];
      for (const p of g.params) {
        const s = this.state.get(p);
        if (s) state[index] = { ...s };
        ids.push(index++);
      }
      return { ...this.groupDict(g), params: ids };
    });
    return { state, param_groups };
  }

  protected abstract groupDict(g: ParamGroup): Record<string, number | boolean>;

  /** Restores buffers and group hyperparameters; groups must have the same sizes. */
  async loadStateDict(sd: OptimizerState) {
    if (sd.param_groups.length !== this.paramGroups.length)
      throw new Error(
        `optimizer state has ${sd.param_groups.length} param groups, this optimizer ${this.paramGroups.length}`,
      );
    const params = this.paramGroups.flatMap((g) => g.params);
    sd.param_groups.forEach((saved, i) => {
      const g = this.paramGroups[i];
      const ids = saved.params as number[];
      if (ids.length !== g.params.length)
        throw new Error(`optimizer param group ${i}: ${ids.length} saved parameters, ${g.params.length} here`);
      g.lr = Number(saved.lr);
      g.initialLr = Number(saved.initial_lr ?? saved.lr);
      g.weightDecay = Number(saved.weight_decay);
      g.momentum = Number(saved.momentum ?? (saved.betas as number[] | undefined)?.[0] ?? g.momentum);
    });
    this.state.clear();
    for (const [k, s] of Object.entries(sd.state)) {
      const p = params[Number(k)];
      if (!p) throw new Error(`optimizer state refers to parameter ${k}, but there are only ${params.length}`);
      const copy: Record<string, Tensor | number> = {};
      for (const [name, v] of Object.entries(s)) {
        if (typeof v === 'number') copy[name] = v;
        else {
          if (v.numel !== p.numel)
            throw new Error(
              `optimizer state '${name}' of parameter ${k} has ${v.numel} elements, the parameter ${p.numel}`,
            );
          copy[name] = tensor(await v.data(), p.shape, { device: p.device });
        }
      }
      this.state.set(p, copy);
    }
  }
}

/** torch.optim.SGD (dampening 0), Nesterov optional; weight decay added to the gradient. */
export class SGD extends Optimizer {
  constructor(
    groups: ParamGroupOptions[],
    opts: { lr: number; momentum?: number; nesterov?: boolean; weightDecay?: number },
  ) {
    super(groups, { lr: opts.lr, weightDecay: opts.weightDecay ?? 0, momentum: opts.momentum ?? 0 });
    this.nesterov = opts.nesterov ?? false;
  }
  readonly nesterov: boolean;

  protected update(p: Tensor, g: Tensor, group: ParamGroup, gradScale: number) {
    sgdStep(p, g, this.buffer(p, 'momentum_buffer'), {
      lr: group.lr,
      momentum: group.momentum,
      nesterov: this.nesterov,
      weightDecay: group.weightDecay,
      gradScale,
    });
  }

  protected groupDict(g: ParamGroup) {
    return {
      lr: g.lr,
      initial_lr: g.initialLr,
      momentum: g.momentum,
      dampening: 0,
      weight_decay: g.weightDecay,
      nesterov: this.nesterov,
    };
  }
}

/** torch.optim.AdamW (decoupled weight decay), betas (momentum, beta2). */
export class AdamW extends Optimizer {
  readonly beta2: number;
  readonly eps: number;
  constructor(
    groups: ParamGroupOptions[],
    opts: { lr: number; betas?: [number, number]; eps?: number; weightDecay?: number },
  ) {
    super(groups, { lr: opts.lr, weightDecay: opts.weightDecay ?? 0.01, momentum: opts.betas?.[0] ?? 0.9 });
    this.beta2 = opts.betas?.[1] ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
  }

  protected update(p: Tensor, g: Tensor, group: ParamGroup, gradScale: number) {
    const m = this.buffer(p, 'exp_avg'),
      v = this.buffer(p, 'exp_avg_sq');
    const s = this.state.get(p)!;
    s.step = ((s.step as number | undefined) ?? 0) + 1;
    adamwStep(p, g, m, v, {
      lr: group.lr,
      beta1: group.momentum,
      beta2: this.beta2,
      eps: this.eps,
      weightDecay: group.weightDecay,
      step: s.step,
      gradScale,
    });
  }

  protected groupDict(g: ParamGroup) {
    return {
      lr: g.lr,
      initial_lr: g.initialLr,
      beta1: g.momentum,
      beta2: this.beta2,
      eps: this.eps,
      weight_decay: g.weightDecay,
      amsgrad: false,
    };
  }
}

/**
 * Total 2-norm of the gradients (torch.nn.utils.clip_grad_norm_) and the factor that clips it to
 * `maxNorm`: min(1, maxNorm / (norm + 1e-6)). Pass the factor to `optimizer.step()`.
 */
export async function clipGradNorm(params: Tensor[], maxNorm: number): Promise<{ norm: number; scale: number }> {
  const grads = params.map((p) => p.grad).filter((g): g is Tensor => !!g);
  if (!grads.length) return { norm: 0, scale: 1 };
  // tidy frees the partial sums and the last accumulator (the trainer calls this outside any
  // scope: whatever is left undisposed stays live for good)
  const total = tidy(() =>
    noGrad(() => {
      let acc: Tensor | null = null;
      for (const g of grads) {
        const g2 = mul(g, g);
        const sq = sum(g2);
        g2.dispose(); // at once: left to the scope, every g² would be live together (peak + the params' size)
        acc = acc ? add(acc, sq) : sq;
      }
      return sqrt(acc!);
    }),
  );
  const norm = await total.item();
  total.dispose();
  return { norm, scale: Math.min(1, maxNorm / (norm + 1e-6)) };
}
