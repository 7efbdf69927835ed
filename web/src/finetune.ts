// Fine-tuning in the tab: the YOLO class's train() (tasks/train/trainer.ts), the same code as
// `yolo pose train`, on the bundled coco8-pose fetched into the in-memory file tree or on a folder
// the user picked (./train/dataset_folder.ts); the run folder (weights/best.pt, results.csv) is
// written there too and best.pt is offered for download. The page follows the run through
// Ultralytics' callbacks: each batch's losses, each validation's metrics, and a pause gate the
// trainer awaits between batches (./train/pause.ts).
import { getFile, putFile } from './platform/fs.js';
import { YOLO } from '../../tasks/yolo.js';
import type { TrainOverrides } from '../../tasks/yolo.js';
import type { PauseGate } from './train/pause.js';

/** Fetches data/<name>/ (as `yolo app` lists it) into /data/<name>/, where 'coco8-pose.yaml' resolves. */
export async function fetchDataset(name = 'coco8-pose'): Promise<number> {
  const r = await fetch(`/data-files/${name}`);
  if (!r.ok) throw new Error(`dataset ${name}: the server does not offer it (HTTP ${r.status})`);
  const files = (await r.json()) as string[];
  await Promise.all(
    files.map(async (f) => {
      const b = await fetch(`/data/${name}/${f}`);
      if (!b.ok) throw new Error(`dataset ${name}: ${f}: HTTP ${b.status}`);
      putFile(`/data/${name}/${f}`, new Uint8Array(await b.arrayBuffer()));
    }),
  );
  return files.length;
}

/** What the trainer exposes to callbacks that the page reads (a subset of PoseTrainer). */
interface TrainerView {
  tloss: number[] | null;
  epoch: number;
  metrics: Record<string, number>;
}

export interface FineTuneHooks {
  /** after each batch: the global step (1-based) and trainer.tloss, the epoch's running mean of (box, pose, kobj, cls, dfl) */
  onStep?: (step: number, tloss: number[], epoch: number) => void;
  /** after each epoch that validated: the epoch (1-based) and its metrics (metrics/mAP50(B) ...) */
  onVal?: (epoch: number, metrics: Record<string, number>) => void;
  /** the final validation of best.pt (after the last epoch) */
  onFinal?: (metrics: Record<string, number>) => void;
  /** awaited between batches: the run holds while it is shut */
  gate?: PauseGate;
  /** the run's phases between the steps, for the log: validating, saving, ... */
  onPhase?: (what: string) => void;
}

export interface FineTuneResult {
  /** trainer.tloss after each step: the epoch's running mean of (box, pose, kobj, cls, dfl) */
  losses: number[][];
  /** each validated epoch's metrics, in order */
  vals: { epoch: number; metrics: Record<string, number> }[];
  best: Uint8Array | null;
  bestPath: string;
  ms: number;
}

/** Trains from the checkpoint at `weightsPath` (in the file tree) with the page's hooks. */
export async function fineTune(
  weightsPath: string,
  args: TrainOverrides,
  hooks: FineTuneHooks = {},
): Promise<FineTuneResult> {
  const yolo = new YOLO(weightsPath);
  const losses: number[][] = [];
  const vals: FineTuneResult['vals'] = [];
  // on_fit_epoch_end fires after each epoch and once more after best.pt's final validation;
  // an epoch's point is drawn only when that epoch validated (on_val_end in between)
  let inEpoch = false;
  let validated = false;
  yolo.addCallback('on_train_batch_end', async (tr) => {
    const t = tr as TrainerView;
    if (!t.tloss) return;
    losses.push([...t.tloss]);
    hooks.onStep?.(losses.length, t.tloss, t.epoch);
    await hooks.gate?.wait();
  });
  const phase = (what: string) => () => hooks.onPhase?.(what);
  yolo.addCallback('on_pretrain_routine_end', phase('set up: model, data, optimizer'));
  yolo.addCallback('on_train_epoch_end', (tr) => {
    inEpoch = true;
    validated = false;
    hooks.onPhase?.(`epoch ${(tr as TrainerView).epoch + 1} trained`);
  });
  yolo.addCallback('on_val_start', phase('validating'));
  yolo.addCallback('on_val_end', () => {
    validated = true;
    hooks.onPhase?.('validated');
  });
  yolo.addCallback('on_model_save', phase('last.pt / best.pt saved'));
  yolo.addCallback('on_fit_epoch_end', (tr) => {
    const t = tr as TrainerView;
    if (inEpoch && validated) {
      vals.push({ epoch: t.epoch + 1, metrics: { ...t.metrics } });
      hooks.onVal?.(t.epoch + 1, t.metrics);
    } else if (!inEpoch && validated) hooks.onFinal?.(t.metrics);
    inEpoch = validated = false;
  });
  const t0 = performance.now();
  const r = await yolo.train({
    data: 'coco8-pose.yaml',
    workers: 0,
    plots: false,
    project: '/runs',
    name: 'tab',
    exist_ok: true,
    ...args,
  });
  return { losses, vals, best: getFile(r.best), bestPath: r.best, ms: performance.now() - t0 };
}
