// The fine-tune panel: dataset (bundled coco8-pose or a picked folder), epochs / imgsz / batch,
// Train, Pause / Resume, a live loss chart (the five loss terms after every step) and an mAP
// chart (after every validation), the log, and best.pt to download. The page's `window.yolo`
// reaches the same methods (test/web/finetune.test.ts).
//
// Imports: ../finetune, ./chart, ./pause, ./dataset_folder, ../platform/fs, tasks/train/results.
import { fetchDataset, fineTune, type FineTuneResult } from '../finetune.js';
import { LineChart } from './chart.js';
import { PauseGate } from './pause.js';
import { loadDatasetFolder, readPicked, type PickedFile } from './dataset_folder.js';
import { putFile } from '../platform/fs.js';
import { LOSS_NAMES } from '../../../tasks/train/results.js';
import type { TrainOverrides } from '../../../tasks/yolo.js';

// Ultralytics' results.png colours, one per loss term / metric
const LOSS_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
const MAP_KEYS = ['metrics/mAP50(B)', 'metrics/mAP50-95(B)', 'metrics/mAP50(P)', 'metrics/mAP50-95(P)'];
const MAP_NAMES = ['mAP50(B)', 'mAP50-95(B)', 'mAP50(P)', 'mAP50-95(P)'];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export interface TrainingState {
  running: boolean;
  /** optimizer steps (batches) done in this run */
  steps: number;
  paused: boolean;
  /** the trainer is held at the pause gate */
  waiting: boolean;
  lossPoints: number;
  mapPoints: number;
  dataset: string;
}

export class FineTuneView {
  readonly gate = new PauseGate();
  readonly loss = new LineChart(
    $<HTMLCanvasElement>('ft-loss'),
    'train loss (epoch mean so far)',
    LOSS_NAMES.map((n, i) => ({ name: n.replace('_loss', ''), color: LOSS_COLORS[i] })),
    'step',
  );
  readonly map = new LineChart(
    $<HTMLCanvasElement>('ft-map'),
    'val mAP (EMA weights)',
    MAP_NAMES.map((n, i) => ({ name: n, color: LOSS_COLORS[i] })),
    'epoch',
  );
  /** the dataset yaml to train on: the bundled coco8-pose (fetched at the first run) or a picked folder's */
  private data = { name: 'coco8-pose', yaml: 'coco8-pose.yaml', bundled: true };
  private running = false;
  private steps = 0;
  private readonly log = $('ft-log');
  private readonly pauseBtn = $<HTMLButtonElement>('ft-pause');

  constructor(private readonly onError: (msg: string) => void) {
    this.pauseBtn.disabled = true;
    this.pauseBtn.addEventListener('click', () => (this.gate.paused ? this.resume() : this.pause()));
    this.gate.onChange = (waiting) => {
      if (waiting) this.print(`paused after step ${this.steps}`);
    };
    $<HTMLInputElement>('ft-folder').addEventListener('change', (e) => {
      const files = (e.target as HTMLInputElement).files;
      if (files?.length)
        readPicked(files)
          .then((p) => this.pickFolder(p))
          .catch((err: Error) => this.onError(err.message));
    });
    $<HTMLSelectElement>('ft-data').addEventListener('change', (e) => {
      const v = (e.target as HTMLSelectElement).value;
      if (v === 'coco8-pose') this.data = { name: 'coco8-pose', yaml: 'coco8-pose.yaml', bundled: true };
      else this.data = { name: v.split('/')[2], yaml: v, bundled: false };
    });
  }

  get state(): TrainingState {
    return {
      running: this.running,
      steps: this.steps,
      paused: this.gate.paused,
      waiting: this.gate.waiting,
      lossPoints: this.loss.points.length,
      mapPoints: this.map.points.length,
      dataset: this.data.name,
    };
  }

  private print(s: string) {
    this.log.textContent += s + '\n';
  }

  /** A picked folder (Ultralytics' layout) becomes the dataset of the next run. */
  pickFolder(picked: PickedFile[]) {
    const d = loadDatasetFolder(picked);
    this.data = { name: d.name, yaml: d.yaml, bundled: false };
    const sel = $<HTMLSelectElement>('ft-data');
    if (![...sel.options].some((o) => o.value === d.yaml)) sel.add(new Option(`${d.name} (folder)`, d.yaml));
    sel.value = d.yaml;
    const kpt = d.config.kptShape.join('x');
    this.print(`dataset ${d.name}: ${d.files} files, ${d.config.nc} classes, keypoints ${kpt} (${d.yaml})`);
    return { name: d.name, yaml: d.yaml, files: d.files };
  }

  pause() {
    if (!this.running) return;
    this.gate.pause();
    this.pauseBtn.textContent = 'Resume';
  }

  resume() {
    this.gate.resume();
    this.pauseBtn.textContent = 'Pause';
    if (this.running) this.print('resumed');
  }

  /** One training run from the checkpoint bytes `weights` on `device`; charts and log follow it. */
  async run(weights: Uint8Array, device: string, a: TrainOverrides): Promise<FineTuneResult> {
    if (this.running) throw new Error('a fine-tune is already running (pause or wait for it)');
    this.running = true;
    this.steps = 0;
    this.loss.clear();
    this.map.clear();
    this.log.textContent = '';
    $('ft-best').style.display = 'none';
    const start = $<HTMLButtonElement>('ft-start');
    start.disabled = true;
    this.pauseBtn.disabled = false;
    this.pauseBtn.textContent = 'Pause';
    const t0 = performance.now();
    try {
      const path = putFile('/models/finetune-from.pt', weights);
      if (this.data.bundled) {
        this.print(`fetching ${this.data.name}…`);
        this.print(`${await fetchDataset(this.data.name)} files`);
      }
      this.print(LOSS_NAMES.join('  '));
      const args = { data: this.data.yaml, device, epochs: 1, batch: 2, imgsz: 160, ...a };
      for (const k of ['epochs', 'imgsz', 'batch'] as const) $<HTMLInputElement>(`ft-${k}`).value = String(args[k]); // a run started from window.yolo shows its own
      const r = await fineTune(path, args, {
        gate: this.gate,
        onPhase: (what) => this.print(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${what}`),
        onStep: (step, tl, epoch) => {
          this.steps = step;
          this.loss.push(step, tl);
          const at = ((performance.now() - t0) / 1000).toFixed(1);
          this.print(`[${at} s] epoch ${epoch + 1} step ${step}: ${tl.map((v) => v.toFixed(4)).join('  ')}`);
        },
        onVal: (epoch, m) => {
          this.map.push(
            epoch,
            MAP_KEYS.map((k) => m[k] ?? 0),
          );
          this.print(
            `epoch ${epoch} val: ${MAP_NAMES.map((n, i) => `${n} ${(m[MAP_KEYS[i]] ?? 0).toFixed(4)}`).join('  ')}`,
          );
        },
        onFinal: (m) =>
          this.print(`best.pt: ${MAP_NAMES.map((n, i) => `${n} ${(m[MAP_KEYS[i]] ?? 0).toFixed(4)}`).join('  ')}`),
      });
      this.print(`done in ${(r.ms / 1000).toFixed(1)} s: ${r.bestPath}`);
      if (r.best) {
        const link = $<HTMLAnchorElement>('ft-best');
        link.href = URL.createObjectURL(new Blob([r.best as BlobPart], { type: 'application/octet-stream' }));
        link.style.display = 'inline';
      }
      return r;
    } finally {
      this.running = false;
      this.gate.resume();
      start.disabled = false;
      this.pauseBtn.disabled = true;
      this.pauseBtn.textContent = 'Pause';
    }
  }
}
