// YOLOv8-pose, written the way ultralytics/cfg/models/v8/yolov8-pose.yaml and yolov8-pose-p6.yaml
// write it: every layer is [from, repeats, module, args], scaled by the model's (depth, width,
// max_channels). parseModel follows Ultralytics' parse_model, so channel counts, repeat counts and
// module names (hence state-dict keys `model.<i>.<attr>...`) are the same.
import { Tensor, isGradEnabled, manualSeed, noGrad, tidy, type Device } from '../engine/index.js';
import { Module, Sequential } from '../nn/module.js';
import { BatchNorm2d, Upsample } from '../nn/layers.js';
import { C2, C2f, Concat, Conv, SPPF } from '../nn/blocks.js';
import { Pose, type PoseEvalOutput, type PoseTrainOutput } from '../nn/head.js';
import { getFlops, modelInfo, type ModelInfo } from './summary.js';
import { CompiledForward } from '../engine/graph/index.js';
import { roundHalfEven } from '../engine/math.js';

export type Scale = 'n' | 's' | 'm' | 'l' | 'x';
export type ModuleName = 'Conv' | 'C2f' | 'C2' | 'SPPF' | 'nn.Upsample' | 'Concat' | 'Pose';
/** [from, repeats, module, args]: `from` -1 is the previous layer. */
export type LayerSpec = [
  from: number | number[],
  repeats: number,
  module: ModuleName,
  args: (number | boolean | string | null)[],
];

export interface PoseConfig {
  nc: number;
  kpt_shape: [number, number];
  /** [depth, width, max_channels] */
  scales: Record<Scale, [number, number, number]>;
  backbone: LayerSpec[];
  head: LayerSpec[];
}

const SCALES: PoseConfig['scales'] = {
  n: [0.33, 0.25, 1024],
  s: [0.33, 0.5, 1024],
  m: [0.67, 0.75, 768],
  l: [1.0, 1.0, 512],
  x: [1.0, 1.25, 512],
};

/** yolov8-pose.yaml: P3/8, P4/16, P5/32 outputs. */
export const YOLOV8_POSE: PoseConfig = {
  nc: 1,
  kpt_shape: [17, 3], // number of keypoints, number of dims (2 for x,y or 3 for x,y,visible)
  scales: SCALES,
  backbone: [
    [-1, 1, 'Conv', [64, 3, 2]], // 0-P1/2
    [-1, 1, 'Conv', [128, 3, 2]], // 1-P2/4
    [-1, 3, 'C2f', [128, true]],
    [-1, 1, 'Conv', [256, 3, 2]], // 3-P3/8
    [-1, 6, 'C2f', [256, true]],
    [-1, 1, 'Conv', [512, 3, 2]], // 5-P4/16
    [-1, 6, 'C2f', [512, true]],
    [-1, 1, 'Conv', [1024, 3, 2]], // 7-P5/32
    [-1, 3, 'C2f', [1024, true]],
    [-1, 1, 'SPPF', [1024, 5]], // 9
  ],
  head: [
    [-1, 1, 'nn.Upsample', [null, 2, 'nearest']],
    [[-1, 6], 1, 'Concat', [1]], // cat backbone P4
    [-1, 3, 'C2f', [512]], // 12

    [-1, 1, 'nn.Upsample', [null, 2, 'nearest']],
    [[-1, 4], 1, 'Concat', [1]], // cat backbone P3
    [-1, 3, 'C2f', [256]], // 15 (P3/8-small)

    [-1, 1, 'Conv', [256, 3, 2]],
    [[-1, 12], 1, 'Concat', [1]], // cat head P4
    [-1, 3, 'C2f', [512]], // 18 (P4/16-medium)

    [-1, 1, 'Conv', [512, 3, 2]],
    [[-1, 9], 1, 'Concat', [1]], // cat head P5
    [-1, 3, 'C2f', [1024]], // 21 (P5/32-large)

    [[15, 18, 21], 1, 'Pose', ['nc', 'kpt_shape']], // Pose(P3, P4, P5)
  ],
};

/** yolov8-pose-p6.yaml: P3/8 ... P6/64 outputs, meant for imgsz 1280. */
export const YOLOV8_POSE_P6: PoseConfig = {
  nc: 1,
  kpt_shape: [17, 3],
  scales: SCALES,
  backbone: [
    [-1, 1, 'Conv', [64, 3, 2]], // 0-P1/2
    [-1, 1, 'Conv', [128, 3, 2]], // 1-P2/4
    [-1, 3, 'C2f', [128, true]],
    [-1, 1, 'Conv', [256, 3, 2]], // 3-P3/8
    [-1, 6, 'C2f', [256, true]],
    [-1, 1, 'Conv', [512, 3, 2]], // 5-P4/16
    [-1, 6, 'C2f', [512, true]],
    [-1, 1, 'Conv', [768, 3, 2]], // 7-P5/32
    [-1, 3, 'C2f', [768, true]],
    [-1, 1, 'Conv', [1024, 3, 2]], // 9-P6/64
    [-1, 3, 'C2f', [1024, true]],
    [-1, 1, 'SPPF', [1024, 5]], // 11
  ],
  head: [
    [-1, 1, 'nn.Upsample', [null, 2, 'nearest']],
    [[-1, 8], 1, 'Concat', [1]], // cat backbone P5
    [-1, 3, 'C2', [768, false]], // 14

    [-1, 1, 'nn.Upsample', [null, 2, 'nearest']],
    [[-1, 6], 1, 'Concat', [1]], // cat backbone P4
    [-1, 3, 'C2', [512, false]], // 17

    [-1, 1, 'nn.Upsample', [null, 2, 'nearest']],
    [[-1, 4], 1, 'Concat', [1]], // cat backbone P3
    [-1, 3, 'C2', [256, false]], // 20 (P3/8-small)

    [-1, 1, 'Conv', [256, 3, 2]],
    [[-1, 17], 1, 'Concat', [1]], // cat head P4
    [-1, 3, 'C2', [512, false]], // 23 (P4/16-medium)

    [-1, 1, 'Conv', [512, 3, 2]],
    [[-1, 14], 1, 'Concat', [1]], // cat head P5
    [-1, 3, 'C2', [768, false]], // 26 (P5/32-large)

    [-1, 1, 'Conv', [768, 3, 2]],
    [[-1, 11], 1, 'Concat', [1]], // cat head P6
    [-1, 3, 'C2', [1024, false]], // 29 (P6/64-xlarge)

    [[20, 23, 26, 29], 1, 'Pose', ['nc', 'kpt_shape']], // Pose(P3, P4, P5, P6)
  ],
};

/** What a built model remembers about how it was made (Ultralytics keeps the same in model.yaml). */
export interface PoseYaml {
  yaml_file: string;
  scale: Scale;
  nc: number;
  kpt_shape: [number, number];
  p6: boolean;
  /** the layer table of a model yaml that is not the stock one (models/yaml_model.ts); absent for the stock models */
  cfg?: PoseConfig;
}

/** One row of the layer table Ultralytics prints while parsing. */
export interface LayerInfo {
  i: number;
  from: number | number[];
  n: number;
  module: ModuleName;
  args: unknown[];
}

export class PoseModel extends Module {
  names: Record<number, string>;
  readonly layerInfo: LayerInfo[];
  /** indices of layers whose outputs later layers read (Ultralytics' `save`) */
  private readonly saved: Set<number>;

  constructor(
    readonly yaml: PoseYaml,
    device?: Device,
  ) {
    super();
    const cfg = yaml.cfg ?? (yaml.p6 ? YOLOV8_POSE_P6 : YOLOV8_POSE);
    const { layers, info, strides } = parseModel(cfg, yaml.scale, yaml.nc, yaml.kpt_shape, device);
    this.registerModule('model', new Sequential(...layers));
    this.layerInfo = info;
    this.saved = new Set(info.flatMap((l) => [l.from].flat().filter((f) => f !== -1)));
    this.names = Object.fromEntries(Array.from({ length: yaml.nc }, (_, i) => [i, String(i)]));
    const head = this.head;
    head.stride = head.stride.map((_, k) => strides[k]);
    head.biasInit();
    strideProbeSideEffects(this);
  }

  get head(): Pose {
    const seq = this.child('model') as Sequential;
    return seq.at(seq.length - 1) as Pose;
  }
  get stride(): number[] {
    return this.head.stride;
  }
  get nc() {
    return this.yaml.nc;
  }
  get kptShape() {
    return this.yaml.kpt_shape;
  }

  /**
   * (B, 3, H, W) in [0, 1], H and W multiples of the largest stride. Train mode returns the raw
   * head maps [per-level (B, 65, h, w), keypoints (B, 51, A)]; eval mode returns
   * [(B, 56, A) decoded predictions, raw maps] (for nc 1 and 17 x 3 keypoints).
   * Without autograd recording, each layer's temporaries are freed as soon as they are used.
   */
  override forward(x: Tensor): PoseTrainOutput | PoseEvalOutput {
    const recording = isGradEnabled() && (x.requiresGrad || this.parameters().some((p) => p.requiresGrad));
    const layers = (this.child('model') as Sequential).children();
    const outputs: (Tensor | undefined)[] = [];
    let cur: any = x;
    layers.forEach((m, i) => {
      const f = this.layerInfo[i].from;
      const input = f === -1 ? cur : Array.isArray(f) ? f.map((j) => (j === -1 ? cur : outputs[j]!)) : outputs[f]!;
      const prev = cur;
      cur = recording ? m.forward(input) : tidy(() => m.forward(input));
      // the previous output is dead unless a later layer reads it (or it is the network input)
      if (!recording && i > 0 && !this.saved.has(i - 1) && prev instanceof Tensor) prev.dispose();
      outputs.push(this.saved.has(i) ? cur : undefined);
    });
    if (!recording) outputs.forEach((t) => t && t !== cur && t.dispose());
    return cur;
  }

  /** Eval-mode predictions (B, 4 + nc + nk, A), without the raw maps and without autograd. */
  predict(x: Tensor): Tensor {
    if (this.training) throw new Error('PoseModel.predict: call model.eval() first');
    if (this.compiled) return this.compiled.run(x);
    return noGrad(() => {
      const [pred, [feats, kpt]] = this.forward(x) as PoseEvalOutput;
      feats.forEach((f) => f.dispose());
      kpt.dispose();
      return pred;
    });
  }

  /** Set by compile(): predict runs the compiled forward. */
  compiled: CompiledForward | null = null;

  /**
   * predict() through the traced graph, planned per input shape (engine/graph/compile.ts): one
   * kernel per elementwise chain, concat inputs written in place, buffers shared by liveness.
   * Call after eval() and fuse(); `compile(false)` goes back to the eager forward. `{ half: true }`
   * (half=True): f16 storage, f32 arithmetic, f32 predictions; webgpu with shader-f16 only.
   */
  compile(on = true, opts: { half?: boolean } = {}): this {
    this.compiled?.dispose();
    this.compiled = on
      ? new CompiledForward(this, this.device!, {
          select: (o) => (o as number[])[0],
          ...(opts.half && { dtype: 'f16' as const }),
        })
      : null;
    return this;
  }

  /** Folds every Conv's BatchNorm into its conv (inference only). */
  fuse(): this {
    for (const m of this.modules()) if (m instanceof Conv) m.fuse();
    return this;
  }

  get isFused(): boolean {
    // Ultralytics' is_fused(): fewer than 10 normalization layers left
    return this.modules().filter((m) => m instanceof BatchNorm2d).length < 10;
  }

  /** `YOLOv8n-pose summary: 250 layers, 3,295,470 parameters, 3,295,454 gradients, 9.2 GFLOPs` */
  info(imgsz: number | [number, number] = 640, opts: { verbose?: boolean } = {}): ModelInfo {
    const r = modelInfo(this, imgsz);
    if (opts.verbose ?? true) console.log(r.line);
    return r;
  }

  gflops(imgsz: number | [number, number] = 640): number {
    return getFlops(this, imgsz);
  }
}

// ---- building ------------------------------------------------------------------------------------

/** Python's round(): halves go to the even neighbour. */
const makeDivisible = (x: number, d: number) => Math.ceil(x / d) * d;

/** Ultralytics' parse_model for the modules the pose yamls use. Also tracks each layer's stride. */
export function parseModel(cfg: PoseConfig, scale: Scale, nc: number, kptShape: [number, number], device?: Device) {
  const [depth, width, maxChannels] = cfg.scales[scale];
  const ch: number[] = [],
    strides: number[] = [];
  const layers: Module[] = [],
    info: LayerInfo[] = [];
  let headStrides: number[] = [];
  [...cfg.backbone, ...cfg.head].forEach(([from, repeats, name, rawArgs], i) => {
    const at = (j: number) => (j === -1 ? i - 1 : j);
    const chIn = (j: number) => (at(j) < 0 ? 3 : ch[at(j)]); // layer 0 reads the 3-channel image
    const strideIn = (j: number) => (at(j) < 0 ? 1 : strides[at(j)]);
    const n = repeats > 1 ? Math.max(roundHalfEven(repeats * depth), 1) : repeats;
    const f0 = Array.isArray(from) ? from[0] : from;
    let m: Module,
      c2 = chIn(f0),
      stride = strideIn(f0),
      args: unknown[];
    const width8 = (c: number) => (c === nc ? c : makeDivisible(Math.min(c, maxChannels) * width, 8));
    switch (name) {
      case 'Conv': {
        const [c, k = 1, s = 1] = rawArgs as number[];
        c2 = width8(c);
        args = [chIn(f0), c2, k, s];
        m = repeat(n, () => new Conv(chIn(f0), c2, k, s, { device }));
        stride *= s;
        break;
      }
      case 'C2f':
      case 'C2': {
        const [c, shortcut = name === 'C2'] = rawArgs as [number, boolean?];
        c2 = width8(c);
        args = [chIn(f0), c2, n, shortcut];
        m =
          name === 'C2f'
            ? new C2f(chIn(f0), c2, n, shortcut, 1, 0.5, device)
            : new C2(chIn(f0), c2, n, shortcut, 1, 0.5, device);
        break;
      }
      case 'SPPF': {
        const [c, k = 5] = rawArgs as number[];
        c2 = width8(c);
        args = [chIn(f0), c2, k];
        m = new SPPF(chIn(f0), c2, k, device);
        break;
      }
      case 'nn.Upsample': {
        const factor = rawArgs[1] as number;
        args = rawArgs;
        m = new Upsample(factor);
        stride /= factor;
        break;
      }
      case 'Concat': {
        const fs = from as number[];
        c2 = fs.reduce((s, j) => s + chIn(j), 0);
        if (fs.some((j) => strideIn(j) !== stride))
          throw new Error(`parseModel: layer ${i} concatenates maps of different strides`);
        args = rawArgs;
        m = new Concat(rawArgs[0] as number);
        break;
      }
      case 'Pose': {
        const fs = from as number[];
        args = [nc, kptShape, fs.map(chIn)];
        m = new Pose(nc, kptShape, fs.map(chIn), device);
        headStrides = fs.map(strideIn); // one per level: the strides of the maps it reads
        break;
      }
      default:
        throw new Error(`parseModel: unknown module '${name}' in layer ${i}`);
    }
    info.push({ i, from, n, module: name, args });
    layers.push(m);
    ch.push(c2);
    strides.push(stride);
  });
  return { layers, info, strides: headStrides };
}

function repeat(n: number, make: () => Module): Module {
  return n > 1 ? new Sequential(...Array.from({ length: n }, make)) : make();
}

/**
 * Ultralytics measures strides by running the freshly built model, in train mode, on a
 * (1, 3, 256, 256) zero image before it sets BatchNorm's momentum to 0.03: every activation is
 * exactly zero, so each BatchNorm ends with running_var = 0.9 (default momentum 0.1, batch variance 0)
 * and num_batches_tracked = 1. We compute the strides from the layer table instead and reproduce
 * the same side effect, so a fresh model's buffers equal Ultralytics'.
 */
function strideProbeSideEffects(model: Module) {
  noGrad(() => {
    for (const m of model.modules())
      if (m instanceof BatchNorm2d) {
        m.loadStateDict(
          {
            running_var: { shape: [m.numFeatures], data: new Float32Array(m.numFeatures).fill(0.9) },
            num_batches_tracked: { shape: [], data: [1] },
          },
          { strict: false },
        );
      }
  });
}

// ---- by name -------------------------------------------------------------------------------------

export interface BuildOptions {
  scale?: Scale;
  nc?: number;
  kptShape?: [number, number];
  p6?: boolean;
  device?: Device;
  /** seeds the engine's generator first (manualSeed) */
  seed?: number;
}

/**
 * Builds a randomly initialized model, like YOLO('yolov8s-pose.yaml'): the scale comes from the name
 * (`yolov8{n,s,m,l,x}-pose[-p6][.yaml]`); nc and kptShape default to the yaml's (1, [17, 3]).
 */
export function buildPoseModel(spec: string | BuildOptions, opts: BuildOptions = {}): PoseModel {
  const o: BuildOptions = typeof spec === 'string' ? { ...parsePoseName(spec), ...opts } : { ...spec, ...opts };
  const scale = o.scale ?? 'n';
  if (!(scale in SCALES)) throw new Error(`buildPoseModel: unknown scale '${scale}' (expected one of n, s, m, l, x)`);
  const p6 = o.p6 ?? false;
  const cfg = p6 ? YOLOV8_POSE_P6 : YOLOV8_POSE;
  const kpt = o.kptShape ?? cfg.kpt_shape;
  if (kpt.length !== 2 || !(kpt[1] === 2 || kpt[1] === 3) || kpt[0] < 1)
    throw new Error(`buildPoseModel: kpt_shape must be [K, 2] or [K, 3], got ${JSON.stringify(kpt)}`);
  const nc = o.nc ?? cfg.nc;
  if (!Number.isInteger(nc) || nc < 1) throw new Error(`buildPoseModel: nc must be a positive integer, got ${nc}`);
  if (o.seed !== undefined) manualSeed(o.seed);
  return new PoseModel(
    { yaml_file: `yolov8${scale}-pose${p6 ? '-p6' : ''}.yaml`, scale, nc, kpt_shape: [kpt[0], kpt[1]], p6 },
    o.device,
  );
}

/** 'yolov8s-pose.yaml' -> { scale: 's', p6: false }; 'yolov8x-pose-p6' -> { scale: 'x', p6: true }. */
export function parsePoseName(name: string): { scale: Scale; p6: boolean } {
  const stem = name.replace(/^.*[\\/]/, '').replace(/\.(ya?ml|pt|safetensors)$/i, '');
  const m = /^yolov8([nslmx])-pose(-p6)?$/.exec(stem);
  if (!m) throw new Error(`'${name}': not a YOLOv8-pose model name (expected yolov8{n,s,m,l,x}-pose[-p6].yaml)`);
  return { scale: m[1] as Scale, p6: !!m[2] };
}
