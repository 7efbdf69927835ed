// predict visualize=True, as Ultralytics 8.2 has it (utils/plotting.feature_visualization, called
// by BaseModel._predict_once for every layer): for each layer whose output is a (1, C, h, w) map with
// h, w > 1, a grid of its first 32 channels, 8 per row, each channel min-max scaled through the
// viridis colour map (matplotlib's imshow default), saved as stage{i}_{Module}_features.png with the
// whole map x[0] beside it as stage{i}_{Module}_features.npy. The head (Pose) is not drawn. Files go
// to <save_dir>/<image stem>/ (incremented: bus, bus2, ... as increment_path does).
//
// The walkthrough (docs/walkthrough) draws its feature-map pictures with the same functions.
//
// Imports: engine, models (PoseModel type), nn (Sequential), ../data/image, ./save.

import { writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { noGrad, tidy, Tensor } from '../../engine/index.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import type { Sequential } from '../../nn/module.js';
import { encodePNG, type RgbImage } from '../data/image.js';
import { incrementPath } from './save.js';

/** One layer's output, kept on its device until read. `type` is the module's class name (Conv, C2f, Upsample...). */
export interface LayerOutput {
  i: number;
  type: string;
  out: Tensor;
}

/** True for models built by models/yolov8_pose.ts (exported .onnx models have no layers to show). */
export function hasLayers(model: unknown): model is PoseModel {
  const m = model as PoseModel;
  return Array.isArray(m?.layerInfo) && typeof m.child === 'function' && !!m.child('model');
}

/** Layer i's input: its `from` picked among the earlier outputs (-1: the previous layer's, or x for layer 0). */
export function layerInput(model: PoseModel, i: number, x: Tensor, outs: readonly Tensor[]): Tensor | Tensor[] {
  const pick = (j: number) => (j === -1 ? (i === 0 ? x : outs[i - 1]) : outs[j]);
  const { from } = model.layerInfo[i];
  return Array.isArray(from) ? from.map(pick) : pick(from);
}

/**
 * Runs the backbone and neck layer by layer, as PoseModel.forward does, and returns every layer's
 * output up to layer `last` (default: all before the Pose head, which is not run: its input maps are
 * layers 15, 18, 21). The caller disposes them.
 */
export function layerOutputs(model: PoseModel, x: Tensor, last = Infinity): LayerOutput[] {
  const layers = (model.child('model') as Sequential).children();
  const outs: LayerOutput[] = [];
  noGrad(() => {
    layers.forEach((m, i) => {
      const { module } = model.layerInfo[i];
      if (module === 'Pose' || i > last) return;
      const input = layerInput(
        model,
        i,
        x,
        outs.map((o) => o.out),
      );
      outs.push({ i, type: module.split('.').pop()!, out: tidy(() => m.forward(input)) as Tensor });
    });
  });
  return outs;
}

// matplotlib's viridis at 0, 1/8, ..., 1 (its published colour stops), interpolated linearly.
const VIRIDIS = [
  [68, 1, 84],
  [71, 45, 123],
  [59, 82, 139],
  [44, 114, 142],
  [33, 145, 140],
  [40, 174, 128],
  [94, 201, 98],
  [173, 220, 48],
  [253, 231, 37],
];

/** The viridis colour of t in [0, 1]. */
export function viridis(t: number): [number, number, number] {
  const u = Math.min(Math.max(Number.isFinite(t) ? t : 0, 0), 1) * (VIRIDIS.length - 1);
  const k = Math.min(Math.floor(u), VIRIDIS.length - 2),
    f = u - k;
  const a = VIRIDIS[k],
    b = VIRIDIS[k + 1];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as [number, number, number];
}

/** One (h, w) map as an RGB image, min-max scaled (imshow's default normalisation), `scale` pixels per cell (nearest sampling, may be < 1). */
export function mapToImage(data: ArrayLike<number>, h: number, w: number, scale = 1, offset = 0): RgbImage {
  let lo = Infinity,
    hi = -Infinity;
  for (let k = 0; k < h * w; k++) {
    const v = data[offset + k];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi > lo ? hi - lo : 1;
  const W = Math.max(1, Math.round(w * scale)),
    H = Math.max(1, Math.round(h * scale));
  const img: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const c = viridis((data[offset + Math.floor((y * h) / H) * w + Math.floor((x * w) / W)] - lo) / span);
      img.data.set(c, (y * W + x) * 3);
    }
  return img;
}

/**
 * The first `n` channels of a (C, h, w) map as a grid, `cols` per row on white, each channel
 * scaled (nearest) so its longer side is about `cell` pixels: upscaled by a whole factor, or
 * downscaled when `shrink` is set (the walkthrough's pictures; visualize=True keeps every cell).
 */
export function featureGrid(
  data: ArrayLike<number>,
  shape: readonly number[],
  opts: { n?: number; cols?: number; cell?: number; gap?: number; shrink?: boolean } = {},
): RgbImage {
  const [C, h, w] = shape;
  const n = Math.min(opts.n ?? 32, C),
    cols = Math.min(opts.cols ?? 8, n),
    gap = opts.gap ?? 4;
  const want = (opts.cell ?? 160) / Math.max(h, w);
  const scale = want < 1 && opts.shrink ? want : Math.max(1, Math.round(want));
  const [th, tw] = [Math.max(1, Math.round(h * scale)), Math.max(1, Math.round(w * scale))];
  const rows = Math.ceil(n / cols);
  const W = cols * tw + (cols + 1) * gap,
    H = rows * th + (rows + 1) * gap;
  const img: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3).fill(255) };
  for (let k = 0; k < n; k++) {
    const tile = mapToImage(data, h, w, scale, k * h * w);
    const x0 = gap + (k % cols) * (tw + gap),
      y0 = gap + Math.floor(k / cols) * (th + gap);
    for (let y = 0; y < tile.height; y++)
      img.data.set(tile.data.subarray(y * tile.width * 3, (y + 1) * tile.width * 3), ((y0 + y) * W + x0) * 3);
  }
  return img;
}

/** A float32 array as a NumPy .npy file (format 1.0, little-endian, C order), as np.save writes it. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY v1.0
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let k = 0; k < header.length; k++) out[10 + k] = header.charCodeAt(k);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** The folder visualize=True writes one image's maps to: <saveDir>/<stem>, incremented, created. */
export function visualizeDir(saveDir: string, imagePath: string): string {
  return incrementPath(join(saveDir, basename(imagePath, extname(imagePath))), false, { mkdir: true });
}

/**
 * feature_visualization for every layer of `model` on the preprocessed image x (1, 3, h, w):
 * writes stage{i}_{type}_features.png and .npy into `dir`, returns the PNG paths.
 */
export async function saveFeatureMaps(
  model: PoseModel,
  x: Tensor,
  dir: string,
  opts: { n?: number; log?: (s: string) => void } = {},
): Promise<string[]> {
  const log = opts.log ?? console.log;
  const outs = layerOutputs(model, x);
  const files: string[] = [];
  try {
    for (const { i, type, out } of outs) {
      const [, C, h, w] = out.shape;
      if (out.ndim !== 4 || !(h > 1 && w > 1)) continue;
      const f = join(dir, `stage${i}_${type}_features.png`);
      const all = (await out.data()) as Float32Array;
      const first = all.subarray(0, C * h * w); // x[0]
      const n = Math.min(opts.n ?? 32, C);
      log(`Saving ${f}... (${n}/${C})`);
      writeFileSync(f, encodePNG(featureGrid(first, [C, h, w], { n })));
      writeFileSync(f.replace(/\.png$/, '.npy'), encodeNpy(first, [C, h, w]));
      files.push(f);
    }
  } finally {
    for (const { out } of outs) out.dispose();
  }
  return files;
}

let warnedNoLayers = false;

/** The predictor's hook: one image's maps into <saveDir>/<stem>/, or a warning (once) for a model without layers. */
export async function visualizeImage(
  model: unknown,
  x: Tensor,
  saveDir: string,
  imagePath: string,
  log: (s: string) => void,
): Promise<void> {
  if (!hasLayers(model)) {
    if (!warnedNoLayers)
      console.warn(
        'WARNING ⚠️ visualize=True needs a model built by this toolkit (.pt, .yaml, .safetensors); an exported model has no layers to show',
      );
    warnedNoLayers = true;
    return;
  }
  await saveFeatureMaps(model, x, visualizeDir(saveDir, imagePath), { log });
}
