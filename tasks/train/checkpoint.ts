// Training checkpoints (weights/last.pt and best.pt): a torch.save zip that plain PyTorch can
// torch.load, written atomically (temp file + rename), holding what Ultralytics' save_model keeps
// (epoch, best_fitness, ema, updates, optimizer, train_args, train_metrics, date, version) plus
// what an exact resume needs that Ultralytics drops: the raw model weights in float32 (Ultralytics
// resumes from the fp16 EMA), the random generators, the early-stopping counters, and gradients
// still being accumulated towards the next optimizer step.
//
// Layout (models/checkpoint.ts' format, readable by YOLO('last.pt') and pretrained=):
//   state_dict   the EMA weights (what inference uses, as Ultralytics' 'ema')
//   model        the training model's state dict, or null once stripped
//   optimizer    torch.optim's state_dict layout: {state: {i: {...}}, param_groups: [...]}
//   grads        {name: tensor} of pending accumulated gradients (absent when none)
//
// Imports: engine, engine/io, models, nn.

import { tensor, cpu, type Tensor } from '../../engine/index.js';
import { closeSync, copyFileSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { TorchTensor, loadTorchCheckpoint, saveTorchCheckpoint } from '../../engine/io/torch_pt.js';
import { intKeys, orderedDict } from '../../engine/io/pickle.js';
import { FORMAT, readPoseCheckpoint, savePoseCheckpoint } from '../../models/checkpoint.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import type { HostTensor, Module } from '../../nn/module.js';
import type { Optimizer, OptimizerState } from '../../nn/optim.js';

type HostLike = { dtype: 'float32' | 'int64'; shape: number[]; data: Float32Array | BigInt64Array };

/** A tensor's contents as something the torch writer pickles (int32 buffers become int64, as torch keeps them). */
async function toHost(t: Tensor): Promise<HostLike> {
  const d = await t.data();
  if (t.dtype === 'i32') return { dtype: 'int64', shape: [...t.shape], data: BigInt64Array.from(d as Int32Array, (v) => BigInt(v)) };
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
}

/** Writes a resumable checkpoint to `path` (atomic: a crash leaves the previous file intact). */
export async function saveTrainCheckpoint(path: string, s: TrainingState) {
  const grads: Record<string, HostLike> = {};
  if (s.pendingGrads) for (const [k, p] of s.model.namedParameters()) if (p.grad) grads[k] = await toHost(p.grad);
  await savePoseCheckpoint(s.ema, path, {
    epoch: s.epoch,
    best_fitness: s.bestFitness,
    model: await hostStateDict(s.model),
    updates: s.emaUpdates,
    optimizer: await hostOptimizerState(s.optimizer),
    train_args: s.trainArgs,
    train_metrics: s.trainMetrics,
    rng_state: s.rng,
    stopper: s.stopper,
    last_opt_step: s.lastOptStep,
    ...(s.pendingGrads ? { grads: orderedDict(grads) } : {}),
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
 * Ultralytics' strip_optimizer: keeps the EMA weights and metadata, drops what only resuming needs
 * (model, optimizer, gradients, generator states), sets epoch -1. Returns the new size in MB.
 */
export function stripCheckpoint(path: string): number {
  const ck = loadTorchCheckpoint(path) as Record<string, unknown>;
  if (!ck || typeof ck !== 'object' || ck.format !== FORMAT) throw new Error(`${path}: not a yolo-ts training checkpoint`);
  for (const k of ['model', 'optimizer', 'best_fitness', 'updates', 'rng_state', 'stopper', 'last_opt_step']) ck[k] = null;
  delete ck.grads;
  ck.epoch = -1;
  saveTorchCheckpoint(path, ck);
  return statSync(path).size / 1e6;
}

/** A checkpoint tensor (or host data) as a cpu engine tensor. */
export function toEngine(v: unknown, what: string): Tensor {
  if (v instanceof TorchTensor) return tensor(v.dtype === 'int64' ? Float32Array.from(v.data as BigInt64Array, Number) : v.toFloat32(), v.shape, { device: cpu });
  throw new Error(`checkpoint: '${what}' is not a tensor`);
}

/** The optimizer state in the layout Optimizer.loadStateDict takes (tensors on the cpu). */
export function optimizerStateFrom(v: unknown): OptimizerState {
  const o = v as { state?: Record<string, Record<string, unknown>>; param_groups?: OptimizerState['param_groups'] };
  if (!o || typeof o !== 'object' || !o.state || !Array.isArray(o.param_groups)) throw new Error("checkpoint: 'optimizer' has no state and param_groups");
  const state: OptimizerState['state'] = {};
  for (const [i, s] of Object.entries(o.state)) {
    const entry: Record<string, Tensor | number> = {};
    for (const [k, x] of Object.entries(s)) entry[k] = typeof x === 'number' ? x : typeof x === 'bigint' ? Number(x) : toEngine(x, `optimizer.state.${i}.${k}`);
    state[Number(i)] = entry;
  }
  return { state, param_groups: o.param_groups };
}

/** The state dict under `key` ('model' or 'grads') as host tensors for Module.loadStateDict. */
export function hostDictFrom(v: unknown, key: string): Map<string, HostTensor> {
  if (!v || typeof v !== 'object') throw new Error(`checkpoint: no '${key}' state dict (a checkpoint stripped at the end of training cannot be resumed)`);
  const out = new Map<string, HostTensor>();
  for (const [k, t] of Object.entries(v)) {
    if (!(t instanceof TorchTensor)) throw new Error(`checkpoint: '${key}.${k}' is not a tensor`);
    out.set(k, { shape: t.shape, data: t.dtype === 'int64' ? (t.data as BigInt64Array) : t.toFloat32() });
  }
  return out;
}

export { readPoseCheckpoint };
