// Training checkpoints (weights/last.pt and best.pt) in Ultralytics 8.2.82's layout, written
// atomically (temp file + rename): what its save_model keeps (epoch, best_fitness, model None, ema as
// the pickled fp16 PoseModel, updates, optimizer in torch's layout with fp16 state, train_args,
// train_metrics, train_results, date, version, license, docs), so Ultralytics resumes or fine-tunes
// from it. An exact resume needs more than that, kept under `yolo_ts` (models/checkpoint.ts):
//   state_dict   the EMA weights in float32 (Ultralytics keeps fp16 only)
//   model        the training model's state dict in float32 (Ultralytics resumes from the EMA)
//   optimizer    our optimizer's exact state ({state: {i: {...}}, param_groups: [...]}, float32)
//   grads        {name: tensor} of pending accumulated gradients (absent when none)
//   rng_state, stopper, last_opt_step: the generators, early-stopping counters, accumulation point
// readPoseCheckpoint gives Ultralytics' keys and then these in `extra`.
//
// Imports: engine, engine/io, models, nn.

import { tensor, cpu, type Tensor } from '../../engine/index.js';
import { closeSync, copyFileSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { TorchTensor, loadTorchCheckpoint, saveTorchCheckpoint } from '../../engine/io/torch_pt.js';
import { intKeys, orderedDict } from '../../engine/io/pickle.js';
import {
  FORMAT,
  OURS_KEY,
  ULTRALYTICS_NOTICE,
  ULTRALYTICS_VERSION,
  hostStateDict as modelHostState,
  modelFromCheckpoint,
  oursMeta,
  readPoseCheckpoint,
  torchStateDict,
} from '../../models/checkpoint.js';
import { ultralyticsGraph } from '../../models/ultralytics_pt.js';
import { tuple } from '../../engine/io/pickle.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import type { HostArray, Module } from '../../nn/module.js';
import type { Optimizer, OptimizerState } from '../../nn/optim.js';

type HostLike = { dtype: 'float32' | 'int64'; shape: number[]; data: Float32Array | BigInt64Array };

/** A tensor's contents as something the torch writer pickles (int32 buffers become int64, as torch keeps them). */
async function toHost(t: Tensor): Promise<HostLike> {
  const d = await t.data();
  if (t.dtype === 'i32')
    return { dtype: 'int64', shape: [...t.shape], data: BigInt64Array.from(d as Int32Array, (v) => BigInt(v)) };
  return { dtype: 'float32', shape: [...t.shape], data: Float32Array.from(d) };
}

export async function hostStateDict(m: Module): Promise<Record<string, HostLike>> {
  const out: Record<string, HostLike> = {};
  for (const [k, t] of m.stateDict()) out[k] = await toHost(t);
  return orderedDict(out);
}

async function hostOptimizerState(opt: Optimizer) {
  const sd = opt.stateDict();
  const state: Record<string, Record<string, unknown>> = {};
  for (const [i, s] of Object.entries(sd.state)) {
    const entry: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s)) entry[k] = typeof v === 'number' ? v : await toHost(v);
    state[i] = entry;
  }
  return { state: intKeys(state), param_groups: sd.param_groups };
}

export interface TrainingState {
  /** the last finished epoch, 0-based (-1 once the run is finished and stripped) */
  epoch: number;
  bestFitness: number | null;
  model: PoseModel;
  ema: PoseModel;
  emaUpdates: number;
  optimizer: Optimizer;
  trainArgs: Record<string, unknown>;
  trainMetrics: Record<string, number | null>;
  /** the engine generator's and the data pipeline's states after this epoch */
  rng: Record<string, unknown>;
  stopper: { best_fitness: number; best_epoch: number };
  /** the iteration of the last optimizer step, and gradients accumulated since */
  lastOptStep: number;
  pendingGrads: boolean;
  /** results.csv as columns (Ultralytics' train_results), when there is one */
  trainResults?: Record<string, unknown>;
}

/**
 * Our optimizer state as torch.optim's state_dict for Ultralytics' optimizer: its build_optimizer
 * groups every parameter by name (biases, weights with decay, BatchNorm weights), frozen ones too (the
 * DFL conv sits among the decayed weights with no state), numbered in named_modules order. Moments are
 * fp16, as its convert_optimizer_state_dict_to_fp16 leaves them; Adam's step is a float tensor (torch 1.13).
 */
function torchOptimizer(
  opt: Optimizer,
  o: { state: Record<string, Record<string, unknown>>; param_groups: Record<string, unknown>[] },
  model: PoseModel,
) {
  const ourIndex = new Map(opt.paramGroups.flatMap((g) => g.params).map((p, i) => [p, i]));
  const groups: Tensor[][] = [[], [], []];
  const seen = new Set<Tensor>();
  for (const [prefix, m] of model.namedModules())
    for (const [n, p] of m.namedParameters().filter(([n]) => !n.includes('.'))) {
      if (seen.has(p)) continue;
      seen.add(p);
      groups[`${prefix}.${n}`.includes('bias') ? 0 : m.typeName.includes('Norm') ? 2 : 1].push(p);
    }
  if (o.param_groups.length !== 3)
    throw new Error(`checkpoint: ${o.param_groups.length} optimizer param groups, Ultralytics' layout has 3`);
  const state: Record<string, Record<string, unknown>> = {};
  let next = 0;
  const param_groups = groups.map((ps, gi) => {
    const params = ps.map((p) => {
      const mine = o.state[String(ourIndex.get(p))];
      if (ourIndex.has(p) && mine) state[next] = torchParamState(mine);
      return next++;
    });
    const g = o.param_groups[gi];
    return 'beta1' in g
      ? {
          lr: g.lr,
          betas: tuple(g.beta1, g.beta2),
          eps: g.eps,
          weight_decay: g.weight_decay,
          amsgrad: false,
          foreach: null,
          maximize: false,
          capturable: false,
          initial_lr: g.initial_lr,
          params,
        }
      : {
          lr: g.lr,
          momentum: g.momentum,
          dampening: g.dampening ?? 0,
          weight_decay: g.weight_decay,
          nesterov: g.nesterov,
          maximize: false,
          foreach: null,
          initial_lr: g.initial_lr,
          params,
        };
  });
  return { state: intKeys(state), param_groups };
}

function torchParamState(s: Record<string, unknown>) {
  const e: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'step') e.step = { dtype: 'float32', shape: [], data: Float32Array.of(Number(v)) };
    else if (typeof v === 'number') e[k] = v;
    else {
      const h = v as HostLike;
      e[k] = h.dtype === 'float32' ? { dtype: 'float16', shape: h.shape, data: h.data } : h;
    }
  }
  return e;
}

/**
 * Our arguments that Ultralytics 8.2.82 does not know (from later releases): its validator refuses
 * them by name, so its copy of train_args / model.args goes without; yolo_ts.train_args keeps all.
 */
const NOT_IN_ULTRALYTICS = ['copy_paste_mode'];
const ultralyticsArgs = (a: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(a).filter(([k]) => !NOT_IN_ULTRALYTICS.includes(k)));

/** Writes a resumable checkpoint to `path` (atomic: a crash leaves the previous file intact). */
export async function saveTrainCheckpoint(path: string, s: TrainingState) {
  const grads: Record<string, HostLike> = {};
  if (s.pendingGrads) for (const [k, p] of s.model.namedParameters()) if (p.grad) grads[k] = await toHost(p.grad);
  const emaSd = await modelHostState(s.ema);
  const optimizer = await hostOptimizerState(s.optimizer);
  saveTorchCheckpoint(path, {
    epoch: s.epoch,
    best_fitness: s.bestFitness,
    model: null,
    ema: ultralyticsGraph(s.ema, emaSd, {
      kind: 'trainer',
      training: false,
      requiresGrad: false,
      args: ultralyticsArgs(s.trainArgs),
    }),
    updates: s.emaUpdates,
    optimizer: torchOptimizer(s.optimizer, optimizer as Parameters<typeof torchOptimizer>[1], s.model),
    train_args: ultralyticsArgs(s.trainArgs),
    train_metrics: s.trainMetrics,
    train_results: s.trainResults ?? {},
    date: new Date().toISOString(),
    version: ULTRALYTICS_VERSION,
    ...ULTRALYTICS_NOTICE,
    [OURS_KEY]: {
      ...oursMeta(s.ema),
      train_args: s.trainArgs,
      state_dict: torchStateDict(emaSd),
      model: await hostStateDict(s.model),
      optimizer,
      rng_state: s.rng,
      stopper: s.stopper,
      last_opt_step: s.lastOptStep,
      ...(s.pendingGrads ? { grads: orderedDict(grads) } : {}),
    },
  });
}

/** Copies `src` to `dst` through a temp file and a rename, so `dst` is always whole. */
export function copyFileAtomic(src: string, dst: string) {
  const tmp = `${dst}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    copyFileSync(src, tmp);
    const fd = openSync(tmp, 'r+');
    fsyncSync(fd); // as writeFileAtomic: the bytes are on disk before the name points at them
    closeSync(fd);
    renameSync(tmp, dst);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Ultralytics' strip_optimizer: `model` becomes the fp16 EMA graph; ema, optimizer, best_fitness and
 * updates become None, epoch -1; of yolo_ts only what rebuilds the model stays (no float32 copies, no
 * resume state), so a stripped best.pt holds exactly the weights Ultralytics' holds. Returns its MB.
 */
export async function stripCheckpoint(path: string): Promise<number> {
  const ck = loadTorchCheckpoint(path) as Record<string, unknown>;
  const ours = ck?.[OURS_KEY] as Record<string, unknown> | undefined;
  if (!ours || typeof ours !== 'object' || ours.format !== FORMAT)
    throw new Error(`${path}: not a yolo-ts training checkpoint`);
  // the graph is rebuilt from the float32 EMA (re-pickling the one read back would turn 2.0 into 2)
  const read = readPoseCheckpoint(path);
  const ema = modelFromCheckpoint(read, path);
  const trainArgs = (ck.train_args ?? {}) as Record<string, unknown>;
  ck.model = ultralyticsGraph(ema, await modelHostState(ema), {
    kind: 'trainer',
    training: false,
    requiresGrad: false,
    args: trainArgs,
  });
  for (const k of ['optimizer', 'best_fitness', 'ema', 'updates']) ck[k] = null;
  ck.epoch = -1;
  ck[OURS_KEY] = oursMeta(ema);
  saveTorchCheckpoint(path, ck);
  return statSync(path).size / 1e6;
}

/** A checkpoint tensor (or host data) as a cpu engine tensor. */
export function toEngine(v: unknown, what: string): Tensor {
  if (v instanceof TorchTensor)
    return tensor(v.dtype === 'int64' ? Float32Array.from(v.data as BigInt64Array, Number) : v.toFloat32(), v.shape, {
      device: cpu,
    });
  throw new Error(`checkpoint: '${what}' is not a tensor`);
}

/** The optimizer state in the layout Optimizer.loadStateDict takes (tensors on the cpu). */
export function optimizerStateFrom(v: unknown): OptimizerState {
  const o = v as { state?: Record<string, Record<string, unknown>>; param_groups?: OptimizerState['param_groups'] };
  if (!o || typeof o !== 'object' || !o.state || !Array.isArray(o.param_groups))
    throw new Error("checkpoint: 'optimizer' has no state and param_groups");
  const state: OptimizerState['state'] = {};
  for (const [i, s] of Object.entries(o.state)) {
    const entry: Record<string, Tensor | number> = {};
    for (const [k, x] of Object.entries(s))
      entry[k] =
        typeof x === 'number' ? x : typeof x === 'bigint' ? Number(x) : toEngine(x, `optimizer.state.${i}.${k}`);
    state[Number(i)] = entry;
  }
  return { state, param_groups: o.param_groups };
}

/** The state dict under `key` ('model' or 'grads') as host tensors for Module.loadStateDict. */
export function hostDictFrom(v: unknown, key: string): Map<string, HostArray> {
  if (!v || typeof v !== 'object')
    throw new Error(
      `checkpoint: no '${key}' state dict (a checkpoint stripped at the end of training cannot be resumed)`,
    );
  const out = new Map<string, HostArray>();
  for (const [k, t] of Object.entries(v)) {
    if (!(t instanceof TorchTensor)) throw new Error(`checkpoint: '${key}.${k}' is not a tensor`);
    out.set(k, { shape: t.shape, data: t.dtype === 'int64' ? (t.data as BigInt64Array) : t.toFloat32() });
  }
  return out;
}

export { readPoseCheckpoint };
