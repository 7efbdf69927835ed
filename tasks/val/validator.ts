// Ultralytics' PoseValidator (models/yolo/pose/val.py over detect/val.py and engine/validator.py):
// rectangular letterboxed batches, NMS at conf 0.001 / iou 0.7 / max_det 300, box IoU and keypoint
// OKS true positives at 0.50:0.05:0.95 in original-image pixels, PoseMetrics, the console table,
// speed per image, predictions.json and the plots.
//
//   const v = new PoseValidator({ data: 'coco8-pose.yaml', imgsz: 640, batch: 16 });
//   const r = await v.run(model, device);        // r.metrics.box.map, r.metrics.pose.map50, ...
//
// run() is BaseValidator.__call__'s steps: setup, then per batch preprocess -> inference -> loss
// (training only) -> postprocess -> updateMetrics, then finalize. The trainer runs it with its
// criterion to get the val losses from the same forward pass. Batches come from the trainer's
// dataset class in val mode (PoseDataset, augment off: build_dataset(mode='val')).
//
// Imports: engine, models (PoseModel, for the val loss), nn (sigmas, loss types), ../data, ../predict, ./*.

import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { noGrad, tensor, tidyAsync, type Device, type Tensor } from '../../engine/index.js';
import { PoseModel } from '../../models/yolov8_pose.js';
import type { PoseEvalOutput, PoseTrainOutput } from '../../nn/head.js';
import type { V8PoseLoss } from '../../nn/loss/v8_pose_loss.js';
import type { DatasetConfig } from '../data/dataset.js';
import type { LabelScan } from '../data/cache.js';
import { PoseDataset, type PoseBatch } from '../data/loader.js';
import { getSaveDir } from '../predict/save.js';
import { ConfusionMatrix } from './confusion.js';
import { prepareBatch, type ValImage } from './prepare_batch.js';
import { keypointSigmas } from '../../nn/loss/keypoint_loss.js';
import { boxIou, kptIou, matchPredictions, oksAreas, PoseMetrics } from './metrics.js';
import { toNative, type NativeDetections } from './postprocess.js';
import { nonMaxSuppression, type Detections } from '../predict/nms.js';
import { predictAugment } from '../predict/augment.js';
import { cocoClassMap, formatRow, headerRow } from './report.js';
import type { Callbacks } from '../callbacks.js';
import { checkDataset } from '../data/dataset_download.js';
import { saveValTxt } from './save_txt.js';
import { appendHybridLabels, HYBRID_WARNING } from './hybrid.js';
import { plotCurves, plotConfusion, plotValBatch } from './plots.js';
import { ProgressBar, stderrIsTTY, type ProgressOptions } from '../progress.js';

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
  /** test-time augmentation (../predict/augment.ts); ignored inside training, as Ultralytics */
  augment?: boolean;
  /** every label becomes class 0, class-agnostic NMS, every prediction class 0 (Ultralytics' single_cls) */
  single_cls?: boolean;
  /** only the labels of these class ids are kept (Ultralytics' build_yolo_dataset(classes=); predictions are not filtered) */
  classes?: number[] | number | null;
  /** ground truth appended to the predictions before NMS, for autolabelling (wrong mAP; ./hybrid.ts) */
  save_hybrid?: boolean;
  /** FP16 compiled forward on webgpu with shader-f16, else FP32 with a warning saying why (../half.ts) */
  half?: boolean;
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
  /** with a criterion: the mean val losses (box, pose, kobj, cls, dfl) over the batches */
  loss: number[] | null;
}

const DEFAULTS = {
  imgsz: 640,
  batch: 16,
  conf: 0.001,
  iou: 0.7,
  max_det: 300,
  split: 'val' as 'val' | 'test' | 'train',
  save_json: false,
  plots: true,
  verbose: true,
};

/** A batch after preprocess: the collated batch, its images' labels in original pixels, and the (B, 3, H, W) input on the device. */
export interface ValInput {
  batch: PoseBatch;
  images: ValImage[];
  x: Tensor;
}

/** The model output of one batch, read back: (B, 4 + nc + K * dims, A). */
export interface ValOutput {
  pred: Float32Array;
  shape: number[];
  /** the eval-mode raw head maps, kept only when the run computes the val loss (training) */
  raw: PoseTrainOutput | null;
}

/** Options of one run. */
export interface ValRunOptions {
  /** validation inside training: no plots, no per-class rows, no scan line */
  training?: boolean;
  /**
   * The trainer's criterion: the val losses are computed on the same forward pass, from the eval-mode
   * raw maps, and averaged over the batches (ValResult.loss), as BaseValidator does with model.loss.
   * The model must then be a PoseModel (its forward gives the raw maps).
   */
  criterion?: V8PoseLoss;
}

/** What one run keeps between its steps (BaseValidator's self.* for one call). */
interface RunState {
  training: boolean;
  criterion: V8PoseLoss | null;
  device: Device;
  /** the split's label scan (counts, corrupt images) */
  scan: LabelScan;
  /** the split in val mode: rect batches (or square ones for a fixed-input model), no augmentation */
  dataset: PoseDataset;
  plots: boolean;
  saveDir: string | null;
  names: Record<number, string>;
  nc: number;
  kptShape: [number, number];
  sigma: ArrayLike<number>;
  classMap: number[];
  metrics: PoseMetrics;
  cm: ConfusionMatrix;
  stats: { tp: number[]; tpP: number[]; conf: number[]; predCls: number[]; targetCls: number[]; targetImg: number[] };
  jdict: Record<string, unknown>[];
  /** preprocess, inference, loss, postprocess (ms) */
  dt: [number, number, number, number];
  lossSums: Float64Array;
  lossBatches: number;
  seen: number;
  corrupt: string[];
  showBar: boolean;
}

export class PoseValidator {
  readonly args: typeof DEFAULTS & ValArgs;
  log: (s: string) => void = console.log;
  /** Ultralytics' on_val_* events (tasks/callbacks.ts), given this validator */
  callbacks: Callbacks | null = null;
  /** the scan line and the batch bar (header as its description); default: stderr, drawn only on a terminal */
  progress: Omit<ProgressOptions, 'desc' | 'initial'> | null = null;
  private state: RunState | null = null;

  constructor(args: ValArgs) {
    this.args = { ...DEFAULTS, ...args };
    for (const k of ['conf', 'iou'] as const) {
      const v = this.args[k];
      if (!(v >= 0 && v <= 1)) throw new Error(`val: ${k}=${v} must be between 0.0 and 1.0`);
    }
    if (!(Number.isInteger(this.args.batch) && this.args.batch > 0))
      throw new Error(`val: batch=${this.args.batch} must be a positive integer`);
  }

  /**
   * Validates `model` on `device` (where its weights live): setup, then per batch preprocess,
   * inference, postprocess and updateMetrics, then finalize, as Ultralytics' BaseValidator.__call__.
   */
  async run(model: ValModel, device: Device, opts: ValRunOptions = {}): Promise<ValResult> {
    const { dataset } = await this.setup(model, device, opts);
    const st = this.state!;
    await this.callbacks?.run('on_val_start', this);
    // the header row is the batch bar's description on a terminal (as Ultralytics' tqdm), else a log line
    const bar = st.showBar ? new ProgressBar(dataset.numBatches, { ...this.progress, desc: headerRow() }) : null;
    if (this.args.verbose && !bar) this.log(headerRow());
    const batches = dataset.batches();
    for (let bi = 0; ; bi++) {
      const t0 = performance.now(); // loading counts as preprocess time
      const next = batches.next();
      st.dt[0] += performance.now() - t0;
      if (next.done) break;
      await this.callbacks?.run('on_val_batch_start', this);
      const input = this.preprocess(next.value);
      if (!input) continue;
      const out = await this.inference(model, input);
      await this.loss(out, input.batch);
      const dets = this.postprocess(out, input);
      this.updateMetrics(dets, input, bi);
      await this.callbacks?.run('on_val_batch_end', this);
      bar?.update();
    }
    bar?.close();
    return this.finalize();
  }

  /** Checks the dataset and the model against it, builds the val dataset and starts fresh metrics (init_metrics). */
  async setup(model: ValModel, device: Device, opts: ValRunOptions = {}): Promise<{ dataset: PoseDataset }> {
    const a = this.args;
    const data = await checkDataset(a.data, { log: this.log }); // a missing dataset's `download:` zip is fetched first
    checkModelMatchesData(model, data, a.model_path);
    const stride = Math.max(...model.stride, 32);
    const imgsz = Math.max(Math.ceil(a.imgsz / stride) * stride, stride);
    if (imgsz !== a.imgsz)
      this.log(`WARNING ⚠️ imgsz=${a.imgsz} must be multiple of max stride ${stride}, updating to ${imgsz}`);
    const showBar = a.verbose && (this.progress ? true : stderrIsTTY());
    if (a.save_hybrid) this.log(HYBRID_WARNING);
    const corrupt: string[] = []; // skipped at the scan, then any that fail to decode
    const fixed = model.pt === false && !model.dynamic; // BaseValidator: not pt -> rect=False, batch from metadata
    if (fixed)
      this.log(`Setting batch=${model.batch ?? 1} input of shape (${model.batch ?? 1}, 3, ${imgsz}, ${imgsz})`);
    // build_dataset(mode='val') + build_dataloader(shuffle=False): the trainer's scan (labels/val.cache,
    // the 'val: Scanning ...' line), load_image, LetterBox(scaleup=False), rect batches padded by
    // 0.5 stride (file order and imgsz x imgsz without rect)
    const dataset = PoseDataset.fromConfig(data, a.split, {
      imgsz,
      batch: fixed ? (model.batch ?? 1) : a.batch,
      augment: false,
      rect: !fixed,
      stride,
      pad: 0.5,
      singleCls: a.single_cls,
      classes: a.classes,
      prefix: `${a.split}: `,
      log: this.log,
      progress: showBar && !opts.training ? (this.progress ?? undefined) : { live: false, write: () => {} },
      onBadImage: (e) => {
        corrupt.push(e.message);
        this.log(`${a.split}: WARNING: ${e.file}: ignoring corrupt image: ${e.message}`);
      },
    });
    const scan = dataset.scan!;
    corrupt.push(...scan.corrupt);

    const plots = a.plots && !opts.training;
    const saveDir =
      opts.training && !a.save_dir
        ? null
        : (a.save_dir ?? getSaveDir({ project: a.project, name: a.name, existOk: !!a.exist_ok, mode: 'val' }));
    if (saveDir && (plots || a.save_json)) mkdirSync(saveDir, { recursive: true });

    const names = model.names;
    const nc = Object.keys(names).length;
    const kptShape = data.kptShape;
    this.state = {
      training: !!opts.training,
      criterion: opts.criterion ?? null,
      device,
      scan,
      dataset,
      plots,
      saveDir,
      names,
      nc,
      kptShape,
      sigma: keypointSigmas(kptShape),
      classMap: a.save_json ? cocoClassMap(data, a.split, nc) : [],
      metrics: new PoseMetrics(names),
      cm: new ConfusionMatrix(nc, a.conf),
      stats: { tp: [], tpP: [], conf: [], predCls: [], targetCls: [], targetImg: [] },
      jdict: [],
      dt: [0, 0, 0, 0],
      lossSums: new Float64Array(5),
      lossBatches: 0,
      seen: 0,
      corrupt,
      showBar,
    };
    return { dataset };
  }

  private get st(): RunState {
    if (!this.state) throw new Error('PoseValidator: call setup() (or run()) first');
    return this.state;
  }

  /** A batch of the val dataset uploaded, its labels taken to original pixels; null when none of its images decoded. */
  preprocess(batch: PoseBatch): ValInput | null {
    const st = this.st;
    if (!batch.shape[0]) return null;
    const t0 = performance.now();
    const images = prepareBatch(batch, st.kptShape[0]);
    const x = tensor(batch.images, batch.shape, { device: st.device });
    st.dt[0] += performance.now() - t0;
    return { batch, images, x };
  }

  /** The model's eval-mode output, read back (the input tensor is freed); with a criterion, the raw maps too. */
  async inference(model: ValModel, { x }: ValInput): Promise<ValOutput> {
    const st = this.st;
    const t1 = performance.now();
    let pred: Float32Array, shape: number[];
    let raw: PoseTrainOutput | null = null;
    try {
      let out: Tensor;
      if (st.criterion) {
        if (!(model instanceof PoseModel)) throw new Error('val: the val loss needs a PoseModel (its raw head maps)');
        [out, raw] = noGrad(() => model.forward(x) as PoseEvalOutput);
      } else out = this.args.augment ? await predictAugment(model, x) : model.predict(x); // TTA: not inside training, as Ultralytics
      try {
        pred = (await out.data()) as Float32Array;
        shape = [...out.shape];
      } finally {
        out.dispose();
      }
    } catch (e) {
      if (raw) disposeRaw(raw);
      throw e;
    } finally {
      x.dispose();
    }
    st.dt[1] += performance.now() - t1;
    return { pred, shape, raw };
  }

  /** With a criterion: the batch's five val losses, from the raw maps of the same forward pass (freed here). */
  async loss(out: ValOutput, batch: PoseBatch): Promise<void> {
    const st = this.st,
      raw = out.raw;
    if (!st.criterion || !raw) return;
    const t2 = performance.now();
    try {
      // the loss's temporaries are freed with the scope; only the five numbers come back
      const items = await tidyAsync(() => noGrad(async () => (await st.criterion!.forward(raw, batch)).items.data()));
      for (let k = 0; k < 5; k++) st.lossSums[k] += items[k];
      st.lossBatches++;
    } finally {
      disposeRaw(raw);
      out.raw = null;
    }
    st.dt[2] += performance.now() - t2;
  }

  /**
   * NMS at conf / iou / max_det, multi-label, per image: rows (x1, y1, x2, y2, conf, cls, keypoints...) in input pixels.
   * save_hybrid: the batch's labels join the candidates first; single_cls: class-agnostic, every class 0.
   */
  postprocess(out: ValOutput, { images }: ValInput): Detections[] {
    const st = this.st,
      a = this.args;
    const t2b = performance.now();
    const { pred, shape } = a.save_hybrid ? appendHybridLabels(out.pred, out.shape, images, st.nc) : out;
    const dets = nonMaxSuppression(pred, shape, {
      conf: a.conf,
      iou: a.iou,
      maxDet: a.max_det,
      nc: st.nc,
      multiLabel: true,
      agnostic: !!a.single_cls,
    });
    if (a.single_cls) for (const d of dets) for (let i = 0; i < d.n; i++) d.data[i * d.cols + 5] = 0;
    st.dt[3] += performance.now() - t2b;
    return dets;
  }

  /** update_metrics: per image, true positives by box IoU and keypoint OKS, the confusion matrix, JSON and txt records, val_batch plots. */
  updateMetrics(dets: Detections[], { batch, images }: ValInput, bi: number): void {
    const st = this.st,
      a = this.args;
    const { stats, cm, plots, kptShape, sigma, saveDir, names } = st;
    const [, , H, W] = batch.shape;
    images.forEach((im, si) => {
      st.seen++;
      const det = toNative(dets[si], [H, W], im.ori, im.ratioPad, kptShape);
      const nl = im.cls.length,
        npr = det.n;
      const targetImg = [...new Set(im.cls)];
      if (npr === 0) {
        if (nl) {
          (stats.targetCls.push(...im.cls), stats.targetImg.push(...targetImg));
          if (plots) cm.processBatch(null, im.boxes, im.cls);
        }
        return;
      }
      let tp: ArrayLike<number> = new Uint8Array(npr * 10),
        tpP: ArrayLike<number> = tp;
      if (nl) {
        tp = matchPredictions(det.cls, im.cls, boxIou(im.boxes, det.boxes));
        tpP = matchPredictions(det.cls, im.cls, kptIou(im.kpts, det.kpts, oksAreas(im.boxes), sigma, kptShape[1]));
        if (plots) cm.processBatch(det, im.boxes, im.cls);
      }
      for (let i = 0; i < tp.length; i++) (stats.tp.push(tp[i]), stats.tpP.push(tpP[i]));
      (stats.conf.push(...det.conf), stats.predCls.push(...det.cls));
      (stats.targetCls.push(...im.cls), stats.targetImg.push(...targetImg));
      if (a.save_json) st.jdict.push(...predToJson(det, im.imFile, st.classMap, kptShape));
      if (a.save_txt && saveDir) saveValTxt(det, im.ori, im.imFile, names, kptShape, !!a.save_conf, saveDir);
    });
    if (plots && saveDir && bi < 3) plotValBatch(batch, images, dets, names, kptShape, saveDir, bi);
  }

  /** get_stats, print_results, the plots and predictions.json; ends the run. */
  async finalize(): Promise<ValResult> {
    const st = this.st,
      a = this.args;
    const { stats, metrics, cm, nc, names, plots, saveDir, jdict, corrupt, dt } = st;
    // get_stats: metrics only when some box is a true positive, as Ultralytics.
    const ntPerClass = bincount(stats.targetCls, nc),
      ntPerImage = bincount(stats.targetImg, nc);
    if (stats.tp.some((v) => v)) metrics.process(stats.tp, stats.tpP, stats.conf, stats.predCls, stats.targetCls);
    const nImages = st.dataset.length;
    metrics.speed = {
      preprocess: dt[0] / nImages,
      inference: dt[1] / nImages,
      loss: dt[2] / nImages,
      postprocess: dt[3] / nImages,
    };

    if (a.verbose) {
      this.log(
        formatRow(
          'all',
          st.seen,
          ntPerClass.reduce((s, v) => s + v, 0),
          metrics.meanResults(),
        ),
      );
      if (!ntPerClass.some((v) => v > 0))
        this.log('WARNING ⚠️ no labels found in pose set, can not compute metrics without labels'); // e.g. classes= kept none
      if (!st.training && nc > 1)
        metrics.apClassIndex.forEach((c, i) =>
          this.log(formatRow(names[c], ntPerImage[c], ntPerClass[c], metrics.classResult(i))),
        );
    }
    if (plots && saveDir) {
      plotCurves(metrics, names, saveDir);
      plotConfusion(cm, names, saveDir);
    }
    if (!st.training && a.verbose) {
      const s = metrics.speed;
      this.log(
        `Speed: ${s.preprocess.toFixed(1)}ms preprocess, ${s.inference.toFixed(1)}ms inference, ${s.loss.toFixed(1)}ms loss, ${s.postprocess.toFixed(1)}ms postprocess per image`,
      );
    }
    if (a.save_json && saveDir && jdict.length && !st.training) {
      // as Ultralytics: the vals inside training write nothing; the trainer's final val of best.pt does
      const file = join(saveDir, 'predictions.json');
      this.log(`Saving ${file}...`);
      writeFileSync(file, JSON.stringify(jdict));
    }
    if (saveDir && (plots || a.save_json) && a.verbose && !st.training) this.log(`Results saved to ${saveDir}`);
    if (corrupt.length)
      this.log(`${a.split}: WARNING: ${corrupt.length} corrupt image(s)/label(s) skipped:\n  ${corrupt.join('\n  ')}`);
    await this.callbacks?.run('on_val_end', this);
    const loss = st.criterion ? Array.from(st.lossSums, (s) => s / Math.max(st.lossBatches, 1)) : null;
    this.state = null;
    return {
      metrics,
      resultsDict: metrics.resultsDict,
      speed: metrics.speed,
      confusionMatrix: cm,
      seen: st.seen,
      nInstances: st.scan.nInstances,
      saveDir,
      jdict,
      corrupt,
      loss,
    };
  }
}

function disposeRaw([feats, kpt]: PoseTrainOutput): void {
  feats.forEach((f) => f.dispose());
  kpt.dispose();
}

/** A clear error when the model and the data disagree on keypoints or classes. */
export function checkModelMatchesData(model: ValModel, data: DatasetConfig, modelPath = 'the model'): void {
  const [mk, md] = model.kptShape,
    [dk, dd] = data.kptShape;
  if (mk !== dk || md !== dd)
    throw new Error(
      `kpt_shape mismatch: ${modelPath} predicts kpt_shape [${mk}, ${md}] but ${data.yamlFile} has kpt_shape [${dk}, ${dd}]`,
    );
  const nc = Object.keys(model.names).length;
  if (nc !== data.nc)
    throw new Error(
      `class count mismatch: ${modelPath} has ${nc} classes but ${data.yamlFile} has ${data.nc} (names: ${Object.values(data.names).join(', ')})`,
    );
}

function bincount(v: number[], n: number): number[] {
  const out = new Array<number>(n).fill(0);
  for (const x of v) out[x] = (out[x] ?? 0) + 1;
  return out;
}

const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;

/** pred_to_json: one COCO record per detection, in original pixels. */
function predToJson(
  det: NativeDetections,
  imFile: string,
  classMap: number[],
  kptShape: [number, number],
): Record<string, unknown>[] {
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
