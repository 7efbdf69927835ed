// The YOLOv8 building blocks, as ultralytics/nn/modules/{conv,block}.py defines them, with the
// same attribute names (cv1, cv2, m, bn, ...) so state-dict keys match Ultralytics one to one.
import {
  Tensor,
  chunk,
  concat,
  dfl,
  div,
  mul,
  noGrad,
  reshape,
  sqrt,
  sub,
  add,
  arange,
  type Device,
} from '../engine/index.js';
import { Module, ModuleList, Sequential } from './module.js';
import { BatchNorm2d, Conv2d, Identity, MaxPool2d, SiLU } from './layers.js';

/** Ultralytics' Conv.default_act: ONE SiLU instance shared by every Conv (so torch counts it once in model.modules()). */
export const DEFAULT_ACT = new SiLU();

/** 'same' padding for odd kernels (Ultralytics' autopad). */
export function autopad(k: number, p?: number, d = 1): number {
  if (p !== undefined) return p;
  const span = d > 1 ? d * (k - 1) + 1 : k;
  return Math.floor(span / 2);
}

export interface ConvOptions {
  p?: number;
  g?: number;
  d?: number;
  /** true: SiLU (Ultralytics' default); false: identity */
  act?: boolean;
  device?: Device;
}

/** Conv2d (no bias) -> BatchNorm2d -> SiLU. After fuse(): one conv2d with bias and a fused SiLU. */
export class Conv extends Module {
  constructor(c1: number, c2: number, k = 1, s = 1, opts: ConvOptions = {}) {
    super();
    const { p, g = 1, d = 1, act = true, device } = opts;
    this.registerModule(
      'conv',
      new Conv2d(c1, c2, k, { stride: s, padding: autopad(k, p, d), groups: g, dilation: d, bias: false, device }),
    );
    this.registerModule('bn', new BatchNorm2d(c2, { device }));
    this.registerModule('act', act ? DEFAULT_ACT : new Identity());
  }
  get conv() {
    return this.child('conv') as Conv2d;
  }
  get bn() {
    return this.child('bn') as BatchNorm2d | undefined;
  }
  get fused() {
    return !this.bn;
  }

  /** (B, c1, H, W) -> (B, c2, H/s, W/s) */
  override forward(x: Tensor): Tensor {
    const act = this.child('act')!;
    if (this.fused) return act instanceof SiLU ? this.conv.forward(x, 'silu') : this.conv.forward(x);
    // BN -> SiLU as one op where the device fuses them (wasm: one pass each way, z not kept); elsewhere
    // the two modules, so traces (meta) name the SiLU by its own module
    if (act instanceof SiLU && x.device.type === 'wasm') return this.bn!.forward(this.conv.forward(x), 'silu');
    return act.forward(this.bn!.forward(this.conv.forward(x)));
  }

  /**
   * Folds BatchNorm into the conv, as Ultralytics' fuse_conv_and_bn: with s = gamma / sqrt(var + eps),
   * weight' = weight * s (per output channel) and bias' = beta - mean * s. The fused tensors do not
   * require grad (Ultralytics builds the fused conv with requires_grad_(False)).
   */
  fuse() {
    const bn = this.bn;
    if (!bn) return;
    const conv = this.conv;
    noGrad(() => {
      const s = div(bn.weight, sqrt(add(bn.runningVar, bn.eps))); // (c2)
      const w = mul(conv.weight, reshape(s, [-1, 1, 1, 1])); // (c2, c1/g, k, k)
      const b = sub(bn.bias, mul(bn.runningMean, s)); // (c2)
      conv.registerParameter('weight', w, false);
      conv.registerParameter('bias', b, false);
    });
    this.delete('bn');
  }
}

/** x + cv2(cv1(x)) when shortcut and c1 == c2, else cv2(cv1(x)). */
export class Bottleneck extends Module {
  readonly add: boolean;
  constructor(c1: number, c2: number, shortcut = true, g = 1, k: [number, number] = [3, 3], e = 0.5, device?: Device) {
    super();
    const c_ = Math.floor(c2 * e);
    this.registerModule('cv1', new Conv(c1, c_, k[0], 1, { device }));
    this.registerModule('cv2', new Conv(c_, c2, k[1], 1, { g, device }));
    this.add = shortcut && c1 === c2;
  }
  override forward(x: Tensor): Tensor {
    const y = this.child('cv2')!.forward(this.child('cv1')!.forward(x));
    return this.add ? add(x, y) : y;
  }
}

/** CSP bottleneck with 2 convolutions, the "faster" one: every bottleneck output is kept. */
export class C2f extends Module {
  readonly c: number;
  constructor(c1: number, c2: number, n = 1, shortcut = false, g = 1, e = 0.5, device?: Device) {
    super();
    this.c = Math.floor(c2 * e);
    this.registerModule('cv1', new Conv(c1, 2 * this.c, 1, 1, { device }));
    this.registerModule('cv2', new Conv((2 + n) * this.c, c2, 1, 1, { device }));
    this.registerModule(
      'm',
      new ModuleList(Array.from({ length: n }, () => new Bottleneck(this.c, this.c, shortcut, g, [3, 3], 1.0, device))),
    );
  }
  /** (B, c1, H, W) -> (B, c2, H, W) */
  override forward(x: Tensor): Tensor {
    const y = chunk(this.child('cv1')!.forward(x), 2, 1); // 2 x (B, c, H, W)
    for (const m of this.child('m') as ModuleList) y.push(m.forward(y[y.length - 1]));
    return this.child('cv2')!.forward(concat(y, 1)); // (B, (2 + n) c, H, W) -> (B, c2, H, W)
  }
}

/** CSP bottleneck with 2 convolutions (yolov8-p6's head): bottlenecks run on one half only. */
export class C2 extends Module {
  readonly c: number;
  constructor(c1: number, c2: number, n = 1, shortcut = true, g = 1, e = 0.5, device?: Device) {
    super();
    this.c = Math.floor(c2 * e);
    this.registerModule('cv1', new Conv(c1, 2 * this.c, 1, 1, { device }));
    this.registerModule('cv2', new Conv(2 * this.c, c2, 1, 1, { device }));
    this.registerModule(
      'm',
      new Sequential(
        ...Array.from({ length: n }, () => new Bottleneck(this.c, this.c, shortcut, g, [3, 3], 1.0, device)),
      ),
    );
  }
  override forward(x: Tensor): Tensor {
    const [a, b] = chunk(this.child('cv1')!.forward(x), 2, 1);
    return this.child('cv2')!.forward(concat([this.child('m')!.forward(a), b], 1));
  }
}

/** Spatial pyramid pooling, fast: three chained k x k max-pools, concatenated. */
export class SPPF extends Module {
  constructor(c1: number, c2: number, k = 5, device?: Device) {
    super();
    const c_ = Math.floor(c1 / 2);
    this.registerModule('cv1', new Conv(c1, c_, 1, 1, { device }));
    this.registerModule('cv2', new Conv(c_ * 4, c2, 1, 1, { device }));
    this.registerModule('m', new MaxPool2d(k, 1, Math.floor(k / 2)));
  }
  override forward(x: Tensor): Tensor {
    const m = this.child('m')!;
    const y = [this.child('cv1')!.forward(x)]; // (B, c1/2, H, W)
    for (let i = 0; i < 3; i++) y.push(m.forward(y[i]));
    return this.child('cv2')!.forward(concat(y, 1)); // (B, 2 c1, H, W) -> (B, c2, H, W)
  }
}

/** torch.cat along a dimension (channels). */
export class Concat extends Module {
  constructor(readonly d = 1) {
    super();
  }
  override forward(xs: Tensor[]): Tensor {
    return concat(xs, this.d);
  }
}

/**
 * Distribution Focal Loss integral: for each box side, softmax over c1 bins, then the expected bin
 * index. Ultralytics does it with a frozen 1x1 conv whose weight is 0..c1-1 (`dfl.conv.weight`,
 * in the state dict, not trainable); the engine's fused `dfl` op computes the same thing.
 */
export class DFL extends Module {
  constructor(
    readonly c1 = 16,
    device?: Device,
  ) {
    super();
    const conv = this.registerModule('conv', new Conv2d(c1, 1, 1, { bias: false, device }));
    conv.registerParameter('weight', reshape(arange(c1, undefined, 1, { dtype: 'f32', device }), [1, c1, 1, 1]), false);
  }
  /** (B, 4 * c1, A) -> (B, 4, A) */
  override forward(x: Tensor): Tensor {
    return dfl(x, this.c1);
  }
}
