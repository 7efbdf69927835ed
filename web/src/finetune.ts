// Fine-tuning in the tab: the YOLO class's train() (tasks/train/trainer.ts), the same code as
// `yolo pose train`, on a bundled dataset fetched into the in-memory file tree; the run folder
// (weights/best.pt, results.csv) is written there too and best.pt is offered for download.
import { getFile, putFile } from './platform/fs.js';
import { YOLO } from '../../tasks/yolo.js';
import type { TrainOverrides } from '../../tasks/yolo.js';

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

export interface FineTuneResult {
  /** trainer.tloss after each step: the epoch's running mean of (box, pose, kobj, cls, dfl) */
  losses: number[][];
  best: Uint8Array | null;
  bestPath: string;
  ms: number;
}

/** Trains from the checkpoint at `weightsPath` (in the file tree); `onStep` sees each step's losses. */
export async function fineTune(
  weightsPath: string,
  args: TrainOverrides,
  onStep?: (tloss: number[], epoch: number) => void,
): Promise<FineTuneResult> {
  const yolo = new YOLO(weightsPath);
  const losses: number[][] = [];
  yolo.addCallback('on_train_batch_end', (tr) => {
    const t = tr as { tloss: number[] | null; epoch: number };
    if (!t.tloss) return;
    losses.push([...t.tloss]);
    onStep?.(t.tloss, t.epoch);
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
  return { losses, best: getFile(r.best), bestPath: r.best, ms: performance.now() - t0 };
}
