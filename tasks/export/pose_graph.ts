// The ONNX graph of a YOLOv8-pose model, node for node what torch.onnx.export traces from
// Ultralytics' PoseModel in export mode (fused, C2f.forward_split, Detect/Pose with export=True):
//
//   Conv (BN folded) -> Sigmoid, Mul (SiLU) | Split, Add, Concat (C2f, Bottleneck) | MaxPool (SPPF)
//   | Resize nearest with scales (Upsample) | head: per level cv4 -> Reshape, Concat (raw keypoints);
//   cv2, cv3 -> Concat; Reshape, Concat -> Split (box 64, cls nc); DFL = Reshape (B, 4, 16, A),
//   Transpose, Softmax, Conv with the fixed 0..15 weight, Reshape (B, 4, A); dist2bbox (Split, Sub,
//   Add, Div, Concat) * strides; Sigmoid(cls); keypoints (x, y) = (raw * 2 + anchor - 0.5) * stride,
//   v = Sigmoid(raw); Concat -> output0 (B, 4 + nc + K * ndim, A).
//
// Static export: anchors (2, A) and strides (1, A) are initializers. Dynamic export: they are
// computed in the graph from each level's feature-map shape (Shape, Gather, Cast, Range, Expand,
// Concat), as tracing Ultralytics' make_anchors with dynamic axes gives, and reshapes copy the
// batch dimension (0 in the shape) instead of a fixed number.
//
// Imports: nn, models (module classes), ./graph.

import type { PoseModel } from '../../models/yolov8_pose.js';
import { Module, Sequential, ModuleList } from '../../nn/module.js';
import { Conv2d, MaxPool2d, SiLU, Upsample } from '../../nn/layers.js';
import { Bottleneck, C2, C2f, Concat, Conv, SPPF } from '../../nn/blocks.js';
import { Pose, makeAnchors } from '../../nn/head.js';
import { DataType } from '../../engine/io/onnx_proto.js';
import { GraphBuilder, floatTensor } from './graph.js';

/** Host copies of the model's state dict: name -> (shape, float32 values). */
export type HostWeights = Map<string, { shape: readonly number[]; data: Float32Array }>;

export interface PoseGraphOptions {
  batch: number;
  /** [h, w], multiples of the largest stride */
  imgsz: [number, number];
  dynamic: boolean;
  half: boolean;
}

/** '/model.22/cv2.0.0/conv' for state-dict prefix 'model.22.cv2.0.0.conv' (indices stay with their attribute). */
function scopeOf(prefix: string): string {
  const parts: string[] = [];
  for (const seg of prefix.split('.')) {
    if (/^\d+$/.test(seg) && parts.length) parts[parts.length - 1] += `.${seg}`;
    else parts.push(seg);
  }
  return '/' + parts.join('/');
}

export class PoseGraph {
  readonly g: GraphBuilder;
  /** anchor points (2, A) and strides (1, A) as graph values, made once by the head */
  private anchors: { points: string; strides: string } | null = null;

  constructor(readonly model: PoseModel, readonly weights: HostWeights, readonly opts: PoseGraphOptions) {
    this.g = new GraphBuilder(opts.half);
  }

  /** The whole network: returns the name of the output value (renamed output0 by the caller). */
  build(input: string): string {
    const layers = (this.model.child('model') as Sequential).children();
    const outs: string[] = [];
    let cur = input;
    layers.forEach((m, i) => {
      const f = this.model.layerInfo[i].from;
      const pick = (j: number) => (j === -1 ? cur : outs[j]);
      const x = Array.isArray(f) ? f.map(pick) : pick(f);
      cur = this.emit(m, `model.${i}`, x);
      outs.push(cur);
    });
    return cur;
  }

  private tensor(name: string) {
    const t = this.weights.get(name);
    if (!t) throw new Error(`export: the model has no tensor '${name}'`);
    return t;
  }

  /** Any module of the pose yamls, by class. `x` is one value name, or several for Concat / Pose. */
  private emit(m: Module, prefix: string, x: string | string[]): string {
    const one = () => x as string;
    if (m instanceof Conv) return this.convBlock(m, prefix, one());
    if (m instanceof Conv2d) return this.conv(m, prefix, one(), this.tensor(`${prefix}.weight`).data, this.weights.get(`${prefix}.bias`)?.data);
    if (m instanceof C2f) return this.c2f(m, prefix, one());
    if (m instanceof C2) return this.c2(m, prefix, one());
    if (m instanceof Bottleneck) return this.bottleneck(m, prefix, one());
    if (m instanceof SPPF) return this.sppf(m, prefix, one());
    if (m instanceof Upsample) return this.upsample(m, prefix, one());
    if (m instanceof Concat) return this.g.op(scopeOf(prefix), 'Concat', x as string[], { axis: { i: m.d } });
    if (m instanceof Pose) return this.pose(m, prefix, x as string[]);
    if (m instanceof Sequential) return m.namedChildren().reduce((v, [n, c]) => this.emit(c, `${prefix}.${n}`, v), one());
    throw new Error(`export: no ONNX rule for module ${m.typeName} at '${prefix}'`);
  }

  /** nn.Conv2d -> Conv with torch's attribute set. */
  private conv(c: Conv2d, prefix: string, x: string, w: Float32Array, b?: Float32Array): string {
    const k = c.kernelSize;
    const inputs = [x, this.g.weight(`${prefix}.weight`, w, [c.outChannels, c.inChannels / c.groups, k, k])];
    if (b) inputs.push(this.g.weight(`${prefix}.bias`, b, [c.outChannels]));
    return this.g.op(scopeOf(prefix), 'Conv', inputs, {
      dilations: { ints: [c.dilation, c.dilation] },
      group: { i: c.groups },
      kernel_shape: { ints: [k, k] },
      pads: { ints: [c.padding, c.padding, c.padding, c.padding] },
      strides: { ints: [c.stride, c.stride] },
    });
  }

  /**
   * Ultralytics' Conv: conv (BatchNorm folded in, as fuse_conv_and_bn: s = gamma / sqrt(var + eps),
   * w' = w * s, b' = beta - mean * s; float32 arithmetic) -> SiLU as Sigmoid and Mul.
   */
  private convBlock(m: Conv, prefix: string, x: string): string {
    const w = this.tensor(`${prefix}.conv.weight`).data;
    let weight = w, bias = this.weights.get(`${prefix}.conv.bias`)?.data;
    const bn = m.bn;
    if (bn) {
      const f = Math.fround;
      const [gamma, beta, mean, variance] = ['weight', 'bias', 'running_mean', 'running_var'].map((n) => this.tensor(`${prefix}.bn.${n}`).data);
      const cout = gamma.length, per = w.length / cout, eps = f(bn.eps);
      weight = new Float32Array(w.length);
      bias = new Float32Array(cout);
      for (let o = 0; o < cout; o++) {
        const s = f(gamma[o] / f(Math.sqrt(f(variance[o] + eps))));
        for (let j = 0; j < per; j++) weight[o * per + j] = f(w[o * per + j] * s);
        bias[o] = f(beta[o] - f(mean[o] * s));
      }
    }
    const y = this.conv(m.conv, `${prefix}.conv`, x, weight, bias);
    if (!(m.child('act') instanceof SiLU)) return y;
    const scope = scopeOf(`${prefix}.act`);
    return this.g.op(scope, 'Mul', [y, this.g.op(scope, 'Sigmoid', [y])]);
  }

  /** Split (c, c) -> bottlenecks on the last piece, each output kept -> Concat -> cv2. */
  private c2f(m: C2f, prefix: string, x: string): string {
    const scope = scopeOf(prefix);
    const y1 = this.emit(m.child('cv1')!, `${prefix}.cv1`, x);
    const ys = this.g.node(scope, 'Split', [y1, this.g.ints(scope, [m.c, m.c])], { axis: { i: 1 } }, 2);
    (m.child('m') as ModuleList).children().forEach((b, i) => ys.push(this.emit(b, `${prefix}.m.${i}`, ys[ys.length - 1])));
    return this.emit(m.child('cv2')!, `${prefix}.cv2`, this.g.op(scope, 'Concat', ys, { axis: { i: 1 } }));
  }

  /** C2 (p6 head): bottlenecks on the first half only. */
  private c2(m: C2, prefix: string, x: string): string {
    const scope = scopeOf(prefix);
    const y1 = this.emit(m.child('cv1')!, `${prefix}.cv1`, x);
    const [a, b] = this.g.node(scope, 'Split', [y1, this.g.ints(scope, [m.c, m.c])], { axis: { i: 1 } }, 2);
    const ma = this.emit(m.child('m')!, `${prefix}.m`, a);
    return this.emit(m.child('cv2')!, `${prefix}.cv2`, this.g.op(scope, 'Concat', [ma, b], { axis: { i: 1 } }));
  }

  private bottleneck(m: Bottleneck, prefix: string, x: string): string {
    const y = this.emit(m.child('cv2')!, `${prefix}.cv2`, this.emit(m.child('cv1')!, `${prefix}.cv1`, x));
    return m.add ? this.g.op(scopeOf(prefix), 'Add', [x, y]) : y;
  }

  private sppf(m: SPPF, prefix: string, x: string): string {
    const pool = m.child('m') as MaxPool2d;
    const ys = [this.emit(m.child('cv1')!, `${prefix}.cv1`, x)];
    const p = pool.padding, k = pool.kernelSize, s = pool.stride;
    for (let i = 0; i < 3; i++)
      ys.push(this.g.op(scopeOf(`${prefix}.m`), 'MaxPool', [ys[i]], { ceil_mode: { i: 0 }, kernel_shape: { ints: [k, k] }, pads: { ints: [p, p, p, p] }, strides: { ints: [s, s] } }));
    return this.emit(m.child('cv2')!, `${prefix}.cv2`, this.g.op(scopeOf(prefix), 'Concat', ys, { axis: { i: 1 } }));
  }

  /** nn.Upsample(scale_factor, 'nearest') as torch exports it: Resize(x, roi='', scales). */
  private upsample(m: Upsample, prefix: string, x: string): string {
    const scope = scopeOf(prefix), f = m.scaleFactor;
    const scales = this.g.constant(scope, floatTensor([1, 1, f, f], [4]));
    return this.g.op(scope, 'Resize', [x, '', scales], {
      coordinate_transformation_mode: { s: 'asymmetric' },
      cubic_coeff_a: { f: -0.75 },
      mode: { s: 'nearest' },
      nearest_mode: { s: 'floor' },
    });
  }

  // ---- the head ------------------------------------------------------------------------------

  /** Pose.forward in export mode: (B, 4 + nc + nk, A). */
  private pose(m: Pose, prefix: string, xs: string[]): string {
    const scope = scopeOf(prefix), g = this.g;
    const bs = this.opts.dynamic ? 0 : this.opts.batch; // Reshape's 0 copies the input's batch
    const branch = (name: string, i: number, x: string) => this.emit((m.child(name) as ModuleList).at(i), `${prefix}.${name}.${i}`, x);
    const levels = xs.map((_, i) => i);
    // raw keypoints (B, nk, A)
    const kpt = g.op(scope, 'Concat', levels.map((i) => g.op(scope, 'Reshape', [branch('cv4', i, xs[i]), g.ints(scope, [bs, m.nk, -1])])), { axis: { i: 2 } });
    // Detect: per level (B, no, h, w), then (B, no, A)
    const feats = levels.map((i) => g.op(scope, 'Concat', [branch('cv2', i, xs[i]), branch('cv3', i, xs[i])], { axis: { i: 1 } }));
    const { points, strides } = this.anchorValues(m, scope, feats);
    const xCat = g.op(scope, 'Concat', feats.map((f) => g.op(scope, 'Reshape', [f, g.ints(scope, [bs, m.no, -1])])), { axis: { i: 2 } });
    const [box, cls] = g.node(scope, 'Split', [xCat, g.ints(scope, [4 * m.regMax, m.nc])], { axis: { i: 1 } }, 2);
    const dist = this.dfl(m, `${prefix}.dfl`, box, bs); // (B, 4, A)
    // dist2bbox, xywh: centre = anchor + (rb - lt) / 2, size = lt + rb; then * stride
    const [lt, rb] = g.node(scope, 'Split', [dist, g.ints(scope, [2, 2])], { axis: { i: 1 } }, 2);
    const x1y1 = g.op(scope, 'Sub', [points, lt]);
    const x2y2 = g.op(scope, 'Add', [points, rb]);
    const cxy = g.op(scope, 'Div', [g.op(scope, 'Add', [x1y1, x2y2]), g.scalar(scope, 2)]);
    const wh = g.op(scope, 'Sub', [x2y2, x1y1]);
    const dbox = g.op(scope, 'Mul', [g.op(scope, 'Concat', [cxy, wh], { axis: { i: 1 } }), strides]);
    const y = g.op(scope, 'Concat', [dbox, g.op(scope, 'Sigmoid', [cls])], { axis: { i: 1 } });
    return g.op(scope, 'Concat', [y, this.kptsDecode(m, scope, kpt, points, strides, bs)], { axis: { i: 1 } });
  }

  /** DFL: (B, 64, A) -> view (B, 4, 16, A) -> transpose (B, 16, 4, A) -> softmax over bins -> 1x1 conv with 0..15 -> (B, 4, A). */
  private dfl(m: Pose, prefix: string, box: string, bs: number): string {
    const scope = scopeOf(prefix), g = this.g, c1 = m.regMax;
    const v = g.op(scope, 'Reshape', [box, g.ints(scope, [bs, 4, c1, -1])]);
    const p = g.op(scope, 'Softmax', [g.op(scope, 'Transpose', [v], { perm: { ints: [0, 2, 1, 3] } })], { axis: { i: 1 } });
    const w = this.g.weight(`${prefix}.conv.weight`, this.tensor(`${prefix}.conv.weight`).data, [1, c1, 1, 1]);
    const conv = g.op(scopeOf(`${prefix}.conv`), 'Conv', [p, w], { dilations: { ints: [1, 1] }, group: { i: 1 }, kernel_shape: { ints: [1, 1] }, pads: { ints: [0, 0, 0, 0] }, strides: { ints: [1, 1] } });
    return g.op(scope, 'Reshape', [conv, g.ints(scope, [bs, 4, -1])]);
  }

  /** Pose.kpts_decode (export branch): (B, nk, A) -> (B, nk, A). */
  private kptsDecode(m: Pose, scope: string, kpt: string, points: string, strides: string, bs: number): string {
    const g = this.g, [K, ndim] = m.kptShape;
    const y = g.op(scope, 'Reshape', [kpt, g.ints(scope, [bs, K, ndim, -1])]); // (B, K, ndim, A)
    const slice = (start: number, end: number) => g.op(scope, 'Slice', [y, g.ints(scope, [start]), g.ints(scope, [end]), g.ints(scope, [2]), g.ints(scope, [1])]);
    const grid = g.op(scope, 'Sub', [points, g.scalar(scope, 0.5)]); // (2, A): cell index
    const xy = g.op(scope, 'Mul', [g.op(scope, 'Add', [g.op(scope, 'Mul', [slice(0, 2), g.scalar(scope, 2)]), grid]), strides]);
    const parts = ndim === 3 ? g.op(scope, 'Concat', [xy, g.op(scope, 'Sigmoid', [slice(2, 3)])], { axis: { i: 2 } }) : xy;
    return g.op(scope, 'Reshape', [parts, g.ints(scope, [bs, m.nk, -1])]);
  }

  /** Anchor points (2, A) and strides (1, A): initializers for a fixed input, else computed from the maps' shapes. */
  private anchorValues(m: Pose, scope: string, feats: string[]) {
    if (this.anchors) return this.anchors;
    const prefix = scope.slice(1).replace(/\//g, '.');
    if (!this.opts.dynamic) {
      const [h, w] = this.opts.imgsz;
      const a = makeAnchors(m.stride.map((s) => [h / s, w / s] as [number, number]), m.stride);
      const A = a.strides.length, pts = new Float32Array(2 * A);
      for (let k = 0; k < A; k++) (pts[k] = a.points[2 * k]), (pts[A + k] = a.points[2 * k + 1]);
      this.anchors = { points: this.g.weight(`${prefix}.anchors`, pts, [2, A]), strides: this.g.weight(`${prefix}.strides`, a.strides, [1, A]) };
      return this.anchors;
    }
    const g = this.g;
    const perLevel = feats.map((f, i) => {
      const shape = g.op(scope, 'Shape', [f]);
      const dim = (axis: number) => g.op(scope, 'Gather', [shape, g.ints(scope, [axis], [])], { axis: { i: 0 } }); // scalar int64
      const [h, w] = [dim(2), dim(3)];
      const range = (n: string) => g.op(scope, 'Add', [g.op(scope, 'Range', [g.scalar(scope, 0), g.op(scope, 'Cast', [n], { to: { i: DataType.FLOAT } }), g.scalar(scope, 1)]), g.scalar(scope, 0.5)]);
      const unsq = (v: string) => g.op(scope, 'Unsqueeze', [v, g.ints(scope, [0])]);
      const hw = g.op(scope, 'Concat', [unsq(h), unsq(w)], { axis: { i: 0 } }); // [h, w]
      // meshgrid(sy, sx, indexing='ij'): x varies along w, y along h
      const sx = g.op(scope, 'Expand', [g.op(scope, 'Reshape', [range(w), g.ints(scope, [1, -1])]), hw]);
      const sy = g.op(scope, 'Expand', [g.op(scope, 'Reshape', [range(h), g.ints(scope, [-1, 1])]), hw]);
      const row = (v: string) => g.op(scope, 'Reshape', [v, g.ints(scope, [1, -1])]);
      const pts = g.op(scope, 'Concat', [row(sx), row(sy)], { axis: { i: 0 } }); // (2, h*w)
      const n = g.op(scope, 'Mul', [unsq(h), unsq(w)]);
      const st = g.op(scope, 'Expand', [g.constant(scope, floatTensor([m.stride[i]], [1, 1])), g.op(scope, 'Concat', [g.ints(scope, [1]), n], { axis: { i: 0 } })]); // (1, h*w)
      return { pts, st };
    });
    this.anchors = {
      points: g.op(scope, 'Concat', perLevel.map((l) => l.pts), { axis: { i: 1 } }),
      strides: g.op(scope, 'Concat', perLevel.map((l) => l.st), { axis: { i: 1 } }),
    };
    return this.anchors;
  }
}

/** Output anchors for a fixed input size: sum over levels of (h / s) * (w / s). */
export function anchorCount(strides: readonly number[], [h, w]: [number, number]): number {
  return strides.reduce((a, s) => a + (h / s) * (w / s), 0);
}
