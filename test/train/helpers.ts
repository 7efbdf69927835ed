// A tiny training setup shared by the trainer tests: the 4-image coco8-pose val fixture copied to a
// temp folder (train = val), yolov8n-pose at imgsz 32 on the cpu (deterministic), batch 4 (one
// iteration per epoch), no augmentation, validation only where Ultralytics always runs it.
import { cpSync, mkdtempSync, chmodSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrainOverrides } from '../../tasks/train/args.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/val/coco8-pose', import.meta.url));

/** A writable copy of the fixture dataset (the label cache is written beside its labels). */
export function tinyDataset(): string {
  const dir = mkdtempSync(join(tmpdir(), 'train-data-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const walk = (p: string) => {
    chmodSync(p, statSync(p).isDirectory() ? 0o755 : 0o644);
    if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(dir);
  return join(dir, 'coco8-pose.yaml');
}

/**
 * Arguments for a run that exercises accumulation across epochs: nbs 8 with batch 4 makes
 * accumulate 2 and no warmup, so the first epoch ends with gradients still pending.
 */
export function tinyArgs(data: string, project: string, name: string, extra: TrainOverrides = {}): TrainOverrides {
  return {
    data,
    model: 'yolov8n-pose.yaml',
    imgsz: 32,
    batch: 4,
    epochs: 2,
    device: 'cpu',
    nbs: 8,
    warmup_epochs: 0,
    mosaic: 0,
    fliplr: 0,
    hsv_h: 0,
    hsv_s: 0,
    hsv_v: 0,
    translate: 0,
    scale: 0,
    val: false,
    plots: false,
    workers: 0,
    project,
    name,
    exist_ok: true,
    ...extra,
  };
}

export const quiet = { log: () => {}, progressWrite: () => {} };
