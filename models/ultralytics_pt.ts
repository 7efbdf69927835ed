// Our PoseModel as the object graph Ultralytics 8.2.82 pickles into a .pt (`ckpt['model']` /
// `ckpt['ema']`), so Ultralytics' own YOLO('best.pt') loads what this toolkit writes.
//
// Each module becomes a PyInstance of its Ultralytics / torch class holding the __dict__ torch 1.13's
// nn.Module pickles: training, _parameters, _buffers, _non_persistent_buffers_set, the hook dicts,
// _modules (in that order), then the class's own attributes (Conv2d's kernel_size tuple, C2f's c,
// the head's nc / nl / reg_max / no / stride / kpt_shape / nk, every layer's i, f, type...). Float
// tensors are stored fp16 as Ultralytics does (`deepcopy(model).half()`), num_batches_tracked int64.
// The layout was read off genuine 8.2.82 checkpoints with `python3 -m pickletools`.
//
// Imports: engine/io, nn, models.
import { PyFloat, PyInstance, intKeys, orderedDict, tuple } from '../engine/io/pickle.js';
import type { TensorLike } from '../engine/io/torch_pt.js';
import { Module, ModuleList, Sequential } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Identity, MaxPool2d, SiLU, Upsample } from '../nn/layers.js';
import { Bottleneck, C2, C2f, Concat, Conv, DFL, SPPF } from '../nn/blocks.js';
import { Pose } from '../nn/head.js';
import { PoseModel, YOLOV8_POSE, YOLOV8_POSE_P6 } from './yolov8_pose.js';

export type HostStateDict = Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>;

export interface GraphOptions {
  /** 'float16' as Ultralytics saves; 'float32' keeps the weights exact */
  dtype?: 'float16' | 'float32';
  /** the pickled `training` flag (Ultralytics' EMA is saved in eval mode, model.save() in train mode) */
  training?: boolean;
  /** parameters' requires_grad (False in Ultralytics' EMA; True in a saved model, except the DFL conv) */
  requiresGrad?: boolean;
  /**
   * 'trainer': the attributes the trainer adds (nc, args as IterableSimpleNamespace, kpt_shape), as in
   * a last.pt / best.pt; 'model': as YOLO(...).save() writes (args a dict, task 'pose').
   */
  kind?: 'trainer' | 'model';
  /** model.args (the run's arguments) */
  args?: Record<string, unknown>;
}

/** Ultralytics class of each module, by our class (module path as `type(m)` prints it). */
const CLASSES: [abstract new (...a: any[]) => Module, string][] = [
  [PoseModel, 'ultralytics.nn.tasks.PoseModel'],
  [Conv, 'ultralytics.nn.modules.conv.Conv'],
  [Concat, 'ultralytics.nn.modules.conv.Concat'],
  [C2f, 'ultralytics.nn.modules.block.C2f'],
  [C2, 'ultralytics.nn.modules.block.C2'],
  [Bottleneck, 'ultralytics.nn.modules.block.Bottleneck'],
  [SPPF, 'ultralytics.nn.modules.block.SPPF'],
  [DFL, 'ultralytics.nn.modules.block.DFL'],
  [Pose, 'ultralytics.nn.modules.head.Pose'],
  [Conv2d, 'torch.nn.modules.conv.Conv2d'],
  [BatchNorm2d, 'torch.nn.modules.batchnorm.BatchNorm2d'],
  [SiLU, 'torch.nn.modules.activation.SiLU'],
  [Identity, 'torch.nn.modules.linear.Identity'],
  [MaxPool2d, 'torch.nn.modules.pooling.MaxPool2d'],
  [Upsample, 'torch.nn.modules.upsampling.Upsample'],
  [Sequential, 'torch.nn.modules.container.Sequential'],
  [ModuleList, 'torch.nn.modules.container.ModuleList'],
];

function className(m: Module): string {
  const hit = CLASSES.find(([c]) => m instanceof c);
  if (!hit) throw new Error(`Ultralytics layout: no Ultralytics class for module ${m.typeName}`);
  return hit[1];
}

/** The yaml dict Ultralytics keeps on the model: the file's keys, then scale, yaml_file, ch. */
export function ultralyticsYaml(model: PoseModel): Record<string, unknown> {
  const y = model.yaml,
    cfg = y.p6 ? YOLOV8_POSE_P6 : YOLOV8_POSE;
  const layer = ([f, n, m, args]: (typeof cfg.backbone)[number]) => [
    f,
    n,
    m,
    args.map((a) => (a === null ? 'None' : a)),
  ];
  const scales = Object.fromEntries(
    Object.entries(cfg.scales).map(([k, [d, w, c]]) => [k, [new PyFloat(d), new PyFloat(w), c]]),
  );
  return {
    nc: y.nc,
    kpt_shape: [...y.kpt_shape],
    scales,
    backbone: cfg.backbone.map(layer),
    head: cfg.head.map(layer),
    scale: y.scale,
    yaml_file: y.yaml_file,
    ch: 3,
  };
}

/** `model` with the weights in `sd` (its state dict on the host) as Ultralytics' pickled PoseModel. */
export function ultralyticsGraph(model: PoseModel, sd: HostStateDict, opts: GraphOptions = {}): PyInstance {
  const dtype = opts.dtype ?? 'float16',
    training = opts.training ?? false;
  const seen = new Map<Module, PyInstance>(); // Ultralytics' one shared SiLU stays one object (a pickle memo)
  const tensorOf = (key: string, isParameter: boolean, requiresGrad: boolean): TensorLike => {
    const v = sd.get(key);
    if (!v) throw new Error(`Ultralytics layout: '${key}' is missing from the state dict`);
    if (v.data instanceof BigInt64Array) return { dtype: 'int64', shape: v.shape, data: v.data };
    return { dtype, shape: v.shape, data: v.data, isParameter, requiresGrad };
  };
  const floats = (xs: number[]): TensorLike => ({ dtype, shape: [xs.length], data: Float32Array.from(xs) });

  const build = (m: Module, prefix: string, layer?: { i: number; f: number | number[] }): PyInstance => {
    const shared = seen.get(m);
    if (shared) return shared;
    const cls = className(m);
    const node = new PyInstance(cls);
    seen.set(m, node);
    const local = (entries: [string, unknown][]) => entries.filter(([k]) => !k.includes('.'));
    const dfl = m instanceof Conv2d && prefix.endsWith('.dfl.conv.');
    const params: Record<string, unknown> = {};
    for (const [k] of local(m.namedParameters()))
      params[k] = tensorOf(prefix + k, true, dfl ? false : (opts.requiresGrad ?? false));
    if (m instanceof Conv2d && !('bias' in params)) params.bias = null;
    const buffers: Record<string, unknown> = {};
    for (const [k] of local(m.namedBuffers())) buffers[k] = tensorOf(prefix + k, false, false);
    const modules: Record<string, PyInstance> = {};
    m.namedChildren().forEach(([k, c], idx) => {
      const info = m === model.child('model') ? (model.layerInfo[idx] as { from: number | number[] }) : undefined;
      modules[k] = build(c, `${prefix}${k}.`, info ? { i: idx, f: info.from } : undefined);
    });
    if (m instanceof Conv && !m.child('bn'))
      throw new Error('Ultralytics layout: cannot save a fused model (save it before fuse())');
    Object.assign(node, {
      training,
      _parameters: orderedDict(params),
      _buffers: orderedDict(buffers),
      _non_persistent_buffers_set: new Set(),
      _backward_hooks: orderedDict({}),
      _is_full_backward_hook: null,
      _forward_hooks: orderedDict({}),
      _forward_pre_hooks: orderedDict({}),
      _state_dict_hooks: orderedDict({}),
      _load_state_dict_pre_hooks: orderedDict({}),
      _load_state_dict_post_hooks: orderedDict({}),
      _modules: orderedDict(modules),
    });
    Object.assign(node, ownAttributes(m, floats));
    if (layer) Object.assign(node, { i: layer.i, f: layer.f, type: cls });
    if (m instanceof Pose) Object.assign(node, { inplace: true, anchors: floats([]), strides: floats([]) });
    return node;
  };

  const root = build(model, '');
  const save = [
    ...new Set(
      model.layerInfo.flatMap((l, i) =>
        [l.from]
          .flat()
          .filter((f) => f !== -1)
          .map((f) => ((f % i) + i) % i),
      ),
    ),
  ].sort((a, b) => a - b);
  Object.assign(root, {
    yaml: ultralyticsYaml(model),
    save,
    names: intKeys({ ...model.names }),
    inplace: true,
    end2end: false,
    stride: {
      dtype: 'float32',
      shape: [model.stride.length],
      data: Float32Array.from(model.stride),
    } satisfies TensorLike,
  });
  const args = opts.args ?? {};
  if ((opts.kind ?? 'trainer') === 'trainer') {
    const ns = Object.assign(new PyInstance('ultralytics.utils.IterableSimpleNamespace'), args);
    Object.assign(root, { nc: model.nc, args: ns, kpt_shape: [...model.kptShape] });
  } else Object.assign(root, { args: { ...args }, task: 'pose' });
  return root;
}

/** The attributes each class's __init__ sets, as torch 1.13 / Ultralytics 8.2.82 name them. */
function ownAttributes(m: Module, floats: (xs: number[]) => TensorLike): Record<string, unknown> {
  const pair = (v: number) => [v, v];
  const tup = tuple<unknown>;
  if (m instanceof Conv2d) {
    return {
      in_channels: m.inChannels,
      out_channels: m.outChannels,
      kernel_size: tup(...pair(m.kernelSize)),
      stride: tup(...pair(m.stride)),
      padding: tup(...pair(m.padding)),
      dilation: tup(...pair(m.dilation)),
      transposed: false,
      output_padding: tup(0, 0),
      groups: m.groups,
      padding_mode: 'zeros',
      _reversed_padding_repeated_twice: tup(m.padding, m.padding, m.padding, m.padding),
    };
  }
  if (m instanceof BatchNorm2d)
    return {
      num_features: m.numFeatures,
      eps: new PyFloat(m.eps),
      momentum: new PyFloat(m.momentum),
      affine: true,
      track_running_stats: true,
    };
  if (m instanceof SiLU) return { inplace: true };
  if (m instanceof MaxPool2d)
    return {
      kernel_size: m.kernelSize,
      stride: m.stride,
      padding: m.padding,
      dilation: 1,
      return_indices: false,
      ceil_mode: false,
    };
  if (m instanceof Upsample)
    return {
      name: 'Upsample',
      size: null,
      scale_factor: new PyFloat(m.scaleFactor),
      mode: 'nearest',
      align_corners: null,
      recompute_scale_factor: null,
    };
  if (m instanceof C2f || m instanceof C2) return { c: m.c };
  if (m instanceof Bottleneck) return { add: m.add };
  if (m instanceof Concat) return { d: m.d };
  if (m instanceof DFL) return { c1: m.c1 };
  if (m instanceof Pose)
    return {
      nc: m.nc,
      nl: m.nl,
      reg_max: m.regMax,
      no: m.no,
      stride: floats(m.stride),
      kpt_shape: [...m.kptShape],
      nk: m.nk,
    };
  return {};
}
