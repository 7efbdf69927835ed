// optimizer=NAdam (one of the five beside SGD/AdamW, whose math test/nn/optim_more.test.ts checks
// against torch) trains, logs Ultralytics' optimizer line, and carries its state (step counts and
// NAdam's scalar mu_product) across a resume:
// 2 epochs straight equal 1 epoch + a crash + resume=True, value for value.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoseTrainer } from '../../tasks/train/trainer.js';
import { tinyArgs, tinyDataset } from './helpers.js';

const data = tinyDataset();
const project = mkdtempSync(join(tmpdir(), 'train-optim-'));

async function weights(tr: PoseTrainer): Promise<Float32Array[]> {
  return Promise.all(tr.model.parameters().map(async (p) => Float32Array.from(await p.data())));
}

for (const optimizer of ['NAdam']) {
  t.test(`optimizer=${optimizer}: trains, and resumes to the uninterrupted run's weights`, async (t) => {
    const logs: string[] = [];
    const args = tinyArgs(data, project, `${optimizer}-straight`, { optimizer, nbs: 4, lr0: 0.001 }); // accumulate 1: a step every epoch
    let before: Float32Array[] = [], straight: Float32Array[] = [];
    const tr = new PoseTrainer(args, { log: (s) => logs.push(s), progressWrite: () => {}, callbacks: {
      onTrainBatchEnd: async (x, ni) => { if (ni === 0 && !before.length) before = await weights(x); },
      onFitEpochEnd: async (x) => { if (x.epoch === 1) straight = await weights(x); },
    } });
    await tr.train();
    const shown = optimizer === 'RMSProp' ? 'RMSprop' : optimizer;
    t.ok(logs.some((l) => l.startsWith(`optimizer: ${shown}(lr=0.001, momentum=0.937) with parameter groups`)), 'the optimizer line');
    t.ok(straight.some((w, i) => w.some((v, j) => v !== before[i][j])), 'the weights moved');
    t.ok(straight.every((w) => w.every(Number.isFinite)));

    const crashed = tinyArgs(data, project, `${optimizer}-crashed`, { optimizer, nbs: 4, lr0: 0.001 });
    await t.rejects(new PoseTrainer(crashed, { log: () => {}, progressWrite: () => {}, callbacks: {
      onFitEpochEnd: (x) => { if (x.epoch === 0) throw new Error('simulated crash'); },
    } }).train(), /simulated crash/);
    let resumed: Float32Array[] = [];
    await new PoseTrainer({ resume: join(project, `${optimizer}-crashed`, 'weights', 'last.pt') }, { log: () => {}, progressWrite: () => {}, callbacks: {
      onFitEpochEnd: async (x) => { if (x.epoch === 1) resumed = await weights(x); },
    } }).train();
    const diff = resumed.filter((w, i) => w.some((v, j) => v !== straight[i][j])).length;
    t.equal(diff, 0, 'every parameter identical after resume');
  });
}
