// optimizer=NAdam (one of the five beside SGD/AdamW, whose math test/nn/optim_more.test.ts checks
// against torch, with their state-dict round trips) trains and logs Ultralytics' optimizer line.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoseTrainer } from '../../tasks/train/trainer.js';
import { Callbacks } from '../../tasks/callbacks.js';
import { tinyArgs, tinyDataset } from './helpers.js';

t.test('optimizer=NAdam: the optimizer line, and the weights move', async (t) => {
  const data = tinyDataset();
  const project = mkdtempSync(join(tmpdir(), 'train-optim-'));
  const logs: string[] = [];
  const snap = async (tr: PoseTrainer) =>
    Promise.all(tr.model.parameters().map(async (p) => Float32Array.from(await p.data())));
  let before: Float32Array[] = [],
    after: Float32Array[] = [];
  const events = new Callbacks()
    .add('on_train_start', async (tr: PoseTrainer) => {
      before = await snap(tr);
    })
    .add('on_train_epoch_end', async (tr: PoseTrainer) => {
      after = await snap(tr);
    });
  await new PoseTrainer(
    tinyArgs(data, project, 'nadam', { optimizer: 'NAdam', nbs: 4, lr0: 0.001, epochs: 1, save: false }),
    { log: (s) => logs.push(s), progressWrite: () => {}, events },
  ).train();
  t.ok(
    logs.some((l) => l.startsWith('optimizer: NAdam(lr=0.001, momentum=0.937) with parameter groups')),
    'the optimizer line',
  );
  t.ok(
    after.some((w, i) => w.some((v, j) => v !== before[i][j])),
    'the weights moved',
  );
  t.ok(after.every((w) => w.every(Number.isFinite)));
});
