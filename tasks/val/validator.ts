// Ultralytics' PoseValidator (models/yolo/pose/val.py over detect/val.py and engine/validator.py):
// rectangular letterboxed batches, NMS at conf 0.001 / iou 0.7 / max_det 300, box IoU and keypoint
// OKS true positives at 0.50:0.05:0.95 in original-image pixels, PoseMetrics, the console table,
// speed per image, predictions.json and the plots.
//
//   const v = new PoseValidator({ data: 'coco8-pose.yaml', imgsz: 640, batch: 16 });
//   const r = await v.run(model, device);        // r.metrics.box.map, r.metrics.pose.map50, ...
//
// Imports: engine (tensor), ../data, ../predict/save, ./*.

import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { tensor, type Device, type Tensor } from '../../engine/index.js';
import { loadPoseSplit, type DatasetConfig } from '../data/dataset.js';
import { getSaveDir } from '../predict/save.js';
import { ConfusionMatrix } from './confusion.js';
import { loadValBatch, rectBatches, type ValBatch } from './loader.js';
import { keypointSigmas } from '../../nn/loss/keypoint_loss.js';
import { boxIou, kptIou, matchPredictions, oksAreas, PoseMetrics } from './metrics.js';
import { toNative, type NativeDetections } from './postprocess.js';
import { nonMaxSuppression } from '../predict/nms.js';
import { cocoClassMap, formatRow, headerRow } from './report.js';
import type { Callbacks } from '../callbacks.js';
import { checkDataset } from '../data/dataset_download.js';
import { saveValTxt } from './save_txt.js';
import { plotCurves, plotConfusion, plotValBatch } from './plots.js';
import { ProgressBar, type ProgressOptions } from '../progress.js';
import { dirname } from 'node:path';

/** What the validator needs from a model: eval-mode predictions (B, 4 + nc + K * dims, A). */
export interface ValModel {
  predict(x: Tensor): Tensor;
  stride: number[];
  names: Record<number, string>;
  kptShape: [number, number];
  /**
   * Exported models with a fixed input (an .onnx without dynamic axes) have pt false, dynamic false and
   * their export batch: Ultralytics validates them without rect batches, at square imgsz, batch = that.
   */
  pt?: boolean;
  dynamic?: boolean;
  batch?: number;
  /** the export size of such a model (the default imgsz) */
  imgsz?: [number, number];
}

export interface ValArgs {
  /** dataset yaml path, or an already loaded config */
  data: string | DatasetConfig;
  imgsz?: number;
  batch?: number;
  conf?: number;
  iou?: number;
  max_det?: number;
  split?: 'val' | 'test' | 'train';
  save_json?: boolean;
  /** labels/<stem>.txt per image with detections (Results.save_txt's format), and their confidences */
  save_txt?: boolean;
  save_conf?: boolean;
  /** PR/F1 curves, confusion matrix, val_batch images (default true) */
  plots?: boolean;
  project?: string | null;
  name?: string | null;
  exist_ok?: boolean;
  /** print the table (per-class rows too) and speed (default true) */
  verbose?: boolean;
  /** the run folder; default runs/pose/val{N} */
  save_dir?: string;
  /** where the model file came from, for error messages */
  model_path?: string;
}

export interface ValResult {
  metrics: PoseMetrics;
  /** metrics/precision(B) ... metrics/mAP50-95(P), fitness */
  resultsDict: Record<string, number>;
  speed: PoseMetrics['speed'];
  confusionMatrix: ConfusionMatrix;
  seen: number;
  nInstances: number;
  saveDir: string | null;
  /** predictions.json records when save_json */
  jdict: Record<string, unknown>[];
  /** images skipped as corrupt (unreadable image or bad label line), each naming the file */
  corrupt: string[];
}

const DEFAULTS = { imgsz: 640, batch: 16, conf: 0.001, iou: 0.7, max_det: 300, split: 'val' as 'val' | 'test' | 'train', save_json: false, plots: true, verbose: true };

export class PoseValidator {
  readonly args: typeof DEFAULTS & ValArgs;
  log: (s: string) => void = console.log;
  /** Ultralytics' on_val_* events (tasks/callbacks.ts), given this validator */
  callbacks: Callbacks | null = null;
  /** the scan line and the batch bar (header as its description); default: stderr, drawn only on a terminal */
  progress: Omit<ProgressOptions, 'desc' | 'initial'> | null = null;

  constructor(args: ValArgs) {
    this.args = { ...DEFAULTS, ...args };
    for (const k of ['conf', 'iou'] as const) {
      const v = this.args[k];
      if (!(v >= 0 && v <= 1)) throw new Error(`val: ${k}=${v} must be between 0.0 and 1.0`);
    }
    if (!(Number.isInteger(this.args.batch) && this.args.batch > 0)) throw new Error(`val: batch=${this.args.batch} must be a positive integer`);
  }

  /**
   * Validates `model` on `device` (where its weights live). `training`: no plots, no per-class rows.
   * `onBatch` runs after each batch's forward pass (the trainer computes the val losses there).
   */
  async run(model: ValModel, device: Device, opts: { training?: boolean; onBatch?: (batch: ValBatch) => Promise<void> | void } = {}): Promise<ValResult> {
    const a = this.args;
    const data = await checkDataset(a.data, { log: this.log }); // a missing dataset's `download:` zip is fetched first
    checkModelMatchesData(model, data, a.model_path);
    const stride = Math.max(...model.stride, 32);
    const imgsz = Math.max(Math.ceil(a.imgsz / stride) * stride, stride);
    if (imgsz !== a.imgsz) this.log(`WARNING ⚠️ imgsz=${a.imgsz} must be multiple of max stride ${stride}, updating to ${imgsz}`);
    const split = loadPoseSplit(data, a.split, (m) => this.log(m));
    const showBar = a.verbose && (this.progress ? true : !!process.stderr.isTTY);
    if (showBar && !opts.training && split.samples.length) {
      const n = split.samples.length, bg = split.nMissing + split.nEmpty;
      new ProgressBar(n, { ...this.progress, desc: `${a.split}: Scanning ${dirname(split.samples[0].labelFile)}... ${n} images, ${bg} backgrounds, 0 corrupt`, initial: n }).close();
    }
    const samples = split.samples;
    const corrupt = [...split.corrupt]; // skipped at the scan, then any that fail to decode
    const fixed = model.pt === false && !model.dynamic; // BaseValidator: not pt -> rect=False, batch from metadata
    if (fixed) this.log(`Setting batch=${model.batch ?? 1} input of shape (${model.batch ?? 1}, 3, ${imgsz}, ${imgsz})`);
    const plan = fixed ? squareBatches(samples.length, model.batch ?? 1, imgsz) : rectBatches(samples.map((s) => s.shape), a.batch, imgsz, stride, 0.5);

    const plots = a.plots && !opts.training;
    const saveDir = opts.training && !a.save_dir ? null : (a.save_dir ?? getSaveDir({ project: a.project, name: a.name, existOk: !!a.exist_ok, mode: 'val' }));
    if (saveDir && (plots || a.save_json)) mkdirSync(saveDir, { recursive: true });

    const names = model.names;
    const nc = Object.keys(names).length;
    const kptShape = data.kptShape;
    const sigma = keypointSigmas(kptShape);
    const classMap = a.save_json ? cocoClassMap(data, a.split, nc) : [];
    const metrics = new PoseMetrics(names);
    const cm = new ConfusionMatrix(nc, a.conf);
    const stats = { tp: [] as number[], tpP: [] as number[], conf: [] as number[], predCls: [] as number[], targetCls: [] as number[], targetImg: [] as number[] };
    const jdict: Record<string, unknown>[] = [];
    const dt = [0, 0, 0, 0]; // preprocess, inference, loss, postprocess (ms)
    let seen = 0;

    await this.callbacks?.run('on_val_start', this);
    // the header row is the batch bar's description on a terminal (as Ultralytics' tqdm), else a log line
    const bar = showBar ? new ProgressBar(plan.batches.length, { ...this.progress, desc: headerRow() }) : null;
    if (a.verbose && !bar) this.log(headerRow());
    for (const [bi, positions] of plan.batches.entries()) {
      await this.callbacks?.run('on_val_batch_start', this);
      const t0 = performance.now();
      const batchSamples = positions.map((p) => samples[plan.order[p]]);
      const batch = loadValBatch(batchSamples, plan.shapes[bi], imgsz, kptShape, (e) => {
        corrupt.push(e.message);
        this.log(`${a.split}: WARNING: ${e.file}: ignoring corrupt image: ${e.message}`);
      });
      if (!batch.images.length) continue;
      const [H, W] = batch.shape;
      const x = tensor(batch.input, [batch.images.length, 3, H, W], { device });
      const t1 = performance.now();
      let pred: Float32Array, shape: number[];
      try {
        const out = model.predict(x);
        try {
          pred = (await out.data()) as Float32Array;
          shape = [...out.shape];
        } finally {
          out.dispose();
        }
      } finally {
        x.dispose();
      }
      const t2 = performance.now();
      await opts.onBatch?.(batch);
      const t2b = performance.now();
      const dets = nonMaxSuppression(pred, shape, { conf: a.conf, iou: a.iou, maxDet: a.max_det, nc, multiLabel: true });
      const t3 = performance.now();
      dt[0] += t1 - t0, dt[1] += t2 - t1, dt[2] += t2b - t2, dt[3] += t3 - t2b;

      batch.images.forEach((im, si) => {
        seen++;
        const det = toNative(dets[si], batch.shape, im.ori, im.ratioPad, kptShape);
        const nl = im.cls.length, npr = det.n;
        const targetImg = [...new Set(im.cls)];
        if (npr === 0) {
          if (nl) {
            stats.targetCls.push(...im.cls), stats.targetImg.push(...targetImg);
            if (plots) cm.processBatch(null, im.boxes, im.cls);
          }
          return;
        }
        let tp: ArrayLike<number> = new Uint8Array(npr * 10), tpP: ArrayLike<number> = tp;
        if (nl) {
          tp = matchPredictions(det.cls, im.cls, boxIou(im.boxes, det.boxes));
          tpP = matchPredictions(det.cls, im.cls, kptIou(im.kpts, det.kpts, oksAreas(im.boxes), sigma, kptShape[1]));
          if (plots) cm.processBatch(det, im.boxes, im.cls);
        }
        for (let i = 0; i < tp.length; i++) stats.tp.push(tp[i]), stats.tpP.push(tpP[i]);
        stats.conf.push(...det.conf), stats.predCls.push(...det.cls);
        stats.targetCls.push(...im.cls), stats.targetImg.push(...targetImg);
        if (a.save_json) jdict.push(...predToJson(det, im.imFile, classMap, kptShape));
        if (a.save_txt && saveDir) saveValTxt(det, im.ori, im.imFile, names, kptShape, !!a.save_conf, saveDir);
      });
      if (plots && saveDir && bi < 3) plotValBatch(batch, dets, names, kptShape, saveDir, bi);
      await this.callbacks?.run('on_val_batch_end', this);
      bar?.update();
    }
    bar?.close();

    // get_stats: metrics only when some box is a true positive, as Ultralytics.
    const ntPerClass = bincount(stats.targetCls, nc), ntPerImage = bincount(stats.targetImg, nc);
    if (stats.tp.some((v) => v)) metrics.process(stats.tp, stats.tpP, stats.conf, stats.predCls, stats.targetCls);
    const nImages = samples.length;
    metrics.speed = { preprocess: dt[0] / nImages, inference: dt[1] / nImages, loss: dt[2] / nImages, postprocess: dt[3] / nImages };

    if (a.verbose) {
      this.log(formatRow('all', seen, ntPerClass.reduce((s, v) => s + v, 0), metrics.meanResults()));
      if (!opts.training && nc > 1)
        metrics.apClassIndex.forEach((c, i) => this.log(formatRow(names[c], ntPerImage[c], ntPerClass[c], metrics.classResult(i))));
    }
    if (plots && saveDir) {
      plotCurves(metrics, names, saveDir);
      plotConfusion(cm, names, saveDir);
    }
    if (!opts.training && a.verbose) {
      const s = metrics.speed;
      this.log(`Speed: ${s.preprocess.toFixed(1)}ms preprocess, ${s.inference.toFixed(1)}ms inference, ${s.loss.toFixed(1)}ms loss, ${s.postprocess.toFixed(1)}ms postprocess per image`);
    }
    if (a.save_json && saveDir && jdict.length) {
      const file = join(saveDir, 'predictions.json');
      this.log(`Saving ${file}...`);
      writeFileSync(file, JSON.stringify(jdict));
    }
    if (saveDir && (plots || a.save_json) && a.verbose) this.log(`Results saved to ${saveDir}`);
    if (corrupt.length) this.log(`${a.split}: WARNING: ${corrupt.length} corrupt image(s)/label(s) skipped:\n  ${corrupt.join('\n  ')}`);
    await this.callbacks?.run('on_val_end', this);
    return { metrics, resultsDict: metrics.resultsDict, speed: metrics.speed, confusionMatrix: cm, seen, nInstances: split.nInstances, saveDir, jdict, corrupt };
  }
}

/** A clear error when the model and the data disagree on keypoints or classes. */
export function checkModelMatchesData(model: ValModel, data: DatasetConfig, modelPath = 'the model'): void {
  const [mk, md] = model.kptShape, [dk, dd] = data.kptShape;
  if (mk !== dk || md !== dd)
    throw new Error(`kpt_shape mismatch: ${modelPath} predicts kpt_shape [${mk}, ${md}] but ${data.yamlFile} has kpt_shape [${dk}, ${dd}]`);
  const nc = Object.keys(model.names).length;
  if (nc !== data.nc) throw new Error(`class count mismatch: ${modelPath} has ${nc} classes but ${data.yamlFile} has ${data.nc} (names: ${Object.values(data.names).join(', ')})`);
}

function bincount(v: number[], n: number): number[] {
  const out = new Array<number>(n).fill(0);
  for (const x of v) out[x] = (out[x] ?? 0) + 1;
  return out;
}

const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;

/** pred_to_json: one COCO record per detection, in original pixels. */
function predToJson(det: NativeDetections, imFile: string, classMap: number[], kptShape: [number, number]): Record<string, unknown>[] {
  const stem = basename(imFile, extname(imFile));
  const imageId = /^\d+$/.test(stem) ? Number(stem) : stem;
  const per = kptShape[0] * kptShape[1];
  return Array.from({ length: det.n }, (_, i) => {
    const [x1, y1, x2, y2] = det.boxes.subarray(i * 4, i * 4 + 4);
    return {
      image_id: imageId,
      category_id: classMap[det.cls[i]],
      bbox: [x1, y1, x2 - x1, y2 - y1].map((v) => round(v, 3)),
      keypoints: Array.from(det.kpts.subarray(i * per, (i + 1) * per)),
      score: round(det.conf[i], 5),
    };
  });
}

/** Without rect: file order, every batch letterboxed to imgsz x imgsz (an exported model's fixed input). */
function squareBatches(n: number, batch: number, imgsz: number) {
  const order = Array.from({ length: n }, (_, i) => i);
  const batches: number[][] = [];
  for (let s = 0; s < n; s += batch) batches.push(order.slice(s, s + batch));
  return { order, batches, shapes: batches.map(() => [imgsz, imgsz] as [number, number]) };
}
