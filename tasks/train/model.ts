// The model a training run starts from (BaseTrainer.setup_model + PoseTrainer.get_model): a model
// yaml name builds a fresh network with the dataset's nc and kpt_shape; a .pt (ours or
// Ultralytics') gives the scale and the starting weights; `pretrained=<file>` loads weights into a
// yaml-built model. Weights transfer like Ultralytics' intersect_dicts: every entry whose name and
// shape match, so a checkpoint for another class count still gives its backbone.
//
// Imports: engine, models, nn, ../download.

import { extname } from 'node:path';
import type { Device } from '../../engine/index.js';
import { buildPoseModel, parsePoseName, PoseModel } from '../../models/yolov8_pose.js';
import { readPoseCheckpoint } from '../../models/checkpoint.js';
import { buildModelFromYaml } from '../../models/yaml_model.js';
import { existsSync } from 'node:fs';
import type { HostArray } from '../../nn/module.js';
import { attemptDownloadAsset } from '../download.js';

const isWeights = (s: string) => ['.pt', '.safetensors'].includes(extname(s).toLowerCase());

export interface ModelSetup {
  model: PoseModel;
  /** 'Transferred 355/397 items from pretrained weights', when weights were loaded */
  transfer: string | null;
}

/**
 * Builds the training model for `spec` (yaml name or weights file) with the dataset's classes and
 * keypoints. `pretrained` (a weights path) is used when `spec` is a yaml, as in Ultralytics.
 */
export async function setupModel(
  spec: string,
  o: {
    nc: number;
    kptShape: [number, number];
    names: Record<number, string>;
    pretrained: boolean | string;
    device: Device;
  },
): Promise<ModelSetup> {
  let model: PoseModel;
  let weights: Map<string, HostArray> | null = null;
  if (isWeights(spec)) {
    const ck = readPoseCheckpoint(await attemptDownloadAsset(spec));
    model = new PoseModel({ ...ck.yaml, nc: o.nc, kpt_shape: [...o.kptShape] as [number, number] }, o.device);
    weights = ck.stateDict;
  } else {
    model = existsSync(spec)
      ? buildModelFromYaml(spec, { nc: o.nc, kptShape: o.kptShape, device: o.device })
      : buildPoseModel({ ...parsePoseName(spec), nc: o.nc, kptShape: o.kptShape, device: o.device });
    if (typeof o.pretrained === 'string' && o.pretrained)
      weights = readPoseCheckpoint(await attemptDownloadAsset(o.pretrained)).stateDict;
  }
  model.names = { ...o.names };
  const transfer = weights ? transferWeights(model, weights) : null;
  return { model, transfer };
}

/** Loads every entry of `sd` whose name and shape match the model's; returns Ultralytics' log line. */
export function transferWeights(model: PoseModel, sd: Map<string, HostArray>): string {
  const own = model.stateDict();
  const csd = new Map(
    [...sd].filter(([k, v]) => {
      const t = own.get(k);
      return t && t.shape.length === v.shape.length && t.shape.every((d, i) => d === v.shape[i]);
    }),
  );
  model.loadStateDict(csd, { strict: false });
  return `Transferred ${csd.size}/${own.size} items from pretrained weights`;
}

/**
 * The EMA's own copy of the model (Ultralytics deep-copies it): same architecture and weights,
 * eval mode, nothing requiring gradients.
 */
export function emaCopy(model: PoseModel, device: Device): PoseModel {
  const ema = new PoseModel(model.yaml, device);
  ema.loadStateDict(model.stateDict());
  ema.names = { ...model.names };
  for (const p of ema.parameters()) p.requiresGrad = false;
  return ema.eval();
}
