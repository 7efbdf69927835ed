// The fuzz cases of test/io/fuzz.test.ts, run one at a time in a worker thread (so a hang can be
// cut off and memory watched): seeded truncations and byte flips of one real file per format the
// toolkit reads, each handed to the reader a user's file would meet (the model yaml is parsed and
// checked, not built: building a yolov8 on the cpu per case would take the run past a minute).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { parentPort, workerData } from 'node:worker_threads';
import { cpu } from '../../engine/index.js';
import { InputError } from '../../engine/errors.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { loadTorchCheckpoint } from '../../engine/io/torch_pt.js';
import { loadDatasetYaml, parsePoseLabels } from '../../tasks/data/dataset.js';
import { readImage } from '../../tasks/data/image.js';
import { readModelYaml } from '../../models/yaml_model.js';
import { OnnxSession } from '../../tasks/export/onnx_runtime.js';

const FIX = join(import.meta.dirname, '../fixtures');

/** One format: the seed files and the reader that takes a path. */
export const FORMATS: Record<string, { seeds: string[]; ext: string; read: (file: string) => unknown }> = {
  jpeg: {
    seeds: ['images/jpeg_444.jpg', 'images/jpeg_progressive.jpg', 'images/jpeg_420_odd.jpg', 'images/exif_6.jpg'],
    ext: 'jpg',
    read: readImage,
  },
  png: {
    seeds: ['images/png_rgb8.png', 'images/png_rgba16_interlaced.png', 'images/png_palette4.png', 'images/exif_6.png'],
    ext: 'png',
    read: readImage,
  },
  pt: { seeds: ['io/torch_small.pt'], ext: 'pt', read: (f) => loadTorchCheckpoint(f) },
  safetensors: { seeds: ['torch/batch_norm2d.safetensors'], ext: 'safetensors', read: readSafetensors },
  onnx: { seeds: ['onnx/tiny_official.onnx'], ext: 'onnx', read: (f) => OnnxSession.load(f, cpu) },
  yaml: { seeds: ['val/coco8-pose/coco8-pose.yaml'], ext: 'yaml', read: (f) => loadDatasetYaml(f) },
  model_yaml: {
    seeds: ['models/yolov8-pose.yaml', 'models/yolov8-pose-p6.yaml'],
    ext: 'yaml',
    read: (f) => readModelYaml(f),
  },
  labels: {
    seeds: ['val/coco8-pose/labels/val/000000000113.txt'],
    ext: 'txt',
    read: (f) => parsePoseLabels(readFileSync(f, 'latin1'), f, [17, 3], 1, () => {}),
  },
};

/** mulberry32: a small seeded generator, so case N is the same bytes on every machine. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** PNG chunks with their CRCs recomputed, so a flip gets past the CRC check into the decoder. */
function fixPngCrcs(b: Uint8Array): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let pos = 8; pos + 12 <= b.length;) {
    const len = dv.getUint32(pos);
    if (pos + 12 + len > b.length) return;
    dv.setUint32(pos + 8 + len, crc32(b.subarray(pos + 4, pos + 8 + len)) >>> 0);
    pos += 12 + len;
  }
}

/** Case `i` of `format`: even cases truncate, odd ones flip 1-8 bytes (PNG: every other flip with CRCs fixed). */
export function makeCase(format: string, i: number): { bytes: Uint8Array; what: string } {
  const f = FORMATS[format];
  const seedFile = f.seeds[i % f.seeds.length];
  const src = readFileSync(join(FIX, seedFile));
  const r = rng(i * 7919 + format.length * 104729);
  if (i % 2 === 0) {
    const n = Math.floor(r() * src.length);
    return { bytes: src.subarray(0, n), what: `${seedFile} cut to ${n} of ${src.length} bytes` };
  }
  const bytes = Uint8Array.from(src);
  const k = 1 + Math.floor(r() * 8);
  const at: number[] = [];
  for (let j = 0; j < k; j++) {
    const p = Math.floor(r() * bytes.length);
    bytes[p] ^= 1 + Math.floor(r() * 255);
    at.push(p);
  }
  const fixCrc = format === 'png' && i % 4 === 3;
  if (fixCrc) fixPngCrcs(bytes);
  return { bytes, what: `${seedFile} with bytes ${at.join(', ')} flipped${fixCrc ? ' (CRCs fixed)' : ''}` };
}

export type Outcome = 'loaded' | 'InputError' | 'other';

// ---- the worker: runs the cases it is sent, replies with the outcome, time and memory ----------
if (parentPort && workerData?.dir) {
  const dir = workerData.dir as string;
  mkdirSync(join(dir, 'images/val'), { recursive: true }); // the yaml's splits
  parentPort.postMessage('ready'); // the case timer starts after the worker has loaded
  parentPort.on('message', ({ format, i }: { format: string; i: number }) => {
    const { bytes, what } = makeCase(format, i);
    const file = join(dir, `case-${format}-${i}.${FORMATS[format].ext}`);
    writeFileSync(file, bytes);
    const t0 = performance.now();
    let outcome: Outcome = 'loaded',
      message = '';
    try {
      FORMATS[format].read(file);
    } catch (e) {
      outcome = e instanceof InputError && e.message.includes(file) ? 'InputError' : 'other';
      message = `${(e as Error)?.name}: ${(e as Error)?.message}`;
    }
    const ms = performance.now() - t0;
    parentPort!.postMessage({ outcome, message, what, ms, rss: process.memoryUsage().rss });
  });
}
