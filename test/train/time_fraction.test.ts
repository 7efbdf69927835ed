// fraction= trains on the first round(n * fraction) images; batch=-1 is AutoBatch; time= (hours) overrides epochs: the
// run stops when the time is up, whatever epochs says, and recomputes epochs from the epoch time.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoseTrainer } from '../../tasks/train/trainer.js';
import { readResults } from '../../tasks/train/results.js';
import { Callbacks } from '../../tasks/callbacks.js';
import { tinyArgs, tinyDataset } from './helpers.js';

const data = tinyDataset();
const project = mkdtempSync(join(tmpdir(), 'train-time-'));
const quiet = { log: () => {}, progressWrite: () => {} };

t.test('fraction=0.5 keeps 2 of the 4 training images (fraction=0.6: round(2.4) = 2; 0.9: 4)', async (t) => {
  for (const [fraction, n] of [
    [0.5, 2],
    [0.6, 2],
    [0.9, 4],
    [1, 4],
  ]) {
    let seen = -1;
    const events = new Callbacks().add('on_pretrain_routine_end', (tr: PoseTrainer) => {
      seen = tr.loader.length;
      throw new Error('enough');
    });
    await t.rejects(
      new PoseTrainer(tinyArgs(data, project, `f${fraction}`, { fraction }), { ...quiet, events }).train(),
      /enough/,
    );
    t.equal(seen, n, `fraction=${fraction}`);
  }
});

t.test('time=: stops when the time is up although epochs=100, and sets epochs from the epoch time', async (t) => {
  const tr = new PoseTrainer(tinyArgs(data, project, 'timed', { epochs: 100, time: 1e-9 }), quiet);
  const r = await tr.train();
  t.equal(r.epochs, 1, 'one epoch');
  t.equal(tr.epochs, 1, 'epochs recomputed: ceil(time / mean epoch time)');
  t.same(readResults(join(r.saveDir, 'results.csv')).data.epoch, [1], 'one results.csv row');
});

t.test("batch=-1: AutoBatch's messages and the default batch of 16 (there is no CUDA memory to measure)", async (t) => {
  const logs: string[] = [];
  let batch = 0;
  const events = new Callbacks().add('on_pretrain_routine_end', (tr: PoseTrainer) => {
    batch = tr.args.batch;
    throw new Error('enough');
  });
  await t.rejects(
    new PoseTrainer(tinyArgs(data, project, 'auto', { batch: -1 }), {
      log: (s) => logs.push(s),
      progressWrite: () => {},
      events,
    }).train(),
    /enough/,
  );
  t.equal(batch, 16);
  t.ok(logs.includes('AutoBatch: Computing optimal batch size for imgsz=32 at 60.0% CUDA memory utilization.'));
  t.ok(logs.includes('AutoBatch:  ⚠️ intended for CUDA devices, using default batch-size 16'));
});

t.test(
  'rect=True: rectangular batches (imgsz 64, batch 1: one image per batch), no shuffle, and it trains',
  async (t) => {
    const logs: string[] = [];
    let shapes: [number, number][] = [],
      shuffle = true,
      rect = false;
    const events = new Callbacks().add('on_pretrain_routine_end', (tr: PoseTrainer) => {
      shapes = tr.loader.batchShapes;
      shuffle = tr.loader.shuffle;
      rect = tr.loader.rect;
    });
    const r = await new PoseTrainer(
      tinyArgs(data, project, 'rect', { rect: true, batch: 1, epochs: 1, mosaic: 1, imgsz: 64 }),
      { log: (s) => logs.push(s), progressWrite: () => {}, events },
    ).train();
    t.ok(rect && !shuffle);
    t.ok(logs.includes("WARNING ⚠️ 'rect=True' is incompatible with DataLoader shuffle, setting shuffle=False"));
    t.equal(shapes.length, 4, 'one batch shape per batch');
    // at imgsz 128 the 4:3 images get 96 x 128 batches (imgsz 64 rounds them up to the 64 x 64 stride grid)
    const { PoseDataset } = await import('../../tasks/data/loader.js');
    const { loadDatasetYaml } = await import('../../tasks/data/dataset.js');
    const ds = PoseDataset.fromConfig(loadDatasetYaml(data), 'train', {
      imgsz: 128,
      batch: 1,
      augment: true,
      rect: true,
      log: () => {},
      progress: { write: () => {}, live: false },
    });
    t.ok(
      ds.batchShapes.some(([h, w]) => h !== w),
      `non-square batch shapes ${JSON.stringify(ds.batchShapes)}`,
    );
    let bi = 0;
    for await (const b of ds.batches(0))
      t.same(b.shape.slice(2), ds.batchShapes[bi++], `batch ${bi} has its rect shape`);
    t.equal(r.epochs, 1);
  },
);
