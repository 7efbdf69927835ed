// The pose predictor, step for step as Ultralytics' BasePredictor + PosePredictor:
//   preprocess   LetterBox (minimal stride-aligned padding, pad 114) -> (1, 3, h, w) float in [0, 1]
//   inference    model -> (1, 4 + nc + nk, A), read back to the host once
//   postprocess  non_max_suppression -> boxes scaled to the original image and rounded, keypoints
//                scaled and clipped -> Results
// Images and video frames (./frames) are predicted batch=N at a time (./batch), one by default as in
// Ultralytics. Per-image / per-frame log lines, the speed summary and saving (annotated image or mp4,
// save_frames, labels/<stem>.txt or labels/<stem>_<frame>.txt) follow Ultralytics.
//
// Imports: engine, ../data (letterbox), ./nms, ./results, ./save, ./sources, ./frames, ./batch, ./video.

import { tensor, type Device, type Tensor } from '../../engine/index.js';
import { roundHalfEven } from '../../engine/math.js';
import { letterbox, scaleBoxes, scaleCoords, toCHWFloat } from '../data/letterbox.js';
import { writeImage, type RgbImage } from '../data/image.js';
import { nonMaxSuppression } from './nms.js';
import { Boxes, Keypoints, Results } from './results.js';
import { countLabels, getSaveDir, imageSavePath, labelPath } from './save.js';
import { loadSource, type SourceInput } from './sources.js';
import { visualizeImage } from './visualize.js';
import { predictAugment } from './augment.js';
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Callbacks } from '../callbacks.js';
import { readFrames, type Frame } from './frames.js';
import { predictBatch } from './batch.js';
import { VideoSinks } from './video.js';

/** What the predictor needs from a model (models/yolov8_pose.ts PoseModel has it). */
export interface PoseNet {
  names: Record<number, string>;
  stride: number[];
  kptShape: [number, number];
  /** Eval-mode output (B, 4 + nc + nk, A): xywh pixels, class scores, keypoints (x, y[, v]). */
  predict(x: Tensor): Tensor;
}

/** Ultralytics' predict arguments (snake_case, as on the command line). Defaults as Ultralytics. */
export interface PredictArgs {
  imgsz?: number | [number, number];
  /** FP16 compiled forward on webgpu with shader-f16, else FP32 with a warning saying why (tasks/half.ts) */
  half?: boolean;
  conf?: number;
  iou?: number;
  max_det?: number;
  agnostic_nms?: boolean;
  classes?: number[] | number | null;
  device?: string | Device;
  /** Save annotated images (CLI default true, API default false, as Ultralytics). */
  save?: boolean;
  save_txt?: boolean;
  save_conf?: boolean;
  /** Save each detection's crop to <run>/crops/<class>/<image stem>.jpg */
  save_crop?: boolean;
  project?: string | null;
  name?: string | null;
  exist_ok?: boolean;
  /** Print per-image lines and the speed summary (default true). */
  verbose?: boolean;
  line_width?: number | null;
  show_labels?: boolean;
  show_conf?: boolean;
  show_boxes?: boolean;
  /** Save every layer's feature maps under <save_dir>/<image stem>/ (./visualize.ts). */
  visualize?: boolean;
  /** Images or frames per forward pass (Ultralytics' batch; default 1). */
  batch?: number;
  /** Keep every vid_stride-th video frame (default 1). */
  vid_stride?: number;
  /** Streams: queue every frame (true) or keep only the newest (false, default). */
  stream_buffer?: boolean;
  /** With save: also write each annotated video frame as <stem>_frames/<frame>.jpg. */
  save_frames?: boolean;
  /** Test-time augmentation: three scales, one flipped, merged (./augment.ts, Ultralytics' _predict_augment). */
  augment?: boolean;
  /** Layer indices: return each image's pooled features instead of Results (./embed.ts; YOLO.predict/embed). */
  embed?: number[] | number | null;
}

/** An image that could not be predicted, in a directory or list source. */
export interface PredictError {
  path: string;
  message: string;
}

const DEFAULTS = { imgsz: 640, conf: 0.25, iou: 0.7, max_det: 300 };

/** check_imgsz: [h, w], each rounded up to a multiple of the stride (with a warning). */
export function checkImgsz(
  imgsz: number | [number, number] | number[],
  stride: number,
  log: (s: string) => void = console.warn,
): [number, number] {
  const sz = typeof imgsz === 'number' ? [imgsz, imgsz] : imgsz.length === 1 ? [imgsz[0], imgsz[0]] : imgsz;
  if (sz.length !== 2 || sz.some((v) => !Number.isFinite(v) || v <= 0))
    throw new Error(`imgsz=${JSON.stringify(imgsz)}: expected a positive number or [height, width]`);
  const out = sz.map((v) => Math.max(Math.ceil(v / stride) * stride, stride)) as [number, number];
  if (out[0] !== sz[0] || out[1] !== sz[1])
    log(
      `WARNING ⚠️ imgsz=${JSON.stringify(imgsz)} must be multiple of max stride ${stride}, updating to ${JSON.stringify(out)}`,
    );
  return out;
}

export class Predictor {
  readonly args: Required<Pick<PredictArgs, 'conf' | 'iou' | 'max_det'>> & PredictArgs;
  readonly imgsz: [number, number];
  readonly stride: number;
  saveDir: string | null = null;
  errors: PredictError[] = [];
  /** Summed stage times (ms) and images seen, for the speed line. */
  readonly totals = { preprocess: 0, inference: 0, postprocess: 0, seen: 0 };
  lastShape: number[] = [];
  /** Ultralytics' on_predict_* events (tasks/callbacks.ts), given this predictor */
  callbacks: Callbacks | null = null;
  /** the current batch's Results (one image), as Ultralytics' predictor.results for callbacks */
  results: Results[] = [];
  /** mode=track: each frame's Results pass through the trackers (tasks/track/track.ts) before logging and saving. */
  tracker: { apply(r: Results, slot: number): Results; drawTrails(img: RgbImage, r: Results): void } | null = null;
  private warmedUp = false;

  constructor(
    readonly model: PoseNet,
    readonly device: Device,
    args: PredictArgs = {},
  ) {
    this.args = { ...DEFAULTS, ...args };
    this.stride = Math.max(...model.stride, 32);
    this.imgsz = checkImgsz(this.args.imgsz ?? DEFAULTS.imgsz, this.stride);
  }

  private log(s: string) {
    if (this.args.verbose ?? true) console.log(s);
  }

  /** LetterBox + HWC uint8 -> (1, 3, h, w) float32 on the device. */
  preprocess(img: RgbImage): Tensor {
    const lb = letterbox(img, { newShape: this.imgsz, auto: true, stride: this.stride });
    return tensor(toCHWFloat(lb.image), [1, 3, lb.image.height, lb.image.width], { device: this.device });
  }

  /** The model output read back: (1, C, A) as a Float32Array with its shape. */
  async inference(x: Tensor): Promise<{ data: Float32Array; shape: number[] }> {
    const out = this.args.augment ? await predictAugment(this.model, x) : this.model.predict(x);
    try {
      return { data: (await out.data()) as Float32Array, shape: [...out.shape] };
    } finally {
      out.dispose();
    }
  }

  /** NMS on the host, then boxes (rounded) and keypoints back in original-image pixels. */
  postprocess(
    pred: { data: Float32Array; shape: number[] },
    inShape: [number, number],
    orig: RgbImage,
    path: string,
  ): Results {
    const names = this.model.names;
    const nc = Object.keys(names).length || undefined;
    const cls = this.args.classes;
    const [det] = nonMaxSuppression(pred.data, pred.shape, {
      conf: this.args.conf,
      iou: this.args.iou,
      maxDet: this.args.max_det,
      agnostic: !!this.args.agnostic_nms,
      nc,
      classes: cls == null ? null : Array.isArray(cls) ? cls : [cls],
    });
    const origShape: [number, number] = [orig.height, orig.width];
    const [nk, dims] = this.model.kptShape;
    const boxes = new Float32Array(det.n * 6);
    const kpts = new Float32Array(det.n * nk * dims);
    for (let i = 0; i < det.n; i++) {
      const row = det.data.subarray(i * det.cols, (i + 1) * det.cols);
      boxes.set(row.subarray(0, 6), i * 6);
      kpts.set(row.subarray(6, 6 + nk * dims), i * nk * dims);
    }
    scaleBoxes(inShape, boxes, origShape, { stride: 6 });
    for (let i = 0; i < det.n; i++) for (let k = 0; k < 4; k++) boxes[i * 6 + k] = roundHalfEven(boxes[i * 6 + k]);
    scaleCoords(inShape, kpts, origShape, { stride: dims });
    return new Results(orig, path, names, new Boxes(boxes, origShape), new Keypoints(kpts, [nk, dims], origShape));
  }

  /** One image through the three stages; `speed` in ms per stage. */
  async predictImage(img: RgbImage, path: string): Promise<Results> {
    const t0 = performance.now();
    const x = this.preprocess(img);
    const inShape: [number, number] = [x.shape[2], x.shape[3]];
    const t1 = performance.now();
    let pred;
    try {
      if (this.args.visualize && this.saveDir)
        await visualizeImage(this.model, x, this.saveDir, path, (s) => this.log(s));
      pred = await this.inference(x);
    } finally {
      x.dispose();
    }
    const t2 = performance.now();
    const r = this.postprocess(pred, inShape, img, path);
    const t3 = performance.now();
    r.speed = { preprocess: t1 - t0, inference: t2 - t1, postprocess: t3 - t2 };
    this.lastShape = [1, 3, ...inShape];
    return r;
  }

  /** Ultralytics warms GPU models up with one forward so the first image is not charged pipeline compiles. */
  private async warmup() {
    if (this.warmedUp || this.device.type === 'cpu' || this.device.type === 'wasm') return; // no pipelines to compile on the host devices
    this.warmedUp = true;
    const x = tensor(new Float32Array(3 * this.imgsz[0] * this.imgsz[1]), [1, 3, ...this.imgsz], {
      device: this.device,
    });
    try {
      await this.inference(x);
    } finally {
      x.dispose();
    }
  }

  /**
   * Predicts every image of `source`, yielding Results one at a time (images are decoded as they
   * come, so folders of any size stream). Bad files in a folder or list are logged and collected
   * in `errors`; a single bad source throws.
   */
  async *stream(source: SourceInput): AsyncGenerator<Results> {
    const src = await loadSource(source);
    const { save = false, save_txt = false, save_conf = false, save_crop = false, save_frames = false } = this.args;
    const bs = Math.max(1, Math.floor(this.args.batch ?? 1));
    if ((save || save_txt || save_crop || this.args.visualize) && !this.saveDir) {
      this.saveDir = getSaveDir({ project: this.args.project, name: this.args.name, existOk: !!this.args.exist_ok });
      mkdirSync(save_txt ? join(this.saveDir, 'labels') : this.saveDir, { recursive: true });
    }
    await this.warmup();
    this.log('');
    await this.callbacks?.run('on_predict_start', this);
    const sinks = this.saveDir && save ? new VideoSinks(this.saveDir) : null;
    const plotOpts = {
      line_width: this.args.line_width,
      labels: this.args.show_labels,
      conf: this.args.show_conf,
      boxes: this.args.show_boxes,
    };
    const live = this.args.verbose ?? true;
    let batch: Frame[] = [];
    let streamCount = -1;
    const run = async function* (this: Predictor): AsyncGenerator<Results> {
      const frames = batch;
      batch = [];
      await this.callbacks?.run('on_predict_batch_start', this);
      let rs = await predictBatch(
        this,
        frames.map((f) => f.img),
        frames.map((f) => f.path),
      );
      if (this.tracker) rs = rs.map((r, i) => this.tracker!.apply(r, frames[i].mode === 'stream' ? i : 0));
      this.results = rs;
      await this.callbacks?.run('on_predict_postprocess_end', this);
      const lines: string[] = [];
      if (frames[0].mode === 'stream') streamCount++;
      for (const [i, r] of rs.entries()) {
        const f = frames[i];
        this.totals.preprocess += r.speed.preprocess;
        this.totals.inference += r.speed.inference;
        this.totals.postprocess += r.speed.postprocess;
        this.totals.seen++;
        const frameNo = f.mode === 'stream' ? streamCount : f.frame;
        if (this.saveDir) {
          r.saveDir = this.saveDir;
          const label = labelPath(this.saveDir, f.path);
          const frameLabel = f.mode === 'image' ? label : label.replace(/\.txt$/, `_${frameNo}.txt`);
          if (save_txt) r.saveTxt(frameLabel, save_conf);
          if (save_crop) r.saveCrop(join(this.saveDir, 'crops'), basename(frameLabel, '.txt'));
          if (save) {
            const plotted = r.plot(plotOpts);
            this.tracker?.drawTrails(plotted, r);
            if (f.video) await sinks!.write(f.path, plotted, f.video.fps, save_frames ? frameNo : null);
            else writeImage(imageSavePath(this.saveDir, f.path), plotted);
          }
        }
        const prefix = f.mode === 'stream' ? `${i}: ` : f.info;
        lines.push(
          `${prefix}${this.lastShape[2]}x${this.lastShape[3]} ${r.verbose()}${r.speed.inference.toFixed(1)}ms`,
        );
      }
      this.log(lines.join('\n'));
      await this.callbacks?.run('on_predict_batch_end', this);
      yield* rs;
    }.bind(this);
    try {
      for await (const ev of readFrames(src, {
        vid_stride: this.args.vid_stride,
        stream_buffer: this.args.stream_buffer,
        progress: live,
      })) {
        if ('problem' in ev) {
          const { path, message, fatal, prefix } = ev.problem;
          if (fatal) throw new Error(message);
          this.errors.push({ path, message });
          console.warn(`WARNING ⚠️ ${prefix ? `${prefix}skipped: ` : ''}${message}`);
          continue;
        }
        // as Ultralytics, a batch never mixes images with video frames
        if (batch.length && (batch[0].mode === 'image') !== (ev.frame.mode === 'image')) yield* run();
        batch.push(ev.frame);
        if (batch.length >= bs) yield* run();
      }
      if (batch.length) yield* run();
    } finally {
      await sinks?.closeAll();
    }
    this.summary();
    await this.callbacks?.run('on_predict_end', this);
  }

  /** The closing lines: per-image speed and where results went. */
  private summary() {
    const { seen } = this.totals;
    if (seen) {
      const per = (v: number) => (v / seen).toFixed(1);
      const t = this.totals;
      this.log(
        `Speed: ${per(t.preprocess)}ms preprocess, ${per(t.inference)}ms inference, ${per(t.postprocess)}ms postprocess per image at shape (${this.lastShape.join(', ')})`,
      );
    }
    if (this.saveDir) {
      const nl = countLabels(this.saveDir);
      const labels = this.args.save_txt
        ? `\n${nl} label${nl > 1 ? 's' : ''} saved to ${join(this.saveDir, 'labels')}`
        : '';
      this.log(`Results saved to ${this.saveDir}${labels}`);
    }
    if (this.errors.length)
      console.warn(
        `WARNING ⚠️ ${this.errors.length} image${this.errors.length > 1 ? 's' : ''} could not be predicted (see above)`,
      );
  }
}
