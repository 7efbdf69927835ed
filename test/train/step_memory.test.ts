// Training must not leak: the real PoseTrainer (forward, loss, backward, clip_grad_norm, optimizer
// step, zero_grad, EMA update, one per batch) on wasm and webgpu, with the live bytes read after
// every batch. Once the optimizer's state exists (after the first step) they must be the same after
// every later step. A leak of any per-parameter temporary (clipGradNorm's g² once leaked 13.2 MB per
// step at this model size, the weights' size) shows up as a step of ~13 MB; left to the finalizer
// it is not given back in a hot loop on wasm at all.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { PoseTrainer } from '../../tasks/train/trainer.js';
import { quiet, tinyArgs, tinyDataset } from './helpers.js';

t.teardown(E.releaseDevices);

const liveBytes = (d: E.Device) =>
  d.type === 'wasm' ? d.wasm.liveBytes : d instanceof E.WebGPUDevice ? d.gpu.liveBytes : NaN;

for (const type of ['wasm', 'webgpu'] as const) {
  t.test(`live bytes flat from step to step (${type})`, async (t) => {
    if (type === 'webgpu' && !(await E.openWebGPU())) return void t.skip('no WebGPU adapter');
    const live: number[] = [];
    // 4 images, batch 1, nbs 1: an optimizer step (clip, SGD step, EMA update) after every batch
    const args = tinyArgs(tinyDataset(), mkdtempSync(join(tmpdir(), 'train-mem-')), 'mem', {
      device: type,
      imgsz: 64,
      batch: 1,
      nbs: 1,
      epochs: 1,
      optimizer: 'SGD',
      save: false,
    });
    await new PoseTrainer(args, {
      ...quiet,
      callbacks: {
        onTrainBatchEnd: async (tr) => {
          if (tr.device instanceof E.WebGPUDevice) await tr.device.gpu.sync(); // released buffers return to the pool
          live.push(liveBytes(tr.device));
        },
      },
    }).train();
    t.equal(live.length, 4, 'four optimizer steps');
    const mib = live.map((b) => (b / 2 ** 20).toFixed(3));
    // after step 1 the momentum buffers exist; steps 2-4 must hold exactly what step 1 held
    for (let k = 1; k < live.length; k++)
      t.ok(Math.abs(live[k] - live[0]) <= 4096, `after step ${k + 1}: ${mib[k]} MiB live, after step 1: ${mib[0]} MiB`);
  });
}
