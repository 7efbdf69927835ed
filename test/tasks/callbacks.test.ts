// Callbacks: every Ultralytics event of train, val, predict and export fires in Ultralytics' order
// (its engine/trainer.py, validator.py, predictor.py, exporter.py), through the package entry.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { YOLO, CALLBACK_EVENTS, Callbacks, type CallbackEvent } from '../../index.js';
import { tinyArgs, tinyDataset } from '../train/helpers.js';

const IMAGE = fileURLToPath(new URL('../fixtures/val/coco8-pose/images/val/000000000113.jpg', import.meta.url));

t.test('Callbacks: add, clear, reset, unknown events named', async (t) => {
  const c = new Callbacks();
  const seen: string[] = [];
  c.add('on_val_end', () => {
    seen.push('a');
  }).add('on_val_end', async () => {
    seen.push('b');
  });
  await c.run('on_val_end', null);
  t.same(seen, ['a', 'b'], 'in the order added, each awaited');
  c.clear('on_val_end');
  await c.run('on_val_end', null);
  t.same(seen, ['a', 'b']);
  t.throws(
    () => c.add('on_epoch_end' as CallbackEvent, () => {}),
    /'on_epoch_end' is not a callback event; valid events are on_pretrain_routine_start/,
  );
  t.throws(() => c.add('on_val_end', 3 as never), /expected a function/);
});

t.test('a log of every event of train, val, predict and export, in order', async (t) => {
  const data = tinyDataset();
  const project = mkdtempSync(join(tmpdir(), 'callbacks-'));
  const model = new YOLO('yolov8n-pose.yaml');
  const log: string[] = [];
  for (const ev of Object.values(CALLBACK_EVENTS).flat())
    model.addCallback(ev, (ctx) => {
      t.ok(ctx, `${ev} gets its trainer / validator / predictor / exporter`);
      log.push(ev);
    });
  let epochSeen = -1;
  model.addCallback('on_train_epoch_end', (trainer) => {
    epochSeen = trainer.epoch;
  });

  await model.train(tinyArgs(data, project, 'cb', { epochs: 1 }));
  const val = ['on_val_start', 'on_val_batch_start', 'on_val_batch_end', 'on_val_end'];
  t.same(
    log,
    [
      'on_pretrain_routine_start',
      'on_pretrain_routine_end',
      'on_train_start',
      'on_train_epoch_start',
      'on_train_batch_start',
      'on_train_batch_end',
      'on_train_epoch_end',
      ...val,
      'on_model_save',
      'on_fit_epoch_end',
      ...val,
      'on_fit_epoch_end', // final_eval of best.pt
      'on_train_end',
      'teardown',
    ],
    'train (1 epoch of 1 batch), as BaseTrainer fires them',
  );
  t.equal(epochSeen, 0);

  log.length = 0;
  await model.val({ data, imgsz: 32, batch: 8, device: 'cpu', plots: false, verbose: false });
  t.same(log, val, 'val');

  log.length = 0;
  let nResults = 0;
  model.addCallback('on_predict_batch_end', (p) => {
    nResults += p.results.length;
  });
  await model.predict([IMAGE, IMAGE], { imgsz: 32, device: 'cpu', verbose: false });
  const batch = ['on_predict_batch_start', 'on_predict_postprocess_end', 'on_predict_batch_end'];
  t.same(log, ['on_predict_start', ...batch, ...batch, 'on_predict_end'], 'predict (two images)');
  t.equal(nResults, 2, 'predictor.results holds the batch');

  log.length = 0;
  let exported: string | null = null;
  model.addCallback('on_export_end', (e) => {
    exported = e.file;
  });
  const file = await model.export({ format: 'onnx', imgsz: 32, verbose: false });
  t.same(log, ['on_export_start', 'on_export_end'], 'export');
  t.equal(exported, file);

  t.notOk(
    log.includes('optimizer_step') || log.includes('on_params_update'),
    'events Ultralytics defines but never fires stay silent',
  );
  model.resetCallbacks();
  log.length = 0;
  await model.predict([IMAGE], { imgsz: 32, device: 'cpu', verbose: false });
  t.same(log, [], 'reset removes them all');
});
