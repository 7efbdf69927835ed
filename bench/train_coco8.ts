// "It learns like Ultralytics" (issue 5, item 7): yolov8n-pose trained from scratch on all 8
// coco8-pose images (train = val), imgsz 160, batch 4, 150 epochs, seed 0, optimizer auto, mosaic 0,
// fliplr 0, hsv 0, translate 0, scale 0, the rest default: the settings of Ultralytics' reference
// results.csv (test/fixtures/train/train-curve-coco8-n160.csv). Prints the last epoch against the
// targets (train box <= 1.5, cls <= 1.0, pose <= 9.0, box mAP50 >= 0.15), the wall time and the
// device memory per step, and draws both runs' curves into one PNG.
//
// usage: npx tsx bench/train_coco8.ts [--epochs 150] [--device webgpu] [--out runs/bench/train_coco8]
//        [--resume]   (continue an interrupted run from its weights/last.pt) [--workers 8] (0: batches built on the main thread)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from '../engine/index.js';
import { PoseTrainer } from '../tasks/train/trainer.js';
import { plotResults } from '../tasks/train/plots.js';
import { readResults } from '../tasks/train/results.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const epochs = Number(opt('epochs', '150'));
const device = opt('device', 'webgpu');
const out = resolve(opt('out', 'runs/bench/train_coco8'));
const reference = join(root, 'test/fixtures/train/train-curve-coco8-n160.csv');

// A yaml whose train and val are both the 8 images (absolute paths: no 'path:' resolution involved).
mkdirSync(out, { recursive: true });
const data = join(out, 'coco8-pose-all.yaml');
const dirs = ['train', 'val'].map((s) => join(root, 'data/coco8-pose/images', s));
writeFileSync(
  data,
  [
    `train: [${dirs.join(', ')}]`,
    `val: [${dirs.join(', ')}]`,
    'kpt_shape: [17, 3]',
    'flip_idx: [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]',
    'names:',
    '  0: person',
    '',
  ].join('\n'),
);

const memory: { ni: number; bytes: number }[] = [];
const t0 = performance.now();
const overrides = args.includes('--resume')
  ? { resume: join(out, 'run/weights/last.pt') }
  : {
      data,
      model: 'yolov8n-pose.yaml',
      epochs,
      imgsz: 160,
      batch: 4,
      seed: 0,
      optimizer: 'auto',
      mosaic: 0,
      fliplr: 0,
      hsv_h: 0,
      hsv_s: 0,
      hsv_v: 0,
      translate: 0,
      scale: 0,
      device,
      workers: Number(opt('workers', '8')),
      project: out,
      name: 'run',
      exist_ok: true,
    };
const trainer = new PoseTrainer(overrides, {
  callbacks: {
    onTrainBatchEnd: (t, ni) => {
      const gpu = t.device instanceof E.WebGPUDevice ? t.device.gpu : null;
      if (gpu) memory.push({ ni, bytes: gpu.allocatedBytes });
    },
  },
});
const result = await trainer.train();
const wall = (performance.now() - t0) / 1000;

const ours = readResults(join(result.saveDir, 'results.csv'));
const ref = readResults(reference);
const last = (r: typeof ours, k: string) => r.data[k][r.data[k].length - 1];
const first = (r: typeof ours, k: string) => r.data[k][0];
const checks = [
  ['train/box_loss', '<=', 1.5],
  ['train/cls_loss', '<=', 1.0],
  ['train/pose_loss', '<=', 9.0],
  ['metrics/mAP50(B)', '>=', 0.15],
] as const;
console.log(
  `\n${'column'.padEnd(22)}${'first'.padStart(10)}${'last'.padStart(10)}${'Ultralytics first'.padStart(19)}${'last'.padStart(10)}   target`,
);
for (const k of [
  'train/box_loss',
  'train/pose_loss',
  'train/kobj_loss',
  'train/cls_loss',
  'train/dfl_loss',
  'metrics/mAP50(B)',
  'metrics/mAP50-95(B)',
  'metrics/mAP50(P)',
]) {
  const c = checks.find(([n]) => n === k);
  const v = last(ours, k);
  const verdict = c ? `${c[1]} ${c[2]}: ${(c[1] === '<=' ? v <= c[2] : v >= c[2]) ? 'met' : 'NOT met'}` : '';
  console.log(
    `${k.padEnd(22)}${first(ours, k).toFixed(4).padStart(10)}${v.toFixed(4).padStart(10)}${first(ref, k).toFixed(4).padStart(19)}${last(ref, k).toFixed(4).padStart(10)}   ${verdict}`,
  );
}
const png = join(out, 'curves_vs_ultralytics.png');
plotResults(
  [
    { file: join(result.saveDir, 'results.csv'), label: 'yolo-ts' },
    { file: reference, label: 'ultralytics' },
  ],
  png,
);
const after = memory.filter((m) => m.ni >= 2); // optimizer state exists after the first optimizer steps
const mem = after.length
  ? { min: Math.min(...after.map((m) => m.bytes)), max: Math.max(...after.map((m) => m.bytes)) }
  : null;
console.log(
  `\nwall time ${(wall / 60).toFixed(1)} min for ${result.epochs} epochs on ${trainer.device.type} (${(wall / result.epochs).toFixed(1)} s/epoch incl. validation)`,
);
if (mem)
  console.log(
    `device memory after each step (from step 3 on): ${(mem.min / 2 ** 20).toFixed(1)}–${(mem.max / 2 ** 20).toFixed(1)} MiB over ${after.length} steps`,
  );
console.log(`curves: ${png}`);
writeFileSync(
  join(out, 'summary.json'),
  JSON.stringify(
    {
      wallSeconds: wall,
      epochs: result.epochs,
      device: trainer.device.type,
      memory: mem,
      final: Object.fromEntries(Object.keys(ours.data).map((k) => [k, last(ours, k)])),
    },
    null,
    2,
  ),
);
E.releaseDevices();
