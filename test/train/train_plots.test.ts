// plots=True during training: train_batch0..2.jpg mosaics of the augmented batches with their
// labels, and the final validation's val_batch*_labels/_pred.jpg, named as Ultralytics names them;
// that validation's fused-model summary line.
import t from 'tap';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoseTrainer } from '../../tasks/train/trainer.js';
import { readImage } from '../../tasks/data/image.js';
import { classColor } from '../../tasks/plot/annotator.js';
import { tinyArgs, tinyDataset } from './helpers.js';

t.test('train_batch{0,1}.jpg, val_batch0_*.jpg, and the fused summary after training', async (t) => {
  const data = tinyDataset();
  const project = mkdtempSync(join(tmpdir(), 'train-plots-'));
  const logs: string[] = [];
  const r = await new PoseTrainer(tinyArgs(data, project, 'plots', { epochs: 1, batch: 2, plots: true }), {
    log: (s) => logs.push(s),
    progressWrite: () => {},
  }).train();
  // best.pt's validation prints the fused summary with 0 gradients, as Ultralytics' final_eval
  const at = logs.findIndex((l) => l.includes('Validating'));
  t.match(
    logs.slice(at).join('\n'),
    /yolo-ts \S+ 🚀 Node-[\d.]+ .*\nYOLOv8n-pose summary \(fused\): \d+ layers, [\d,]+ parameters, 0 gradients, [\d.]+ GFLOPs/,
  );
  for (const f of [
    'labels.jpg',
    'labels_correlogram.jpg',
    'train_batch0.jpg',
    'train_batch1.jpg',
    'val_batch0_labels.jpg',
    'val_batch0_pred.jpg',
    'results.png',
  ])
    t.ok(existsSync(join(r.saveDir, f)), f);
  t.notOk(existsSync(join(r.saveDir, 'train_batch2.jpg')), 'two batches, two mosaics');
  const img = readImage(join(r.saveDir, 'train_batch0.jpg'));
  t.same([img.width, img.height], [64, 64], 'two 32 px tiles in a 2 x 2 grid');
  // the person class colour (box outline) is drawn somewhere (JPEG: within a tolerance)
  const c = classColor(0);
  let hits = 0;
  for (let i = 0; i < img.width * img.height; i++)
    if (c.every((v, k) => Math.abs(img.data[i * 3 + k] - v) < 40)) hits++;
  t.ok(hits > 10, `labels drawn (${hits} pixels near the class colour)`);
});
