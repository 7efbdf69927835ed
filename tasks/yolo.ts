// The YOLO class, shaped like Ultralytics' `YOLO(...)`: made from a checkpoint ('yolov8n-pose.pt',
// downloaded from Ultralytics' release assets on first use when missing; our .pt and .safetensors
// too), a model yaml name ('yolov8s-pose.yaml', randomly initialized), or an exported model
// ('yolov8n-pose.onnx', run through the engine by tasks/export's importer). The model is loaded
// lazily, on the device the first call asks for, and reloaded if a later call asks for another device.
//
//   const model = new YOLO('yolov8n-pose.pt');
//   const results = await model.predict('bus.jpg', { imgsz: 640, conf: 0.25 });
//   console.log(results[0].boxes.xyxy, results[0].keypoints?.xy);
//   await model.export({ format: 'onnx', imgsz: 640 });   // -> yolov8n-pose.onnx beside the weights
//
// Imports: engine, models, ./predict, ./download, ./export.

import { extname } from 'node:path';
import { describeDevice, getDevice, type Device } from '../engine/index.js';
import type { CheckpointMeta } from '../engine/io/torch_pt.js';
import {
  modelFromCheckpoint,
  readPoseCheckpoint,
  savePoseCheckpoint,
  type PoseCheckpoint,
} from '../models/checkpoint.js';
import { PoseModel, buildPoseModel } from '../models/yolov8_pose.js';
import { buildModelFromYaml } from '../models/yaml_model.js';
import { attemptDownloadAsset } from './download.js';
import { packageVersion } from '../engine/paths.js';
import { existsSync } from 'node:fs';
import { Predictor, type PredictArgs, type PredictError } from './predict/predictor.js';
import type { Results } from './predict/results.js';
import type { SourceInput } from './predict/sources.js';
import { TrackRunner, loadTrackerConfig } from './track/track.js';

/** model.track arguments: predict's plus the tracker yaml and persist. */
export type TrackArgs = PredictArgs & { tracker?: string; persist?: boolean };
import { OnnxPoseModel } from './export/onnx_model.js';
import { TfPoseModel, tfFormatOf } from './export/tf_runtime.js';
import { exportModel, type ExportArgs } from './export/exporter.js';
import { resolveFormat } from './export/formats.js';
import { loadExportedFolder } from './export/export_more.js';
import type { ValCallArgs } from './val/api.js';
import type { ValResult } from './val/validator.js';
import type { PoseMetrics } from './val/metrics.js';
import type { TrainOverrides } from './train/args.js';
import type { TrainResult } from './train/trainer.js';
import { checkModeArgs } from './check_args.js';
import { applyHalf, resolveHalf } from './half.js';
import { Callbacks, type Callback, type CallbackEvent } from './callbacks.js';

export type { PredictArgs, PredictError, Results, SourceInput, TrainOverrides, TrainResult };

/** What predict and val run: the engine's own PoseModel, or an exported .onnx through the importer. */
export type PoseBackend = PoseModel | OnnxPoseModel;

export interface YOLOOptions {
  /** Only 'pose' is implemented. */
  task?: string;
  /** Print what is loaded (default false). */
  verbose?: boolean;
}

const VERSION = packageVersion();

export class YOLO {
  readonly task: string;
  /** The model once loaded (by the first predict or an explicit load()). */
  model: PoseBackend | null = null;
  device: Device | null = null;
  /** The checkpoint's metadata (train args, date, version) when made from a .pt file. */
  ckptMeta: CheckpointMeta | null = null;
  /** Errors of the last predict: images of a folder or list that could not be read. */
  errors: PredictError[] = [];
  /** The last predictor (its saveDir, timings). */
  predictor: Predictor | null = null;

  /** The last training's result (train() points this YOLO at its best.pt afterwards). */
  trainResult: TrainResult | null = null;
  /** Ultralytics' callbacks: every train / val / predict / export run fires them (tasks/callbacks.ts). */
  readonly callbacks = new Callbacks();

  /** add_callback: `fn(trainer | validator | predictor | exporter)` on `event` (Ultralytics' names). */
  addCallback(event: CallbackEvent, fn: Callback): this {
    this.callbacks.add(event, fn);
    return this;
  }

  /** clear_callback: removes every function of `event`. */
  clearCallback(event: CallbackEvent): this {
    this.callbacks.clear(event);
    return this;
  }

  /** reset_callbacks: removes every function of every event. */
  resetCallbacks(): this {
    this.callbacks.reset();
    return this;
  }

  constructor(
    public modelSpec = 'yolov8n-pose.pt',
    opts: YOLOOptions = {},
  ) {
    this.task = opts.task ?? 'pose';
    if (this.task !== 'pose')
      throw new Error(`YOLO: task '${this.task}' is not supported (this toolkit implements: pose)`);
    const ext = extname(modelSpec).toLowerCase();
    if (
      !['.pt', '.safetensors', '.yaml', '.yml', '.onnx', '.pb', '.tflite', '.mlpackage', '.torchscript', ''].includes(
        ext,
      )
    )
      throw new Error(
        `YOLO: '${modelSpec}' is neither a checkpoint (.pt, .safetensors), an exported model (.onnx, .torchscript, .tflite, .pb, .mlpackage, _web_model, _saved_model, _ncnn_model, _openvino_model, _paddle_model) nor a model .yaml`,
      );
  }

  private ckpt: PoseCheckpoint | null = null;
  /** the checkpoint file once found or downloaded (export writes beside it) */
  private weightsPath: string | null = null;

  /** Loads (or reloads on another device) the model, eval mode, BN folded into conv. */
  async load(device?: string | Device): Promise<PoseBackend> {
    const dev = await getDevice(device);
    if (this.model && this.device === dev) return this.model;
    const spec = this.modelSpec;
    const ext = extname(spec).toLowerCase();
    if (this.model && !(this.model instanceof OnnxPoseModel)) this.model.compile(false); // frees the compiled plans' buffers
    if (this.model instanceof OnnxPoseModel) this.model.dispose();
    else if (this.model)
      for (const [, t] of [...this.model.namedParameters(), ...this.model.namedBuffers()]) t.dispose(); // other device
    if (tfFormatOf(spec)) {
      // TF.js / SavedModel / GraphDef exports, through the engine (tasks/export/tf_runtime.ts)
      this.model = TfPoseModel.loadTf(spec, dev);
      this.device = dev;
      return this.model;
    }
    const folder = loadExportedFolder(spec, dev); // ncnn / OpenVINO / Paddle folders, .mlpackage (tasks/export/export_more.ts)
    if (folder) {
      this.model = folder;
      this.device = dev;
      return this.model;
    }
    if (ext === '.onnx') {
      // stride, names, imgsz and kpt_shape come from the file's metadata (AutoBackend)
      this.model = OnnxPoseModel.load(spec, dev);
      this.device = dev;
      return this.model;
    }
    if (ext === '.yaml' || ext === '.yml' || ext === '') {
      this.model =
        existsSync(spec) && ext !== ''
          ? buildModelFromYaml(spec, { device: dev })
          : buildPoseModel(spec, { device: dev }); // a yaml on disk builds what it says
    } else {
      // read once; a later call on another device rebuilds from the host copy
      if (!this.ckpt) {
        this.weightsPath = await attemptDownloadAsset(spec);
        this.ckpt = readPoseCheckpoint(this.weightsPath);
        this.ckptMeta = checkpointMeta(this.ckpt);
      }
      this.model = modelFromCheckpoint(this.ckpt, spec, dev);
    }
    this.model.eval();
    this.model.fuse();
    for (const p of this.model.parameters()) p.requiresGrad = false; // inference only, as Ultralytics' EMA weights
    // predict and val replay the compiled graph on webgpu and wasm (engine/graph/compile.ts); YOLO_COMPILE=0 runs eagerly
    if ((dev.type === 'webgpu' || dev.type === 'wasm') && process.env.YOLO_COMPILE !== '0') this.model.compile();
    this.device = dev;
    return this.model;
  }

  get names(): Record<number, string> {
    if (!this.model) throw new Error('YOLO.names: the model is not loaded yet (await model.load() or predict first)');
    return this.model.names;
  }

  /**
   * Predicts `source` (a file, folder, glob, URL, RGB image or a list); returns one Results per
   * image. For large folders and videos pass `stream: true` (Ultralytics' stream=True): an async
   * generator of Results that holds one batch of frames at a time.
   */
  predict(
    source: SourceInput,
    args: PredictArgs & { embed: number[] | number; stream?: false },
  ): Promise<Float32Array[]>;
  predict(source: SourceInput, args: PredictArgs & { stream: true }): AsyncGenerator<Results>;
  predict(source: SourceInput, args?: PredictArgs & { stream?: false }): Promise<Results[]>;
  predict(
    source: SourceInput,
    args: PredictArgs & { stream?: boolean } = {},
  ): Promise<Results[] | Float32Array[]> | AsyncGenerator<Results> {
    const { stream, ...rest } = args;
    if (rest.embed != null && !stream) return this.embed(source, rest); // Ultralytics: feature vectors instead of Results
    if (stream) return this.stream(source, rest);
    return (async () => {
      const out: Results[] = [];
      for await (const r of this.stream(source, rest)) out.push(r);
      return out;
    })();
  }

  /**
   * Ultralytics' model.track: predict with ByteTrack or BoT-SORT (`tracker`, default botsort.yaml) on
   * each frame; Results.boxes.id holds the track ids. Defaults as Ultralytics: conf 0.1, batch 1,
   * saved under runs/pose/track. `persist: true` keeps the tracks between calls (frame-by-frame use).
   */
  track(source: SourceInput, args: TrackArgs & { stream: true }): AsyncGenerator<Results>;
  track(source: SourceInput, args?: TrackArgs & { stream?: false }): Promise<Results[]>;
  track(
    source: SourceInput,
    args: TrackArgs & { stream?: boolean } = {},
  ): Promise<Results[]> | AsyncGenerator<Results> {
    const { tracker = 'botsort.yaml', persist = false, stream, ...rest } = args;
    if (!persist || !this.trackRunner || this.trackerFile !== tracker) {
      this.trackRunner = new TrackRunner(loadTrackerConfig(tracker), persist);
      this.trackerFile = tracker;
    }
    const runner = this.trackRunner;
    const pargs = { ...rest, conf: rest.conf || 0.1, batch: rest.batch || 1, name: rest.name ?? 'track' };
    const gen = this.stream(source, pargs, runner);
    if (stream) return gen;
    return (async () => {
      const out: Results[] = [];
      for await (const r of gen) out.push(r);
      return out;
    })();
  }
  private trackRunner: TrackRunner | null = null;
  private trackerFile = '';

  /**
   * Ultralytics' model.embed: per image, the listed layers' outputs average-pooled to one value per
   * channel and concatenated (tasks/predict/embed.ts); default embed: the second-to-last layer.
   */
  async embed(source: SourceInput, args: PredictArgs = {}): Promise<Float32Array[]> {
    args = checkModeArgs('predict', args as Record<string, unknown>, { where: 'YOLO.embed' }) as PredictArgs;
    const { checkEmbed, defaultEmbed, embedSource } = await import('./predict/embed.js');
    const model = await this.load(args.device);
    const layers = checkEmbed(model, args.embed ?? defaultEmbed(model as PoseModel));
    const p = new Predictor(model, this.device!, { ...args, save: false });
    return embedSource(p, model as PoseModel, source, layers);
  }

  /** Like predict(), yielding Results one at a time. */
  async *stream(
    source: SourceInput,
    args: PredictArgs = {},
    tracker: TrackRunner | null = null,
  ): AsyncGenerator<Results> {
    args = checkModeArgs('predict', args as Record<string, unknown>, { where: 'YOLO.predict' }) as PredictArgs;
    if (args.embed != null)
      throw new Error(
        'YOLO.predict: embed= returns feature vectors, not Results; call predict without stream: true, or YOLO.embed()',
      );
    const fresh = !this.model;
    const model = await this.load(args.device);
    if (fresh && (args.verbose ?? true)) {
      // as Ultralytics' select_device and AutoBackend's fuse(verbose=True) print on first use
      const dev = this.device!;
      console.log(`yolo-ts ${VERSION} 🚀 Node-${process.versions.node} ${describeDevice(dev)}`);
      console.log(model.info(640, { verbose: false }).line);
    }
    // FP16 compiled forward where the device can (webgpu + shader-f16), else FP32 with a warning naming why
    const half = applyHalf(model, resolveHalf(args.half, this.device!, console.warn, model));
    if (args.half !== undefined) args = { ...args, half };
    // an exported model predicts at its export size unless told otherwise
    const imgsz = args.imgsz ?? (model instanceof OnnxPoseModel ? model.imgsz : undefined);
    const p = new Predictor(model, this.device!, { save: false, ...args, ...(imgsz && { imgsz }) });
    p.tracker = tracker;
    this.predictor = p;
    p.callbacks = this.callbacks;
    this.errors = p.errors;
    yield* p.stream(source);
  }

  /**
   * Validates on a dataset (Ultralytics' model.val): box and pose mAP, the table, plots and, with
   * save_json, predictions.json. Without data/imgsz, the ones in the checkpoint's train_args are used.
   */
  async val(args: ValCallArgs = {}): Promise<ValResult & Pick<PoseMetrics, 'box' | 'pose' | 'fitness'>> {
    const { valModel } = await import('./val/api.js');
    args = checkModeArgs('val', args as Record<string, unknown>, { where: 'YOLO.val' }) as ValCallArgs;
    const r = await valModel(this, args);
    // Ultralytics returns the metrics object itself: metrics.box.map, metrics.pose.map50, metrics.fitness
    return Object.assign(r, { box: r.metrics.box, pose: r.metrics.pose, fitness: r.metrics.fitness });
  }

  /**
   * Trains (Ultralytics' model.train): from this model's weights when it was made from a checkpoint,
   * from scratch for a yaml; any key=value training argument (tasks/train/args.ts). `resume: true`
   * continues this checkpoint's run. Afterwards this YOLO holds the run's best.pt (else last.pt).
   */
  async train(args: TrainOverrides = {}): Promise<TrainResult> {
    if (extname(this.modelSpec).toLowerCase() === '.onnx')
      throw new Error(
        `YOLO.train: '${this.modelSpec}' is an exported model; train from a .pt checkpoint or a model .yaml`,
      );
    const { PoseTrainer } = await import('./train/trainer.js');
    args = checkModeArgs('train', args, { where: 'YOLO.train' });
    const model = this.weightsPath ?? this.modelSpec;
    const overrides: TrainOverrides = { ...args, model };
    if (args.resume === true && ['.pt', '.safetensors'].includes(extname(model).toLowerCase()))
      overrides.resume = model;
    const r = await new PoseTrainer(overrides, { events: this.callbacks }).train();
    this.trainResult = r;
    this.modelSpec = existsSync(r.best) ? r.best : r.last;
    if (this.model && !(this.model instanceof OnnxPoseModel)) this.model.compile(false);
    if (this.model instanceof OnnxPoseModel) this.model.dispose();
    else if (this.model)
      for (const [, t] of [...this.model.namedParameters(), ...this.model.namedBuffers()]) t.dispose();
    this.model = null;
    this.ckpt = null;
    this.ckptMeta = null;
    this.weightsPath = null;
    return r;
  }

  /**
   * Ultralytics' model.save(): a .pt in Ultralytics' own layout (its YOLO() loads it), or with a
   * .safetensors name the weights under Ultralytics' state-dict names plus its metadata.
   */
  async save(filename = 'saved_model.pt'): Promise<void> {
    const ext = extname(this.modelSpec).toLowerCase();
    if (ext === '.onnx')
      throw new Error(`YOLO.save: '${this.modelSpec}' is an exported model; save from its .pt checkpoint`);
    if (!this.ckpt && !['.yaml', '.yml', ''].includes(ext)) await this.load('cpu'); // reads the checkpoint
    // an unfused copy (the loaded model is fused for inference); a .yaml gives fresh weights, as in Ultralytics
    const model = this.ckpt ? modelFromCheckpoint(this.ckpt, this.modelSpec) : buildPoseModel(this.modelSpec);
    const x = (this.ckpt?.extra ?? {}) as Record<string, unknown>;
    await savePoseCheckpoint(model, filename, x.train_args ? { train_args: x.train_args } : {});
  }

  /**
   * Exports the model (Ultralytics' model.export): writes `<weights stem>.onnx` beside the weights
   * (in the working folder for a yaml model) and returns its path. See tasks/export/exporter.ts.
   */
  async export(args: ExportArgs & { device?: string | Device } = {}): Promise<string> {
    args = checkModeArgs('export', args as Record<string, unknown>, { where: 'YOLO.export' }) as typeof args;
    if (String(args.format).toLowerCase() === 'safetensors') {
      // weights for other frameworks (not an Ultralytics format)
      const f = (this.weightsPath ?? this.modelSpec).replace(/(\.(pt|ya?ml|safetensors))?$/i, '.safetensors');
      await this.save(f);
      if (args.verbose !== false)
        console.log(`safetensors: export success ✅ saved as '${f}' (Ultralytics' state-dict names, float32)`);
      return f;
    }
    resolveFormat(args.format ?? 'torchscript', args.verbose === false ? () => {} : console.warn); // a bad format fails before any loading
    if (extname(this.modelSpec).toLowerCase() === '.onnx')
      throw new Error(`YOLO.export: '${this.modelSpec}' is already an exported model; export from its .pt checkpoint`);
    const { device, ...rest } = args;
    const model = (this.model && !device ? this.model : await this.load(device ?? 'cpu')) as PoseModel; // Ultralytics exports on the cpu by default
    const data = this.ckptMeta?.train_args?.data;
    const exporter = { args: rest, model, file: null as string | null }; // what on_export_* callbacks see
    await this.callbacks.run('on_export_start', exporter);
    exporter.file = await exportModel(model, rest, {
      file: this.weightsPath ?? this.modelSpec,
      data: typeof data === 'string' ? data : null,
    });
    await this.callbacks.run('on_export_end', exporter);
    return exporter.file;
  }
}

/** What Ultralytics keeps beside the weights (train_args, epoch, date...), for val/train defaults. */
function checkpointMeta(ck: PoseCheckpoint): CheckpointMeta {
  const x = ck.extra as Record<string, any>;
  return {
    source: x.source ?? 'model',
    task: 'pose',
    nc: ck.yaml.nc,
    names: ck.names,
    kpt_shape: ck.yaml.kpt_shape,
    stride: ck.stride,
    train_args: x.train_args,
    epoch: x.epoch,
    date: x.date,
    version: x.version,
    best_fitness: x.best_fitness,
  };
}
