// format=tflite int8=True and format=edgetpu, as Ultralytics 8.2.82's export_saved_model + onnx2tf:
// calibration images from `data=` (the val split, YOLODataset without augmentation: long side resized
// to imgsz, letterboxed square, /255), then the quantized files in `<stem>_saved_model/`
// (./tflite_quant.ts): `_int8.tflite` (what format=tflite int8=True returns), `_integer_quant.tflite`,
// `_full_integer_quant.tflite` (Edge TPU's input). Edge TPU: Google's edgetpu_compiler is an x86
// binary from Coral's apt repository that cannot run here; the command Ultralytics runs is printed.
//
// Imports: engine (device type), ../data (dataset), ./tflite, ./tflite_quant, ./tf_lower (types), ./metadata (types).

import { join } from 'node:path';
import { cpu } from '../../engine/index.js';
import { writeFileAtomic } from '../../engine/io/zip.js';
import { checkDataset } from '../data/dataset_download.js';
import { PoseDataset } from '../data/loader.js';
import { encodeTflite, lowerToTflite, tfliteWithMetadata, type TflModel } from './tflite.js';
import { calibrate, quantizeTflite, type QuantMode } from './tflite_quant.js';
import type { TfGraph } from './tf_lower.js';
import type { ExportMetadata } from './metadata.js';

/** The calibration batches at the model's batch size: NCHW float32 /255 (Ultralytics' get_int8_calibration_dataloader). */
export async function calibrationImages(
  data: string,
  imgsz: number,
  batch: number,
  log: (s: string) => void,
  warn: (s: string) => void,
  prefix: string,
  split: 'train' | 'val' | 'test' = 'val', // export's split= (Ultralytics: data[self.args.split or 'val'])
): Promise<Float32Array[]> {
  log(`${prefix} collecting INT8 calibration images from 'data=${data}'`);
  const cfg = await checkDataset(data, { log });
  const ds = PoseDataset.fromConfig(cfg, split, {
    imgsz,
    augment: false,
    rect: false,
    batch: batch * 2,
    labelCache: false,
    log: () => {},
    progress: { write: () => {} } as any,
  });
  if (ds.length < 300)
    warn(`${prefix} WARNING ⚠️ >300 images recommended for INT8 calibration, found ${ds.length} images.`);
  const per = 3 * imgsz * imgsz,
    images: Float32Array[] = [];
  for (const b of ds.batches())
    for (let i = 0; i < b.shape[0]; i++) images.push(b.images.slice(i * per, (i + 1) * per));
  const out: Float32Array[] = [];
  for (let k = 0; k < images.length; k += batch) {
    // the last batch filled from the first images (a fixed-batch model)
    const x = new Float32Array(batch * per);
    for (let j = 0; j < batch; j++) x.set(images[(k + j) % images.length], j * per);
    out.push(x);
  }
  return out;
}

export const INT8_FILES: Record<QuantMode, string> = {
  dynamic_range: 'int8',
  integer: 'integer_quant',
  full_integer: 'full_integer_quant',
};

/** Writes the float32, float16 and the three int8 files into `folder`; returns the int8 paths by mode. */
export async function writeTfliteInt8(
  folder: string,
  stem: string,
  graph: TfGraph,
  metadata: ExportMetadata,
  data: string,
  log: (s: string) => void,
  warn: (s: string) => void,
  description: string,
  split: 'train' | 'val' | 'test' = 'val',
): Promise<Record<QuantMode, string>> {
  const float: TflModel = lowerToTflite(graph, { description });
  const [B, H] = graph.input.shape;
  const batches = await calibrationImages(data, H, B, log, warn, 'TensorFlow SavedModel:', split);
  const ranges = calibrate(float, batches, cpu);
  const out = {} as Record<QuantMode, string>;
  for (const half of [false, true])
    // onnx2tf writes the float files too
    writeFileAtomic(join(folder, `${stem}_${half ? 'float16' : 'float32'}.tflite`), [
      tfliteWithMetadata(encodeTflite(half ? lowerToTflite(graph, { half, description }) : float), metadata),
    ]);
  for (const mode of ['dynamic_range', 'integer', 'full_integer'] as const) {
    const f = join(folder, `${stem}_${INT8_FILES[mode]}.tflite`);
    writeFileAtomic(f, [
      tfliteWithMetadata(encodeTflite(quantizeTflite(float, ranges, { mode, perChannel: PER_CHANNEL })), metadata),
    ]);
    out[mode] = f;
  }
  return out;
}

/** Ultralytics asks onnx2tf for quant_type="per-tensor" weights; per-channel is kept as an option for accuracy work. */
export const PER_CHANNEL = false;
