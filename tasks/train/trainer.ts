// Ultralytics' BaseTrainer + PoseTrainer (8.2.82), the training loop of `yolo pose train`:
//
//   per epoch: LambdaLR step -> (close mosaic) -> batches: warmup of lr / momentum / accumulate,
//   forward + v8PoseLoss + backward inside one tidy scope, an optimizer step (clip 10, EMA update)
//   every `accumulate` iterations -> validate the EMA -> results.csv row -> last.pt / best.pt.
//
//   const t = new PoseTrainer({ data: 'coco8-pose.yaml', model: 'yolov8n-pose.yaml', epochs: 3, imgsz: 160 });
//   const r = await t.train();   // r.saveDir, r.best, r.metrics
//
// Imports: engine, models, nn, ../val, ../predict/save, ../progress, ./*.

import { mkdirSync, writeFileSync, existsSync, unlinkSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  backward,
  describeDevice,
  getDevice,
  manualSeed,
  tensor,
  tidyAsync,
  WebGPUDevice,
  type Device,
  type Tensor,
} from '../../engine/index.js';
import { getRngState, setRngState } from '../../engine/random.js';
import { packageVersion } from '../../engine/paths.js';
import { PoseModel } from '../../models/yolov8_pose.js';
import { ModelEMA } from '../../nn/ema.js';
import { V8PoseLoss } from '../../nn/loss/v8_pose_loss.js';
import { clipGradNorm, type Optimizer } from '../../nn/optim.js';
import type { DatasetConfig } from '../data/dataset.js';
import { PoseDataset, type PoseBatch } from '../data/loader.js';
import { BatchPrefetcher } from '../data/prefetch.js';
import { getSaveDir } from '../predict/save.js';
import { ProgressBar } from '../progress.js';
import { formatG } from '../format.js';
import { PoseValidator } from '../val/validator.js';
import { MultiScaleRng, multiScaleBatch } from './multi_scale.js';
import { DEFAULT_CFG, argsToYaml, fmt, resolveTrainArgs, type TrainArgs, type TrainOverrides } from './args.js';
import {
  copyFileAtomic,
  optimizerStateFrom,
  hostDictFrom,
  readPoseCheckpoint,
  saveTrainCheckpoint,
  stripCheckpoint,
} from './checkpoint.js';
import { emaCopy, setupModel } from './model.js';
import { applyWarmup, buildOptimizer, lrLambda, nominalBatch, scheduleEpoch, warmupIterations } from './optimizer.js';
import { plotResults } from './plots.js';
import { LOSS_NAMES, METRIC_KEYS, appendResults, labelLossItems, readResults, truncateResults } from './results.js';
import { findResumeCheckpoint } from './resume.js';
import { validateEpoch } from './validate.js';
import { freezeLayers } from './freeze.js';
import { checkDataset } from '../data/dataset_download.js';
import { plotTrainBatch } from '../val/plots.js';
import { plotCorrelogram, plotLabels } from './label_plots.js';
import type { Callbacks, CallbackEvent } from '../callbacks.js';

const VERSION = packageVersion();

export interface TrainResult {
  saveDir: string;
  last: string;
  best: string;
  /** the final metrics (of best.pt's validation, as Ultralytics reports them) */
  metrics: Record<string, number>;
  epochs: number;
}

export interface TrainerOptions {
  log?: (s: string) => void;
  /** progress bars go here (default: stderr); tests capture them */
  progressWrite?: (s: string) => void;
  /** Ultralytics' named events (tasks/callbacks.ts), also given to the validator */
  events?: Callbacks;
  /** Ultralytics-style callbacks (awaited) */
  callbacks?: {
    /** after each batch (forward, backward and any optimizer step) */
    onTrainBatchEnd?: (t: PoseTrainer, ni: number) => void | Promise<void>;
    /** after each epoch's validation, results.csv row and checkpoints */
    onFitEpochEnd?: (t: PoseTrainer) => void | Promise<void>;
  };
}

/** A NaN or infinite loss: training stops, the last good checkpoint stays as it was. */
export class NonFiniteLossError extends Error {}

export class PoseTrainer {
  args: TrainArgs;
  readonly log: (s: string) => void;
  saveDir = '';
  device!: Device;
  data!: DatasetConfig;
  model!: PoseModel;
  ema!: ModelEMA<PoseModel>;
  optimizer!: Optimizer;
  loss!: V8PoseLoss;
  loader!: PoseDataset;
  /** builds batches on a worker thread (workers > 0 on webgpu; Ultralytics uses none on cpu) */
  private prefetch: BatchPrefetcher | null = null;
  validator!: PoseValidator;
  epochs: number;
  startEpoch = 0;
  epoch = 0;
  /** the epoch's running mean of the loss items so far (Ultralytics' trainer.tloss), for callbacks */
  tloss: number[] | null = null;
  bestFitness: number | null = null;
  fitness: number | null = null;
  metrics: Record<string, number> = {};
  stopper = { best_fitness: 0, best_epoch: 0 };
  /** the iteration of the last optimizer step, across epochs (Ultralytics' last_opt_step) */
  lastOptStep = -1;
  accumulate = 1;
  possibleStop = false;
  /** loaded from last.pt when resuming */
  private resumeFrom: string | null = null;

  constructor(
    overrides: TrainOverrides = {},
    readonly opts: TrainerOptions = {},
  ) {
    this.log = opts.log ?? ((s) => console.log(s));
    const resume = overrides.resume;
    if (resume) {
      // check_resume: the run's own arguments, with imgsz / batch / device / close_mosaic allowed to change
      const last = findResumeCheckpoint(resume, overrides);
      const saved = readPoseCheckpoint(last).extra.train_args as Record<string, unknown> | undefined;
      if (!saved || typeof saved !== 'object') throw new Error(`${last}: no train_args, cannot resume`);
      const keep: Record<string, unknown> = {};
      for (const k of ['imgsz', 'batch', 'device', 'close_mosaic'])
        if (overrides[k] !== undefined) keep[k] = overrides[k];
      this.args = resolveTrainArgs({
        ...(saved as TrainOverrides),
        ...keep,
        model: last,
        resume: last,
      } as TrainOverrides);
      this.resumeFrom = last;
    } else this.args = resolveTrainArgs(overrides);
    if (!this.args.data)
      throw new Error(
        "train: 'data' is required, e.g. data=coco8-pose.yaml (a dataset yaml with train, val, names and kpt_shape)",
      );
    if (!this.args.model) this.args.model = 'yolov8n-pose.yaml';
    this.epochs = this.args.epochs;
  }

  get last() {
    return join(this.saveDir, 'weights', 'last.pt');
  }
  get best() {
    return join(this.saveDir, 'weights', 'best.pt');
  }
  get csv() {
    return join(this.saveDir, 'results.csv');
  }

  /** Runs the whole training; resolves with the run folder and the final metrics. */
  async train(): Promise<TrainResult> {
    try {
      await this.emit('on_pretrain_routine_start');
      await this.setup();
      await this.emit('on_pretrain_routine_end');
      await this.loop();
      const r = await this.finish();
      await this.emit('on_train_end');
      return r;
    } finally {
      await this.prefetch?.close();
      await this.emit('teardown');
    }
  }

  private async emit(event: CallbackEvent) {
    await this.opts.events?.run(event, this);
  }

  // ---- setup (BaseTrainer.__init__ + _setup_train) --------------------------------------------

  private async setup() {
    const a = this.args;
    this.device = await getDevice(a.device ?? undefined);
    const dev = this.device;
    this.log(`yolo-ts ${VERSION} 🚀 Node-${process.versions.node} ${describeDevice(dev)}`);
    manualSeed(a.seed + 1); // init_seeds(seed + 1 + RANK)
    this.saveDir =
      this.resumeFrom && a.save_dir
        ? a.save_dir
        : getSaveDir({ project: a.project, name: a.name, existOk: a.exist_ok, mode: 'train' });
    a.name = this.saveDir.split(/[\\/]/).pop() ?? a.name;
    a.save_dir = this.saveDir;
    mkdirSync(join(this.saveDir, 'weights'), { recursive: true });
    writeFileSync(join(this.saveDir, 'args.yaml'), argsToYaml(a));
    if (!this.resumeFrom && existsSync(this.csv)) unlinkSync(this.csv); // exist_ok reuses a folder: start a fresh results.csv
    this.log(
      `engine/trainer: ${Object.entries(a)
        .map(([k, v]) => `${k}=${fmt(v)}`)
        .join(', ')}`,
    );

    if (a.label_smoothing)
      this.log(
        `WARNING ⚠️ label_smoothing=${a.label_smoothing} has no effect: Ultralytics 8.2.82's v8 pose loss does not read it either (plain BCE on the class scores); it is accepted for compatibility`,
      );
    if (a.copy_paste)
      this.log(
        `WARNING ⚠️ copy_paste=${a.copy_paste} has no effect on pose data: Ultralytics 8.2.82's CopyPaste pastes instance segments and pose labels have none, so it leaves every pose sample as it is; it is accepted for compatibility`,
      );
    this.data = await checkDataset(a.data!, { log: this.log, progressWrite: this.opts.progressWrite }); // downloads a missing dataset's `download:` zip
    const { model, transfer } = await setupModel(this.resumeFrom ?? a.model!, {
      nc: this.data.nc,
      kptShape: this.data.kptShape,
      names: this.data.names,
      pretrained: a.pretrained,
      device: this.device,
    });
    this.model = model;
    this.log(model.info(640, { verbose: false }).line);
    if (transfer && !this.resumeFrom) this.log(transfer);
    freezeLayers(model, a.freeze as number | number[] | null, this.log);

    const gs = Math.max(...model.stride, 32);
    const want = a.imgsz as number; // resolveTrainArgs made it one number
    const imgsz = Math.max(Math.ceil(want / gs) * gs, gs);
    if (imgsz !== want) this.log(`WARNING ⚠️ imgsz=${want} must be multiple of max stride ${gs}, updating to ${imgsz}`);
    a.imgsz = imgsz;
    if (a.batch < 1) {
      // check_train_batch_size -> autobatch: it measures CUDA memory; neither the cpu nor a WebGPU adapter reports its memory
      const fraction = a.batch > 0 ? a.batch : 0.6;
      this.log(
        `AutoBatch: Computing optimal batch size for imgsz=${imgsz} at ${(fraction * 100).toFixed(1)}% CUDA memory utilization.`,
      );
      this.log(`AutoBatch:  ⚠️ intended for CUDA devices, using default batch-size ${DEFAULT_CFG.batch}`);
      a.batch = DEFAULT_CFG.batch;
    }

    // build_dataloader(mode='train'): augmented, shuffled; batches depend only on (seed, epoch)
    if (a.rect) this.log("WARNING ⚠️ 'rect=True' is incompatible with DataLoader shuffle, setting shuffle=False");
    this.loader = PoseDataset.fromConfig(this.data, 'train', {
      imgsz,
      batch: a.batch,
      augment: true,
      rect: a.rect,
      stride: gs,
      hyp: a,
      seed: a.seed,
      epochs: this.epochs,
      fraction: a.fraction,
      singleCls: a.single_cls,
      classes: a.classes,
      cache:
        a.cache === true || String(a.cache).toLowerCase() === 'ram'
          ? 'ram'
          : String(a.cache).toLowerCase() === 'disk'
            ? 'disk'
            : false,
      prefix: 'train: ',
      log: this.log,
      progress: this.opts.progressWrite ? { write: this.opts.progressWrite, live: false } : undefined,
    });
    if (a.workers > 0 && this.device.type !== 'cpu') this.prefetch = new BatchPrefetcher(this.loader);
    if (a.plots && !this.resumeFrom) {
      // plot_training_labels: before the first epoch, as Ultralytics
      plotLabels(this.loader.labels, this.data.names, join(this.saveDir, 'labels.jpg'));
      plotCorrelogram(this.loader.labels, join(this.saveDir, 'labels_correlogram.jpg'));
      this.log(`Plotting labels to ${join(this.saveDir, 'labels.jpg')}... `);
    }
    this.validator = new PoseValidator({
      data: this.data,
      imgsz,
      batch: a.batch * 2,
      conf: a.conf ?? 0.001,
      iou: a.iou,
      max_det: a.max_det,
      single_cls: a.single_cls,
      classes: a.classes,
      save_json: a.save_json,
      save_hybrid: a.save_hybrid,
      plots: false,
      save_dir: this.saveDir,
      verbose: true,
    });
    this.validator.callbacks = this.opts.events ?? null;
    this.validator.log = this.log;
    this.ema = new ModelEMA(emaCopy(model, this.device));
    this.loss = new V8PoseLoss({
      nc: model.nc,
      kptShape: model.kptShape,
      strides: model.stride,
      hyp: { box: a.box, cls: a.cls, dfl: a.dfl, pose: a.pose, kobj: a.kobj },
    });
    this.metrics = Object.fromEntries([...METRIC_KEYS, ...LOSS_NAMES.map((n) => `val/${n}`)].map((k) => [k, 0]));

    const nb = nominalBatch({
      batch: a.batch,
      nbs: a.nbs,
      weightDecay: a.weight_decay,
      datasetSize: this.loader.length,
      epochs: this.epochs,
    });
    this.accumulate = nb.accumulate;
    const built = buildOptimizer(
      model,
      {
        name: a.optimizer,
        lr: a.lr0,
        momentum: a.momentum,
        decay: nb.weightDecay,
        iterations: nb.iterations,
        nc: model.nc,
        warmupBiasLr: a.warmup_bias_lr,
      },
      this.log,
    );
    this.optimizer = built.optimizer;
    a.warmup_bias_lr = built.warmupBiasLr;
    this.rampMomentum = built.name === 'SGD' || built.name === 'RMSProp'; // groups with a 'momentum' key, as the warmup checks
    this.lf = lrLambda(this.epochs, a.lrf, a.cos_lr);
    if (this.resumeFrom) await this.resumeTraining(this.resumeFrom);
  }

  private rampMomentum = false;
  private lf: (e: number) => number = () => 1;

  /** resume_training: weights, EMA, optimizer, epoch, best fitness, generators, pending gradients. */
  private async resumeTraining(path: string) {
    const ck = readPoseCheckpoint(path);
    const x = ck.extra;
    const epoch = Number(x.epoch ?? -1);
    if (!(epoch >= 0) || !x.optimizer)
      throw new Error(
        `${path} training to ${this.epochs} epochs is finished, nothing to resume.\nStart a new training without resuming, i.e. 'yolo train model=${path}'`,
      );
    this.model.loadStateDict(hostDictFrom(x.model, 'model'));
    this.ema.ema.loadStateDict(ck.stateDict);
    this.ema.updates = Number(x.updates ?? 0);
    await this.optimizer.loadStateDict(optimizerStateFrom(x.optimizer));
    this.bestFitness = x.best_fitness == null ? null : Number(x.best_fitness);
    this.fitness = (x.train_metrics as Record<string, number> | undefined)?.fitness ?? null;
    this.metrics = {
      ...this.metrics,
      ...Object.fromEntries(
        Object.entries((x.train_metrics ?? {}) as Record<string, number>).filter(([k]) => k !== 'fitness'),
      ),
    };
    if (x.stopper) this.stopper = { ...(x.stopper as typeof this.stopper) };
    // Ultralytics restarts last_opt_step at -1 and drops accumulated gradients on resume; keeping
    // both makes the resumed run take exactly the optimizer steps the uninterrupted one takes.
    this.lastOptStep = Number(x.last_opt_step ?? -1);
    if (x.grads) {
      for (const [k, v] of hostDictFrom(x.grads, 'grads')) {
        const p = this.model.namedParameters().find(([n]) => n === k)?.[1];
        if (p) p.grad = tensor(Float32Array.from(v.data as Float32Array), [...v.shape], { device: this.device });
      }
    }
    const rng = x.rng_state as { engine?: number[] } | undefined;
    if (rng?.engine) setRngState(rng.engine.map(Number)); // the data pipeline reseeds itself from (seed, epoch)
    this.startEpoch = epoch + 1;
    truncateResults(this.csv, epoch + 1);
    // a process killed while writing a checkpoint leaves its temp file (the previous file is intact)
    for (const f of readdirSync(join(this.saveDir, 'weights')))
      if (/\.pt\.tmp-\d+-/.test(f)) unlinkSync(join(this.saveDir, 'weights', f));
    this.log(`Resuming training ${path} from epoch ${this.startEpoch + 1} to ${this.epochs} total epochs`);
  }

  // ---- the loop (BaseTrainer._do_train) ---------------------------------------------------------

  private async loop() {
    const a = this.args;
    const nb = this.loader.numBatches;
    const nw = warmupIterations(a.warmup_epochs, nb);
    this.log(
      `Image sizes ${a.imgsz} train, ${a.imgsz} val\nUsing ${this.prefetch ? 1 : 0} dataloader workers\nLogging results to ${this.saveDir}\nStarting training for ${this.epochs} epochs...`,
    );
    const t0 = performance.now();
    await this.emit('on_train_start');
    for (let epoch = this.startEpoch; ; epoch++) {
      this.epoch = epoch;
      await this.emit('on_train_epoch_start');
      scheduleEpoch(this.optimizer, this.lf, epoch);
      this.model.train();
      if (epoch === this.epochs - a.close_mosaic && a.close_mosaic > 0) this.log('Closing dataloader mosaic'); // the dataset drops mosaic and mixup from this epoch on
      this.log('\n' + ['Epoch', 'GPU_mem', ...LOSS_NAMES, 'Instances', 'Size'].map((s) => s.padStart(11)).join(''));
      const pbar = new ProgressBar(nb, { write: this.opts.progressWrite });
      let tloss: number[] | null = null;
      let i = 0,
        timeUp = false;
      const ms = a.multi_scale ? new MultiScaleRng(a.seed, epoch) : null; // preprocess_batch's random size per batch
      for await (const loaded of this.prefetch ? this.prefetch.epoch(epoch) : this.loader.batches(epoch)) {
        const batch = ms
          ? multiScaleBatch(loaded, a.imgsz as number, Math.max(...this.model.stride, 32), ms.next)
          : loaded;
        const ni = i + nb * epoch;
        if (a.time && performance.now() - t0 > a.time * 3.6e6) {
          timeUp = true;
          break;
        } // time= (hours) is up: end this epoch here
        await this.emit('on_train_batch_start');
        if (ni <= nw)
          this.accumulate = applyWarmup(this.optimizer, ni, epoch, this.lf, {
            nw,
            nbs: a.nbs,
            batch: a.batch,
            warmupBiasLr: a.warmup_bias_lr,
            warmupMomentum: a.warmup_momentum,
            momentum: a.momentum,
            rampMomentum: this.rampMomentum,
          });
        if (a.plots && ni < 3)
          plotTrainBatch(batch, this.data.names, this.data.kptShape, join(this.saveDir, `train_batch${ni}.jpg`)); // plot_training_samples
        const items = await this.step(batch);
        if (!items.every(Number.isFinite)) {
          pbar.close();
          throw new NonFiniteLossError(
            `train: the loss became ${items.some(Number.isNaN) ? 'NaN' : 'infinite'} at epoch ${epoch + 1}, batch ${i + 1} (${LOSS_NAMES.map((n, k) => `${n} ${items[k]}`).join(', ')}); training stopped. ` +
              `${existsSync(this.last) ? `The last good checkpoint ${this.last} (end of epoch ${epoch}) is intact: lower lr0 or check the labels, then resume=True.` : 'No checkpoint was written yet.'}`,
          );
        }
        tloss = tloss ? tloss.map((t, k) => Math.fround((t * i + items[k]) / (i + 1))) : Array.from(items);
        this.tloss = tloss;
        if (ni - this.lastOptStep >= this.accumulate) {
          await this.optimizerStep(epoch, i);
          this.lastOptStep = ni;
        }
        pbar.desc = [
          `${epoch + 1}/${this.epochs}`.padStart(11),
          this.memory().padStart(11),
          ...tloss.map((v) => formatG(v, 4).padStart(11)),
          formatG(batch.cls.length, 4).padStart(11),
          formatG(batch.shape[3], 4).padStart(11),
        ].join('');
        pbar.update();
        i++;
        await this.opts.callbacks?.onTrainBatchEnd?.(this, ni);
        await this.emit('on_train_batch_end');
      }
      pbar.close();
      await this.emit('on_train_epoch_end');
      const lr = Object.fromEntries(this.optimizer.paramGroups.map((g, k) => [`lr/pg${k}`, g.lr]));
      const finalEpoch = epoch + 1 >= this.epochs;
      if (a.val || finalEpoch || this.possibleStop || timeUp) {
        try {
          await this.validate();
        } catch (e) {
          // never lose the epoch: last.pt is written (not best.pt: nothing was measured), then the error stops the run
          this.fitness = NaN;
          await this.saveModel(epoch, i - 1 + nb * epoch);
          throw new Error(
            `val: validation failed after epoch ${epoch + 1} (${(e as Error).message}); the epoch's weights are saved in ${this.last}: fix the val data, then resume=True`,
            { cause: e },
          );
        }
      }
      appendResults(this.csv, epoch + 1, {
        ...labelLossItems(tloss ?? [0, 0, 0, 0, 0], 'train'),
        ...this.metrics,
        ...lr,
      });
      let stop =
        this.earlyStop(epoch + 1) || finalEpoch || timeUp || (!!a.time && performance.now() - t0 > a.time * 3.6e6);
      if (a.save || finalEpoch) await this.saveModel(epoch, i - 1 + nb * epoch);
      if (a.save || finalEpoch) await this.emit('on_model_save');
      if (a.time) {
        // time= overrides epochs: as many as the mean epoch time fits, the schedule stretched to them
        const mean = (performance.now() - t0) / (epoch - this.startEpoch + 1);
        this.epochs = a.epochs = Math.ceil((a.time * 3.6e6) / mean);
        this.lf = lrLambda(this.epochs, a.lrf, a.cos_lr);
        stop ||= epoch >= this.epochs;
      }
      await this.opts.callbacks?.onFitEpochEnd?.(this);
      await this.emit('on_fit_epoch_end');
      if (stop) break;
    }
    this.log(
      `\n${this.epoch - this.startEpoch + 1} epochs completed in ${((performance.now() - t0) / 3.6e6).toFixed(3)} hours.`,
    );
  }

  /** One forward + loss + backward, every temporary freed with the scope; returns the 5 loss items. */
  private async step(batch: PoseBatch): Promise<number[]> {
    const items = await tidyAsync(async () => {
      const x = tensor(batch.images, batch.shape, { device: this.device }); // (B, 3, H, W) in [0, 1]
      const out = this.model.forward(x) as [Tensor[], Tensor]; // per level (B, 65, h, w), (B, 51, A)
      const r = await this.loss.forward(out, batch);
      backward(r.loss);
      return r.items;
    });
    const v = Array.from(await items.data());
    items.dispose();
    return v;
  }

  /** optimizer_step: clip the gradient norm at 10, step, zero the gradients, update the EMA. */
  private async optimizerStep(epoch: number, i: number) {
    const params = this.model.parameters().filter((p) => p.requiresGrad);
    const { norm, scale } = await clipGradNorm(params, 10.0);
    if (!Number.isFinite(norm))
      throw new NonFiniteLossError(
        `train: the gradient norm became ${norm} at epoch ${epoch + 1}, batch ${i + 1}; training stopped before the weights were changed. ${existsSync(this.last) ? `The last good checkpoint ${this.last} is intact.` : ''}`,
      );
    this.optimizer.step(scale);
    this.optimizer.zeroGrad();
    this.ema.update(this.model);
  }

  private memory(): string {
    const gpu = this.device instanceof WebGPUDevice ? this.device.gpu : null;
    return `${formatG(gpu ? gpu.allocatedBytes / 1e9 : 0, 3)}G`;
  }

  // ---- validation, early stopping, checkpoints ----------------------------------------------------

  private async validate() {
    const { metrics, fitness } = await validateEpoch(this.validator, this.ema.ema, this.loss, this.device);
    this.metrics = metrics;
    this.fitness = fitness;
    if (!this.bestFitness || this.bestFitness < fitness) this.bestFitness = fitness;
  }

  /** EarlyStopping.__call__(epoch, fitness). */
  private earlyStop(epoch: number): boolean {
    const fitness = this.fitness;
    if (fitness == null) return false;
    if (fitness >= this.stopper.best_fitness) this.stopper = { best_fitness: fitness, best_epoch: epoch };
    const patience = this.args.patience || Infinity;
    this.possibleStop = epoch - this.stopper.best_epoch >= patience - 1; // a stop may come next epoch
    const stop = epoch - this.stopper.best_epoch >= patience;
    if (stop)
      this.log(
        `EarlyStopping: Training stopped early as no improvement observed in last ${patience} epochs. Best results observed at epoch ${this.stopper.best_epoch}, best model saved as best.pt.`,
      );
    return stop;
  }

  private async saveModel(epoch: number, lastNi: number) {
    const state = {
      epoch,
      bestFitness: this.bestFitness,
      model: this.model,
      ema: this.ema.ema,
      emaUpdates: this.ema.updates,
      optimizer: this.optimizer,
      trainArgs: { ...this.args },
      trainMetrics: { ...this.metrics, fitness: this.fitness },
      rng: { engine: getRngState() },
      stopper: { ...this.stopper },
      lastOptStep: this.lastOptStep,
      pendingGrads: this.lastOptStep < lastNi,
      trainResults: existsSync(this.csv) ? readResults(this.csv).data : undefined, // Ultralytics' train_results
    };
    await saveTrainCheckpoint(this.last, state);
    // serialized once, as Ultralytics does: best.pt and epoch{N}.pt are copies of last.pt's bytes
    if (this.bestFitness === this.fitness) copyFileAtomic(this.last, this.best);
    const sp = this.args.save_period;
    if (sp > 0 && epoch % sp === 0) copyFileAtomic(this.last, join(this.saveDir, 'weights', `epoch${epoch}.pt`));
  }

  // ---- the end (final_eval + plot_metrics) --------------------------------------------------------

  private async finish(): Promise<TrainResult> {
    let metrics = this.metrics;
    for (const f of [this.last, this.best]) {
      if (!existsSync(f)) continue;
      const mb = await stripCheckpoint(f);
      this.log(`Optimizer stripped from ${f}, ${mb.toFixed(1)}MB`);
    }
    if (existsSync(this.best)) {
      this.log(`\nValidating ${this.best}...`);
      const best = new PoseModel(this.model.yaml, this.device);
      best.loadStateDict(readPoseCheckpoint(this.best).stateDict);
      best.names = { ...this.model.names };
      best.eval().fuse();
      for (const p of best.parameters()) p.requiresGrad = false; // loaded for inference, as AutoBackend: '0 gradients'
      const dev = this.device;
      this.log(`yolo-ts ${VERSION} 🚀 Node-${process.versions.node} ${describeDevice(dev)}`);
      this.log(best.info(640, { verbose: false }).line); // 'YOLOv8n-pose summary (fused): 187 layers, ...'
      const v = new PoseValidator({ ...this.validator.args, plots: this.args.plots, save_dir: this.saveDir });
      v.log = this.log;
      v.callbacks = this.opts.events ?? null;
      const r = await v.run(best, this.device);
      metrics = { ...r.resultsDict };
      this.metrics = { ...r.resultsDict };
      await this.emit('on_fit_epoch_end');
    }
    if (this.args.plots) plotResults([{ file: this.csv, label: 'results' }], join(this.saveDir, 'results.png'));
    if (!this.args.plots || !existsSync(this.best)) this.log(`Results saved to ${this.saveDir}`); // else best.pt's validation said so
    return { saveDir: this.saveDir, last: this.last, best: this.best, metrics, epochs: this.epoch + 1 };
  }
}
