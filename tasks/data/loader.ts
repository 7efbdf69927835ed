// The pose dataset as the trainer and validator read it (Ultralytics' YOLODataset + build_dataloader
// + collate_fn), on host arrays. A batch is
//   images     (B, 3, H, W) float32 RGB in [0, 1]        keypoints (N, K, 3) normalized x, y, visibility
//   batchIdx   (N) image of each object in the batch     bboxes    (N, 4) normalized xywh
//   cls        (N, 1)
// Train (augment): per sample, as v8_transforms orders it, Mosaic (from the recently loaded images'
// buffer) or LetterBox -> RandomPerspective -> MixUp -> RandomHSV -> RandomFlip(vertical) ->
// RandomFlip(horizontal, flip_idx) -> Format (RGB, or BGR with probability `bgr`). Mosaic and mixup stop
// for the last close_mosaic epochs.
// Val (rect): images sorted by aspect ratio, each batch letterboxed to its own shape
// (set_rectangle: ceil(shape * imgsz / stride + pad) * stride), no augmentation; with rect off
// (an exported model's fixed input), file order and imgsz x imgsz. An image that fails to decode is
// left out of its batch and reported (onBadImage), so the validator never counts a neighbour twice.
//
// Randomness: the shuffle and every augmentation draw come from the dataset's own engine/random.ts
// Generator, seeded from (seed, epoch) at the start of each epoch, so batches are a pure function of
// (dataset, options, epoch): the same on every run and after a resume, and neither moving nor moved
// by the engine's default generator. The image buffer behind Mosaic restarts each epoch.
//
// Imports: node, ../../engine/random.ts (Generator only), ../../engine/errors.ts (InputError), ./*.

import { InputError } from '../../engine/errors.js';
// aliased: `Generator` would shadow the built-in iterator type batches() returns
import { Generator as RandomGenerator } from '../../engine/random.js';
import type { ProgressOptions } from '../progress.js';
import { augmentHyp, betaSample, letterboxSample, mosaic4, mosaicBorder, mixup, randomFlip, randomPerspective, type AugmentHyp, type LoadedImage, type Sample } from './augment.js';
import { scanLabels, type LabelScan } from './cache.js';
import { imageFiles, type DatasetConfig } from './dataset.js';
import { randomHSV } from './hsv.js';
import { readImage, type RgbImage } from './image.js';
import { readThroughNpy } from './npy.js';
import { toTargets, type Targets } from './instances.js';
import type { LabelEntry } from './labels.js';
import { toCHWFloat } from './letterbox.js';
import { pyRound } from '../../engine/math.js';
import { resizeBilinear } from './resize.js';

export interface LoaderOptions {
  imgsz?: number; // 640
  batch?: number; // 16
  /** training augmentation (default true) */
  augment?: boolean;
  /** rectangular batches (default: !augment, as for val) */
  rect?: boolean;
  stride?: number; // 32
  /** set_rectangle padding (default 0 when augmenting, else 0.5) */
  pad?: number;
  /** `key=value` hyperparameter overrides (hsv_h, mosaic, fliplr, ...) */
  hyp?: Record<string, unknown>;
  seed?: number; // 0
  /** default: augment && !rect */
  shuffle?: boolean;
  /** total epochs, for close_mosaic (default: never close) */
  epochs?: number;
  /** keep decoded images in memory ('ram'), or as <image>.npy files beside them ('disk', Ultralytics' format); default off */
  cache?: boolean | 'ram' | 'disk';
  /** write/read `<labels dir>.cache` (default true) */
  labelCache?: boolean;
  /** keep the first round(n * fraction) images of the sorted list (Ultralytics' fraction=, default 1) */
  fraction?: number;
  /** single_cls: every label's class becomes 0 (BaseDataset.update_labels) */
  singleCls?: boolean;
  /** classes=: keep only the labels of these class ids, before single_cls (BaseDataset.update_labels) */
  classes?: number[] | number | null;
  /** 'train: ' / 'val: ' */
  prefix?: string;
  /**
   * Without augmentation: an image that passed the scan but fails to decode is left out of its batch
   * and given here (default: a warning in the log). When augmenting it is replaced by its neighbour.
   */
  onBadImage?: (e: InputError) => void;
  log?: (m: string) => void;
  progress?: Omit<ProgressOptions, 'desc' | 'initial'>;
}

export interface PoseBatch {
  images: Float32Array; // (B, 3, H, W)
  shape: [number, number, number, number];
  batchIdx: Float32Array; // (N)
  cls: Float32Array; // (N, 1)
  bboxes: Float32Array; // (N, 4)
  keypoints: Float32Array; // (N, K, 3)
  imFiles: string[];
  oriShapes: [number, number][]; // (h, w) on disk
  resizedShapes: [number, number][]; // (h, w) after the long-side resize
  /** (ratio (h, w) resized / original, pad (left, top)) as Ultralytics' ratio_pad; val only */
  ratioPad: { ratio: [number, number]; pad: [number, number] }[];
}

/** The generator's seed for an epoch: a 32-bit mix of (seed, epoch). */
export const epochSeed = (s: number, epoch: number): number => (Math.imul(s >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca77)) >>> 0;

export interface RectPlan {
  order: number[]; // sample indices sorted by aspect ratio (h / w)
  batches: number[][]; // positions in `order`, batch by batch
  shapes: [number, number][]; // per batch (h, w), multiples of stride
}

/**
 * set_rectangle: sort images by aspect ratio h/w, cut into batches, and give each batch the
 * shape that fits its most extreme image: ceil(shape * imgsz / stride + pad) * stride.
 */
export function rectBatches(shapes: [number, number][], batch: number, imgsz: number, stride = 32, pad = 0.5): RectPlan {
  const ar = shapes.map(([h, w]) => h / w);
  // np.argsort (quicksort) is stable for the <= 16 element partitions it insertion-sorts; stable here.
  const order = ar.map((_, i) => i).sort((a, b) => ar[a] - ar[b] || a - b);
  const batches: number[][] = [];
  const out: [number, number][] = [];
  for (let s = 0; s < order.length; s += batch) {
    const idx = Array.from({ length: Math.min(batch, order.length - s) }, (_, k) => s + k);
    const ari = idx.map((k) => ar[order[k]]);
    const mini = Math.min(...ari), maxi = Math.max(...ari);
    let shape: [number, number] = [1, 1];
    if (maxi < 1) shape = [maxi, 1];
    else if (mini > 1) shape = [1, 1 / mini];
    batches.push(idx);
    out.push(shape.map((v) => Math.ceil((v * imgsz) / stride + pad) * stride) as [number, number]);
  }
  return { order, batches, shapes: out };
}

interface Loaded extends LoadedImage {
  labels: LabelEntry;
  ori: [number, number]; // (h, w) before the resize
}

export class PoseDataset {
  readonly labels: LabelEntry[];
  readonly hyp: AugmentHyp;
  readonly imgsz: number;
  readonly batchSize: number;
  readonly augment: boolean;
  readonly rect: boolean;
  readonly shuffle: boolean;
  readonly kptShape: [number, number];
  readonly flipIdx?: number[];
  /** per batch (h, w) when rect */
  readonly batchShapes: [number, number][] = [];
  private readonly log: (m: string) => void;
  private readonly ram = new Map<number, Loaded>(); // cache='ram'
  private buffer: number[] = []; // Mosaic's partners: indices of the images loaded last
  private buffered = new Map<number, Loaded>();
  private readonly broken = new Set<number>();
  /** the label scan this dataset was built from (fromConfig): counts, corrupt images, messages */
  scan: LabelScan | null = null;

  /** `labels` from scanLabels (or a worker's copy); `cfg` gives kpt_shape and flip_idx. */
  constructor(labels: LabelEntry[], cfg: Pick<DatasetConfig, 'kptShape' | 'flipIdx'>, readonly opts: LoaderOptions = {}) {
    this.imgsz = opts.imgsz ?? 640;
    this.batchSize = opts.batch ?? 16;
    this.augment = opts.augment ?? true;
    this.rect = opts.rect ?? !this.augment;
    this.shuffle = (opts.shuffle ?? this.augment) && !this.rect;
    this.kptShape = cfg.kptShape;
    this.log = opts.log ?? console.log;
    if (!labels.length) throw new Error(`${opts.prefix ?? ''}no usable images (all missing or corrupt)`);
    if (!Number.isInteger(this.imgsz) || this.imgsz < 32) throw new Error(`imgsz=${this.imgsz}: expected a whole number of pixels >= 32`);
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new Error(`batch=${this.batchSize}: expected a whole number >= 1`);
    const hyp = augmentHyp(opts.hyp ?? {});
    if (this.rect) (hyp.mosaic = 0), (hyp.mixup = 0); // rect and mosaic are mutually exclusive
    if (!cfg.flipIdx?.length && hyp.fliplr > 0 && this.augment) {
      this.log(`${opts.prefix ?? ''}WARNING: no 'flip_idx' in the dataset yaml, setting augmentation 'fliplr=0.0'`);
      hyp.fliplr = 0;
    }
    this.hyp = hyp;
    this.flipIdx = cfg.flipIdx;
    if (opts.classes != null) labels = labels.map((l) => keepClasses(l, [opts.classes!].flat(), this.kptShape[0]));
    if (opts.singleCls) labels = labels.map((l) => ({ ...l, cls: new Float32Array(l.cls.length) }));
    if (this.rect) {
      const { order, shapes } = rectBatches(labels.map((l) => l.shape), this.batchSize, this.imgsz, opts.stride ?? 32, opts.pad ?? (this.augment ? 0 : 0.5));
      labels = order.map((i) => labels[i]);
      this.batchShapes = shapes;
    }
    this.labels = labels;
  }

  /**
   * Scans a split of a dataset yaml (scanLabels: the label cache, the progress bar, Ultralytics'
   * warnings) and builds its dataset: the one way train, val and export calibration read a split.
   * Throws, naming the folder and a reason, when every image is corrupt.
   */
  static fromConfig(cfg: DatasetConfig, split: 'train' | 'val' | 'test', opts: LoaderOptions = {}): PoseDataset {
    const source = cfg[split];
    if (!source) throw new Error(`${cfg.yamlFile}: no '${split}:' split`);
    let files = imageFiles(source);
    const fraction = opts.fraction ?? 1;
    if (fraction < 1) files = files.slice(0, pyRound(files.length * fraction)); // Python's round()
    const prefix = opts.prefix ?? `${split}: `;
    const scan = scanLabels(files, { kptShape: cfg.kptShape, nc: cfg.nc, prefix, cache: opts.labelCache, log: opts.log, progress: opts.progress });
    if (!scan.labels.length)
      throw new Error(`${prefix}no usable images in ${[source].flat().join(', ')}: all ${scan.n} are corrupt, e.g. ${scan.corrupt[0]}`);
    const ds = new PoseDataset(scan.labels, cfg, opts);
    ds.scan = scan;
    return ds;
  }

  get length(): number {
    return this.labels.length;
  }

  get numBatches(): number {
    return Math.ceil(this.labels.length / this.batchSize);
  }

  /** Mosaic is off from epoch `epochs - close_mosaic` on (0-based), as the trainer's check does. */
  mosaicActive(epoch: number): boolean {
    const start = (this.opts.epochs ?? Infinity) - this.hyp.close_mosaic;
    return this.hyp.mosaic > 0 && !(this.hyp.close_mosaic > 0 && start >= 0 && epoch >= start);
  }

  /** The batches of one epoch, in order. */
  *batches(epoch = 0): Generator<PoseBatch> {
    // the dataset's own generator, so augmentation never moves the engine's default stream
    const gen = new RandomGenerator(epochSeed(this.opts.seed ?? 0, epoch));
    const rand = () => gen.random();
    const hyp = this.mosaicActive(epoch) ? this.hyp : { ...this.hyp, mosaic: 0, mixup: 0 };
    this.buffer = [];
    this.buffered = new Map();
    const n = this.labels.length;
    const order = Array.from({ length: n }, (_, i) => i);
    if (this.shuffle)
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    for (let b = 0; b < this.numBatches; b++) {
      const idx = order.slice(b * this.batchSize, (b + 1) * this.batchSize);
      const items = idx.map((i) => (this.augment ? this.trainItem(i, b, hyp, rand) : this.valItem(i, b)));
      yield this.collate(items.filter((it): it is Item => it !== null), this.batchShape(b));
    }
  }

  /**
   * Ultralytics' load_image: decode, then resize (INTER_LINEAR) so the long side is imgsz. When
   * augmenting, the image joins the buffer Mosaic draws partners from (the last min(n, 8 * batch,
   * 1000) images loaded); cache='ram' only saves decoding and never changes which images those are.
   */
  private load(i: number): Loaded {
    const inBuffer = this.buffered.get(i);
    if (inBuffer) return inBuffer;
    const out = this.ram.get(i) ?? this.decode(i);
    if (this.opts.cache === true || this.opts.cache === 'ram') this.ram.set(i, out);
    if (this.augment) {
      this.buffer.push(i);
      this.buffered.set(i, out);
      if (this.buffer.length > 1 && this.buffer.length >= Math.min(this.labels.length, this.batchSize * 8, 1000)) this.buffered.delete(this.buffer.shift()!);
    }
    return out;
  }

  private decode(i: number): Loaded {
    const entry = this.labels[i];
    let img: RgbImage;
    try {
      if (this.broken.has(i)) throw new Error('skipped');
      img = this.opts.cache === 'disk' ? readThroughNpy(entry.imFile, readImage) : readImage(entry.imFile);
    } catch (e) {
      if (!this.augment) throw e; // val: valItem leaves the image out of its batch
      // A file that passed the scan but does not decode: skip it for good rather than stop the epoch.
      if (!this.broken.has(i)) this.log(`WARNING: ${(e as Error).message}; the image is skipped (its neighbour is used in its place)`);
      this.broken.add(i);
      if (this.broken.size >= this.labels.length) throw new Error('no image of the dataset can be decoded');
      return this.decode((i + 1) % this.labels.length);
    }
    const h0 = img.height, w0 = img.width;
    const r = this.imgsz / Math.max(h0, w0);
    if (r !== 1) img = resizeBilinear(img, Math.min(Math.ceil(w0 * r), this.imgsz), Math.min(Math.ceil(h0 * r), this.imgsz));
    return { img, labels: entry, ori: [h0, w0] };
  }

  private finish(s: Sample, l: Loaded, extra: Partial<Item> = {}): Item {
    return { img: s.img, targets: toTargets(s.ins, s.img.width, s.img.height), imFile: l.labels.imFile, ori: l.ori, resized: [l.img.height, l.img.width], ...extra };
  }

  // Mosaic or LetterBox, then RandomPerspective: v8_transforms' pre_transform (also MixUp's).
  private preTransform(i: number, b: number, hyp: AugmentHyp, rand: () => number): { s: Sample; main: Loaded } {
    const main = this.load(i);
    const K = this.kptShape[0];
    if (!(uniform01(rand) > hyp.mosaic)) {
      const buf = this.buffer;
      const parts = [main, ...[0, 1, 2].map(() => this.load(buf[Math.floor(rand() * buf.length)]))];
      return { s: randomPerspective(mosaic4(parts, this.imgsz, K, rand), hyp, mosaicBorder(this.imgsz), rand), main };
    }
    return { s: randomPerspective(letterboxSample(main, this.batchShape(b), K, true), hyp, [0, 0], rand), main };
  }

  private trainItem(i: number, b: number, hyp: AugmentHyp, rand: () => number): Item {
    let { s, main } = this.preTransform(i, b, hyp, rand);
    if (!(uniform01(rand) > hyp.mixup)) {
      const other = this.preTransform(Math.floor(rand() * this.labels.length), b, hyp, rand).s;
      s = mixup(s, other, betaSample(32, 32, rand));
    }
    randomHSV(s.img, hyp.hsv_h, hyp.hsv_s, hyp.hsv_v, rand);
    s = randomFlip(s, hyp.flipud, 'vertical', undefined, rand);
    s = randomFlip(s, hyp.fliplr, 'horizontal', this.flipIdx, rand);
    // Format(bgr=hyp.bgr): the channels flip to RGB unless a draw falls at or below bgr
    if (!(uniform01(rand) > hyp.bgr)) {
      const d = s.img.data;
      for (let p = 0; p < d.length; p += 3) {
        const r = d[p];
        d[p] = d[p + 2];
        d[p + 2] = r;
      }
    }
    return this.finish(s, main);
  }

  /** (h, w) every image of batch `b` is letterboxed to. */
  private batchShape(b: number): [number, number] {
    return this.rect ? this.batchShapes[b] : [this.imgsz, this.imgsz];
  }

  private valItem(i: number, b: number): Item | null {
    let l: Loaded;
    try {
      l = this.load(i);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      (this.opts.onBadImage ?? ((e) => this.log(`${this.opts.prefix ?? ''}WARNING: ${e.message}; the image is left out of its batch`)))(e);
      return null;
    }
    const s = letterboxSample(l, this.batchShape(b), this.kptShape[0], false);
    return this.finish(s, l, { ratioPad: { ratio: [l.img.height / l.ori[0], l.img.width / l.ori[1]], pad: s.pad } });
  }

  /** collate_fn: stack the images, concatenate the targets with their image index (B = 0 when none decoded). */
  private collate(items: Item[], shape: [number, number]): PoseBatch {
    const [H, W] = items.length ? [items[0].img.height, items[0].img.width] : shape;
    const B = items.length, K = this.kptShape[0];
    const N = items.reduce((s, it) => s + it.targets.cls.length, 0);
    const out: PoseBatch = {
      images: new Float32Array(B * 3 * H * W), shape: [B, 3, H, W],
      batchIdx: new Float32Array(N), cls: new Float32Array(N), bboxes: new Float32Array(N * 4), keypoints: new Float32Array(N * K * 3),
      imFiles: [], oriShapes: [], resizedShapes: [], ratioPad: [],
    };
    let o = 0;
    items.forEach((it, b) => {
      if (it.img.width !== W || it.img.height !== H) throw new Error(`collate: ${it.imFile} is ${it.img.width}x${it.img.height}, the batch is ${W}x${H}`);
      out.images.set(toCHWFloat(it.img), b * 3 * H * W);
      const n = it.targets.cls.length;
      out.batchIdx.fill(b, o, o + n);
      out.cls.set(it.targets.cls, o);
      out.bboxes.set(it.targets.bboxes, o * 4);
      out.keypoints.set(it.targets.keypoints, o * K * 3);
      o += n;
      out.imFiles.push(it.imFile);
      out.oriShapes.push(it.ori);
      out.resizedShapes.push(it.resized);
      if (it.ratioPad) out.ratioPad.push(it.ratioPad);
    });
    return out;
  }
}

/** A label entry with only the objects whose class is in `classes` (images keep their place, maybe as backgrounds). */
function keepClasses(l: LabelEntry, classes: number[], K: number): LabelEntry {
  const keep = [...l.cls.keys()].filter((i) => classes.includes(l.cls[i]));
  if (keep.length === l.cls.length) return l;
  const pick = (a: Float32Array, w: number) => {
    const out = new Float32Array(keep.length * w);
    keep.forEach((i, j) => out.set(a.subarray(i * w, (i + 1) * w), j * w));
    return out;
  };
  return { ...l, cls: pick(l.cls, 1), bboxes: pick(l.bboxes, 4), keypoints: pick(l.keypoints, K * 3) }; // labels hold (x, y, visibility) per keypoint
}

/** random.uniform(0, 1), the draw BaseMixTransform compares with its probability. */
const uniform01 = (rand: () => number): number => 0 + (1 - 0) * rand();

interface Item {
  img: RgbImage;
  targets: Targets;
  imFile: string;
  ori: [number, number];
  resized: [number, number];
  ratioPad?: { ratio: [number, number]; pad: [number, number] };
}
