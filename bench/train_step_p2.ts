// Issue 11 P2: one full yolov8n-pose training step — train-mode forward, v8PoseLoss, backward,
// gradient clipping at 10, SGD step — at batch 8, imgsz 320, on the bundled coco8-pose images (all
// 8: train and val folders, letterboxed without augmentation), per device, beside PyTorch running
// the same network with the same weights on the same batch (bench/torch_train_step.py).
//
// Optimizer, both sides: SGD lr 0.01, momentum 0.937, nesterov, weight decay 5e-4 on conv/linear
// weights only (Ultralytics' three parameter groups; our trainer's `optimizer=SGD` build at
// batch 8 / nbs 64, where the decay scaling is 1). Ultralytics' default `optimizer=auto` would pick
// AdamW for a short run; the step costs the same apart from the update itself.
//
// Printed per row: wall ms and process CPU ms per step (median of --runs after --warmup steps),
// ratio to PyTorch (wall and CPU), the first step's loss items (ours vs PyTorch's on the same batch
// and weights: the two losses agree), the load at start and end.
//
// usage: npx tsx bench/train_step_p2.ts [--devices webgpu,wasm] [--runs 3] [--warmup 1] [--threads 2[,1]]
//        [--weights test/fixtures/predict/yolov8n-pose-coco128.pt]
// --threads: PyTorch's thread counts, one row each; ratios are to the first.
// The cpu device (the TypeScript reference) takes minutes per step: add it to --devices to run it once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import { writeSafetensors } from '../engine/io/safetensors.js';
import type { PoseBatch } from '../tasks/data/loader.js';
import { BATCH, coco8Batch, IMGSZ, trainStep } from './train_step.js';
import { f1, f2, machineLoad, MemoryWatch, openDevices, opt, runTorch, timeRuns, type Timing } from './common.js';
import { printProfile, profiler } from '../engine/profile.js';

const runs = Number(opt('runs', '3'));
const warmup = Number(opt('warmup', '1'));
const threads = opt('threads', '2');
const weights = opt('weights', 'test/fixtures/predict/yolov8n-pose-coco128.pt');
const deviceNames = opt('devices', 'webgpu,wasm').split(',');
const ITEMS = ['box', 'pose', 'kobj', 'cls', 'dfl'];

interface Row {
  what: string;
  t?: Timing;
  items?: number[];
  note?: string;
}

async function benchDevice(device: E.Device, batch: PoseBatch): Promise<Row> {
  const { model, step: once } = trainStep(device, weights, batch);
  let first: number[] | undefined;
  const step = async () => {
    const v = await once();
    first ??= v;
  };
  const slow = device.type === 'cpu';
  const mem = new MemoryWatch(device);
  const t = await timeRuns(slow ? 1 : runs, slow ? 0 : warmup, step, mem);
  for (const [, p] of [...model.namedParameters(), ...model.namedBuffers()]) p.dispose();
  return { what: `yolo-ts ${device.type} (${device.name})`, t, items: first, note: mem.note() };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-p2-'));
const rows: Row[] = [];
const loadStart = machineLoad();
let torch: Row | undefined;
try {
  const batch = coco8Batch();
  const file = join(dir, 'batch.safetensors');
  const n = batch.batchIdx.length;
  writeSafetensors(file, {
    images: { dtype: 'F32', shape: [...batch.shape], data: batch.images },
    batch_idx: { dtype: 'F32', shape: [n], data: batch.batchIdx },
    cls: { dtype: 'F32', shape: [n, 1], data: batch.cls },
    bboxes: { dtype: 'F32', shape: [n, 4], data: batch.bboxes },
    keypoints: { dtype: 'F32', shape: [n, 17, 3], data: batch.keypoints },
  });
  console.log(
    `P2: yolov8n-pose training step, batch ${BATCH} x ${IMGSZ}, coco8-pose (${n} people), weights ${weights}; ${loadStart}`,
  );

  for (const device of await openDevices(deviceNames)) {
    profiler.reset();
    rows.push(await benchDevice(device, batch));
    if (profiler.enabled) await printProfile(`P2 train step on ${device.type}`);
  }
  for (const th of threads.split(',')) {
    const tr = runTorch('bench/torch_train_step.py', [
      '--batch',
      file,
      '--weights',
      weights,
      '--runs',
      String(runs),
      '--warmup',
      String(warmup),
      '--threads',
      th,
    ]);
    const row: Row = tr.ok
      ? {
          what: `PyTorch ${tr.r.torch} CPU, ${tr.r.threads} threads`,
          t: { wall: tr.r.wall_ms_median, wallMin: tr.r.wall_ms_min, cpu: tr.r.cpu_ms_median, runs: tr.r.runs },
          items: tr.r.first_items,
          note: `peak RSS ${tr.r.peak_rss_mb.toFixed(0)} MB`,
        }
      : { what: 'PyTorch CPU', note: `skipped: ${tr.why}` };
    torch ??= row; // ratios are to the first thread count listed
    rows.push(row);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  E.releaseDevices();
}

const base = torch?.t;
console.log(
  `\n| P2 train step b${BATCH}x${IMGSZ} | runs | wall ms | CPU ms | wall / PyTorch | CPU / PyTorch | first step loss items (${ITEMS.join(', ')}) | note |`,
);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.what} | ${r.t?.runs ?? 0} | ${f1(r.t?.wall)} | ${f1(r.t?.cpu)} | ${base && r.t ? f2(r.t.wall / base.wall) : '-'} | ${base && r.t ? f2(r.t.cpu / base.cpu) : '-'} | ${r.items ? r.items.map((v) => v.toFixed(4)).join(' ') : '-'} | ${r.note ?? ''} |`,
  );
for (const r of rows)
  if (!r.what.startsWith('PyTorch') && r.items && torch?.items) {
    const rel = Math.max(
      ...r.items.map((v, i) => Math.abs(v - torch!.items![i]) / Math.max(Math.abs(torch!.items![i]), 1e-12)),
    );
    console.log(
      `${r.what}: first-step loss items vs PyTorch's on the same batch and weights: max relative difference ${rel.toExponential(2)}`,
    );
  }
console.log(`load at start: ${loadStart}; at end: ${machineLoad()}`);
