// The torch.nn layers YOLOv8 uses: Conv2d, BatchNorm2d, SiLU, MaxPool2d, Upsample, Identity.
// Each forward is one engine op; FLOPs are counted from the traced graph (engine/graph/flops.ts).
import {
  Tensor,
  add,
  assign,
  batchNorm2d,
  conv2d,
  full,
  maxPool2d,
  noGrad,
  silu,
  tensor,
  upsampleNearest2d,
  cpu,
  type Device,
} from '../engine/index.js';
import { random } from '../engine/random.js';
import { Module, type Shape } from './module.js';

const numel = (s: Shape) => s.reduce((a, b) => a * b, 1);

/** Uniform(-bound, bound) from the engine's seeded generator (manualSeed). */
export function uniform(shape: Shape, bound: number, device: Device = cpu): Tensor {
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = (random() * 2 - 1) * bound;
  return tensor(data, shape, { device });
}

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
  device?: Device;
}

/** torch.nn.Conv2d with square kernels. weight (out, in/groups, k, k), bias (out). */
export class Conv2d extends Module {
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    opts: Conv2dOptions = {},
  ) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    this.groups = opts.groups ?? 1;
    if (inChannels % this.groups || outChannels % this.groups)
      throw new Error(`Conv2d: channels ${inChannels} -> ${outChannels} are not divisible by groups ${this.groups}`);
    // PyTorch's reset_parameters: kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in), and the
    // bias is uniform in the same bound.
    const fanIn = (inChannels / this.groups) * kernelSize * kernelSize;
    const bound = 1 / Math.sqrt(fanIn);
    this.registerParameter(
      'weight',
      uniform([outChannels, inChannels / this.groups, kernelSize, kernelSize], bound, opts.device),
    );
    if (opts.bias ?? true) this.registerParameter('bias', uniform([outChannels], bound, opts.device));
  }

  get weight(): Tensor {
    return this.tensor('weight');
  }
  get bias(): Tensor | undefined {
    return this.has('bias') ? this.tensor('bias') : undefined;
  }

  /** (B, in, H, W) -> (B, out, H', W'); `act: 'silu'` runs conv2d's fused SiLU epilogue. */
  override forward(x: Tensor, act?: 'silu'): Tensor {
    return conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
      act,
    });
  }

  outputShape([b, , h, w]: Shape): number[] {
    const span = this.dilation * (this.kernelSize - 1) + 1;
    const out = (n: number) => Math.floor((n + 2 * this.padding - span) / this.stride) + 1;
    return [b, this.outChannels, out(h), out(w)];
  }
}

export interface BatchNormOptions {
  eps?: number;
  momentum?: number;
  device?: Device;
}

/**
 * torch.nn.BatchNorm2d with Ultralytics' settings (eps 1e-3, momentum 0.03, set by its
 * initialize_weights). Parameters weight (1) and bias (0); buffers running_mean, running_var,
 * num_batches_tracked. In train mode it normalizes with batch statistics and updates the running
 * ones (unbiased variance), in eval mode it uses the running ones.
 */
export class BatchNorm2d extends Module {
  readonly eps: number;
  readonly momentum: number;

  constructor(
    readonly numFeatures: number,
    opts: BatchNormOptions = {},
  ) {
    super();
    this.eps = opts.eps ?? 1e-3;
    this.momentum = opts.momentum ?? 0.03;
    const device = opts.device;
    this.registerParameter('weight', full([numFeatures], 1, { device }));
    this.registerParameter('bias', full([numFeatures], 0, { device }));
    this.registerBuffer('running_mean', full([numFeatures], 0, { device }));
    this.registerBuffer('running_var', full([numFeatures], 1, { device }));
    this.registerBuffer('num_batches_tracked', full([], 0, { dtype: 'i32', device }));
  }

  get weight(): Tensor {
    return this.tensor('weight');
  }
  get bias(): Tensor {
    return this.tensor('bias');
  }
  get runningMean(): Tensor {
    return this.tensor('running_mean');
  }
  get runningVar(): Tensor {
    return this.tensor('running_var');
  }

  /** (B, C, H, W) -> (B, C, H, W); act 'silu': silu of it, fused where the device has the kernel. */
  override forward(x: Tensor, act?: 'silu'): Tensor {
    const y = batchNorm2d(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
      act,
    });
    if (this.training) this.countBatch();
    return y;
  }

  private countBatch() {
    const n = this.tensor('num_batches_tracked');
    if (n.device.type === 'cpu' || n.device.type === 'wasm') return void n.storage.array![n.offset]++;
    if (n.device.type === 'meta') return; // a trace records the batch_norm2d node; the counter is host bookkeeping
    noGrad(() => {
      const next = add(n, 1);
      assign(n, next);
      next.dispose();
    });
  }
}

export class SiLU extends Module {
  override forward(x: Tensor): Tensor {
    return silu(x);
  }
}

export class Identity extends Module {
  override forward(x: Tensor): Tensor {
    return x;
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride: number,
    readonly padding: number,
  ) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding });
  }
}

/** torch.nn.Upsample(scale_factor, mode='nearest'). */
export class Upsample extends Module {
  constructor(readonly scaleFactor: number) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return upsampleNearest2d(x, this.scaleFactor);
  }
}
