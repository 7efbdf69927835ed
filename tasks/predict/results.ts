// Results of one image, shaped like Ultralytics' ultralytics/engine/results.py: Results holds the
// original image, its path and shape, class names, Boxes (n, 6) = x1 y1 x2 y2 conf cls and
// Keypoints (n, 17, 3) = x y conf, all in original-image pixels, plus per-stage timing.
// Derived views (xywh, xyxyn, ...) are computed in float32 like the torch ops they mirror and
// returned as nested number arrays: boxes.xyxy[i] = [x1, y1, x2, y2].
//
// Imports: ../data/image (writing), ../plot/annotator (plot), ../format (Python's %g in label files).

import { writeImage, type RgbImage } from '../data/image.js';
import { plotResult, type PlotOptions } from '../plot/annotator.js';
import { formatG } from '../format.js';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

const f32 = Math.fround;
export type Shape2 = [number, number]; // (height, width)

/** Detected boxes: `data` is (n, 6) row-major x1, y1, x2, y2, conf, cls in original pixels. */
export class Boxes {
  /** Track ids (one per box) when the boxes come from a tracker (mode=track), else null. */
  readonly ids: Int32Array | null;
  constructor(
    readonly data: Float32Array,
    readonly origShape: Shape2,
    ids: Int32Array | null = null,
  ) {
    if (data.length % 6 !== 0) throw new Error(`Boxes: data must be (n, 6), got ${data.length} values`);
    if (ids && ids.length !== data.length / 6)
      throw new Error(`Boxes: ${ids.length} track ids for ${data.length / 6} boxes`);
    this.ids = ids;
  }
  /** Ultralytics' boxes.is_track / boxes.id: the track id of each box, or null when not tracking. */
  get isTrack(): boolean {
    return this.ids !== null;
  }
  get id(): number[] | null {
    return this.ids ? Array.from(this.ids) : null;
  }
  get length(): number {
    return this.data.length / 6;
  }
  private rows<T>(f: (r: Float32Array) => T): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.length; i++) out.push(f(this.data.subarray(i * 6, i * 6 + 6)));
    return out;
  }
  get xyxy(): number[][] {
    return this.rows((r) => [r[0], r[1], r[2], r[3]]);
  }
  /** ops.xyxy2xywh: centre x, centre y, width, height. */
  get xywh(): number[][] {
    return this.rows((r) => [f32(f32(r[0] + r[2]) / 2), f32(f32(r[1] + r[3]) / 2), f32(r[2] - r[0]), f32(r[3] - r[1])]);
  }
  get xyxyn(): number[][] {
    const [h, w] = this.origShape;
    return this.xyxy.map((b) => b.map((v, k) => f32(v / (k % 2 ? h : w))));
  }
  get xywhn(): number[][] {
    const [h, w] = this.origShape;
    return this.xywh.map((b) => b.map((v, k) => f32(v / (k % 2 ? h : w))));
  }
  get conf(): number[] {
    return this.rows((r) => r[4]);
  }
  get cls(): number[] {
    return this.rows((r) => r[5]);
  }
}

/**
 * Keypoints: `data` is (n, nk, dims), dims 3 (x, y, conf) or 2. As in Ultralytics, points whose
 * confidence is < 0.5 get x = y = 0 (not visible), which plot() and the label files rely on.
 */
export class Keypoints {
  readonly hasVisible: boolean;
  constructor(
    readonly data: Float32Array,
    readonly kptShape: [number, number],
    readonly origShape: Shape2,
  ) {
    const [nk, dims] = kptShape;
    if (data.length % (nk * dims) !== 0)
      throw new Error(`Keypoints: data must be (n, ${nk}, ${dims}), got ${data.length} values`);
    this.hasVisible = dims === 3;
    if (this.hasVisible) {
      for (let i = 0; i < data.length; i += 3) if (data[i + 2] < 0.5) data[i] = data[i + 1] = 0;
    }
  }
  get length(): number {
    return this.data.length / (this.kptShape[0] * this.kptShape[1]);
  }
  private points<T>(f: (x: number, y: number, c: number) => T): T[][] {
    const [nk, dims] = this.kptShape;
    const out: T[][] = [];
    for (let i = 0; i < this.length; i++) {
      const row: T[] = [];
      for (let k = 0; k < nk; k++) {
        const o = (i * nk + k) * dims;
        row.push(f(this.data[o], this.data[o + 1], dims === 3 ? this.data[o + 2] : 1));
      }
      out.push(row);
    }
    return out;
  }
  /** (n, nk, 2) pixels. */
  get xy(): number[][][] {
    return this.points((x, y) => [x, y]);
  }
  /** (n, nk, 2) divided by the original width and height. */
  get xyn(): number[][][] {
    const [h, w] = this.origShape;
    return this.points((x, y) => [f32(x / w), f32(y / h)]);
  }
  /** (n, nk) keypoint confidences; null for 2-value keypoints, as in Ultralytics. */
  get conf(): number[][] | null {
    return this.hasVisible ? this.points((_x, _y, c) => c) : null;
  }
}

export interface Speed {
  preprocess: number;
  inference: number;
  postprocess: number;
}

export interface SummaryOptions {
  /** Divide coordinates by the image width/height. */
  normalize?: boolean;
  /** Decimals to round to (Ultralytics' default 5). */
  decimals?: number;
}

/** One detection as Results.summary() gives it (the JSON form). */
export interface DetectionSummary {
  name: string;
  class: number;
  confidence: number;
  box: { x1: number; y1: number; x2: number; y2: number };
  keypoints?: { x: number[]; y: number[]; visible: number[] };
}

export class Results {
  /** Where save() / saveTxt() wrote, when the predictor saved this result. */
  saveDir: string | null = null;
  speed: Speed = { preprocess: 0, inference: 0, postprocess: 0 };

  constructor(
    /** The image as read (RGB, HWC); kept for plot(). */
    readonly origImg: RgbImage,
    readonly path: string,
    readonly names: Record<number, string>,
    readonly boxes: Boxes,
    readonly keypoints: Keypoints | null,
  ) {}

  /** (height, width) of the original image. */
  get origShape(): Shape2 {
    return [this.origImg.height, this.origImg.width];
  }

  get length(): number {
    return this.boxes.length;
  }

  /** The per-image log fragment: '3 persons, ', '1 person, ' or '(no detections), '. */
  verbose(): string {
    if (this.length === 0) return '(no detections), ';
    const counts = new Map<number, number>();
    for (const c of this.boxes.cls) counts.set(c, (counts.get(c) ?? 0) + 1);
    let s = '';
    for (const c of [...counts.keys()].sort((a, b) => a - b)) {
      const n = counts.get(c)!;
      s += `${n} ${this.names[c] ?? c}${n > 1 ? 's' : ''}, `;
    }
    return s;
  }

  /** Ultralytics' Results.summary(): one record per detection, rounded. */
  summary(opts: SummaryOptions = {}): DetectionSummary[] {
    const { normalize = false, decimals = 5 } = opts;
    const [h, w] = normalize ? this.origShape : [1, 1];
    const r = (v: number) => roundTo(v, decimals);
    const kp = this.keypoints;
    const [nk, dims] = kp?.kptShape ?? [0, 0];
    return this.boxes.xyxy.map((b, i) => {
      const cls = this.boxes.cls[i];
      const det: DetectionSummary = {
        name: this.names[cls] ?? String(cls),
        class: cls,
        confidence: r(this.boxes.conf[i]),
        box: { x1: r(b[0] / w), y1: r(b[1] / h), x2: r(b[2] / w), y2: r(b[3] / h) },
      };
      if (kp) {
        const o = i * nk * dims;
        const get = (k: number, c: number) => kp.data[o + k * dims + c];
        det.keypoints = {
          x: Array.from({ length: nk }, (_, k) => r(f32(get(k, 0) / w))),
          y: Array.from({ length: nk }, (_, k) => r(f32(get(k, 1) / h))),
          visible: Array.from({ length: nk }, (_, k) => (dims === 3 ? r(get(k, 2)) : 1)),
        };
      }
      return det;
    });
  }

  /** JSON.stringify(result) gives summary(); Ultralytics' tojson() is JSON.stringify(r, null, 2). */
  toJSON(): DetectionSummary[] {
    return this.summary();
  }

  /** The image with boxes, labels, keypoints and the skeleton drawn (a new RGB image). */
  plot(opts: PlotOptions = {}): RgbImage {
    return plotResult(this, opts);
  }

  /**
   * save_crop: each detection's box, grown as save_one_box grows it (x1.02 + 10 px, clipped to the
   * image), cut from the original image to `<saveDir>/<class name>/<fileName>.jpg` (fileName2.jpg,
   * fileName3.jpg, ... when taken). Returns the files written.
   */
  saveCrop(saveDir: string, fileName: string): string[] {
    const out: string[] = [];
    const { width: W, height: H } = this.origImg;
    const xyxy = this.boxes.xyxy,
      cls = this.boxes.cls;
    xyxy.forEach(([x1, y1, x2, y2], i) => {
      const w = (x2 - x1) * 1.02 + 10,
        h = (y2 - y1) * 1.02 + 10,
        cx = (x1 + x2) / 2,
        cy = (y1 + y2) / 2;
      const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
      const [a, b, c, d] = [clip(cx - w / 2, W), clip(cy - h / 2, H), clip(cx + w / 2, W), clip(cy + h / 2, H)].map(
        Math.trunc,
      );
      if (c <= a || d <= b) return;
      const crop: RgbImage = { width: c - a, height: d - b, data: new Uint8Array((c - a) * (d - b) * 3) };
      for (let y = b; y < d; y++)
        crop.data.set(this.origImg.data.subarray((y * W + a) * 3, (y * W + c) * 3), (y - b) * (c - a) * 3);
      const dir = join(saveDir, this.names[cls[i]] ?? String(cls[i]));
      let file = join(dir, `${fileName}.jpg`);
      for (let n = 2; existsSync(file); n++) file = join(dir, `${fileName}${n}.jpg`); // increment_path
      writeImage(file, crop);
      out.push(file);
    });
    return out;
  }

  /** Writes plot() to `file` (.jpg or .png). */
  save(file: string, opts: PlotOptions = {}): string {
    writeImage(file, this.plot(opts));
    return file;
  }

  /**
   * Appends this image's detections to a label file in Ultralytics' format, one line per
   * detection: `cls cx cy w h` (normalized), then `x y conf` per keypoint (normalized; conf only
   * for 3-value keypoints), then `conf` when saveConf; numbers printed with Python's %g.
   */
  saveTxt(file: string, saveConf = false): void {
    const lines = this.labelLines(saveConf);
    if (!lines.length) return;
    mkdirSync(dirname(file), { recursive: true });
    appendFileSync(file, lines.map((l) => l + '\n').join(''));
  }

  labelLines(saveConf = false): string[] {
    const xywhn = this.boxes.xywhn;
    const conf = this.boxes.conf;
    const xyn = this.keypoints?.xyn;
    const kconf = this.keypoints?.conf;
    return this.boxes.cls.map((c, i) => {
      const vals: number[] = [Math.trunc(c), ...xywhn[i]];
      if (xyn) xyn[i].forEach(([x, y], k) => vals.push(x, y, ...(kconf ? [kconf[i][k]] : [])));
      if (saveConf) vals.push(conf[i]);
      if (this.boxes.ids) vals.push(this.boxes.ids[i]); // as Ultralytics: the track id last
      return vals.map((v) => formatG(v)).join(' ');
    });
  }
}

/** numpy/Python round(x, d) for display: half-to-even on the decimal value. */
function roundTo(v: number, d: number): number {
  const s = 10 ** d;
  const x = v * s;
  const r = Math.round(x);
  const even = Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  return even / s;
}
