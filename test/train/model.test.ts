// Where training starts: pretrained= weights from an Ultralytics .pt (every matching name and shape
// transfers), a .pt as the model, the EMA's copy; and the two front doors, `yolo pose train` (its
// argument errors) and YOLO.train().
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from '../../engine/index.js';
import { readPoseCheckpoint } from '../../models/checkpoint.js';
import { emaCopy, setupModel } from '../../tasks/train/model.js';
import { YOLO } from '../../tasks/yolo.js';
import { tinyArgs, tinyDataset } from './helpers.js';

const ULTRALYTICS_PT = fileURLToPath(new URL('../fixtures/models/yolov8n-pose-seed0.pt', import.meta.url));
const CLI = fileURLToPath(new URL('../../tasks/cli.ts', import.meta.url));
const base = { kptShape: [17, 3] as [number, number], names: { 0: 'person' }, device: E.cpu };

t.test('pretrained= an Ultralytics checkpoint: all 397 entries transfer', async (t) => {
  const { model, transfer } = await setupModel('yolov8n-pose.yaml', { ...base, nc: 1, pretrained: ULTRALYTICS_PT });
  t.equal(transfer, 'Transferred 397/397 items from pretrained weights');
  const ck = readPoseCheckpoint(ULTRALYTICS_PT).stateDict;
  const w = model.stateDict().get('model.22.cv4.2.2.weight')!;
  t.same(
    Array.from(await w.data()).slice(0, 5),
    Array.from(ck.get('model.22.cv4.2.2.weight')!.data as Float32Array).slice(0, 5),
    'weights copied',
  );
  t.equal(model.names[0], 'person');
});

t.test('a .pt for a dataset with more classes: the class branch is rebuilt, the rest transfers', async (t) => {
  const { model, transfer } = await setupModel(ULTRALYTICS_PT, {
    ...base,
    nc: 3,
    names: { 0: 'a', 1: 'b', 2: 'c' },
    pretrained: true,
  });
  t.equal(model.nc, 3);
  t.equal(
    transfer,
    'Transferred 391/397 items from pretrained weights',
    'the 3 cv3 output convs (weight and bias) do not match',
  );
  const ema = emaCopy(model, E.cpu);
  t.notOk(ema.training, 'the EMA copy is in eval mode');
  t.ok(
    ema.parameters().every((p) => !p.requiresGrad),
    'and needs no gradients',
  );
  t.same(
    Array.from(await ema.stateDict().get('model.0.conv.weight')!.data()),
    Array.from(await model.stateDict().get('model.0.conv.weight')!.data()),
  );
});

t.test('yolo pose train: argument errors before any work', async (t) => {
  const run = (...a: string[]) =>
    spawnSync(process.execPath, ['--import=tsx', CLI, 'pose', 'train', ...a], { encoding: 'utf8' });
  const r1 = run('epoch=3');
  t.equal(r1.status, 1);
  t.match(r1.stderr, /'epoch' is not a valid YOLO argument. Similar arguments are i.e. epochs=100/);
  const r2 = run('model=yolov8n-pose.yaml', 'optimizer=Lion');
  t.match(r2.stderr, /optimizer=Lion not found/);
  const r3 = run('resume', 'project=/nonexistent-dir');
  t.match(r3.stderr, /Resume checkpoint not found/, 'a bare `resume` is resume=True');
});

t.test('YOLO(yaml).train(): one epoch, then the object holds best.pt', async (t) => {
  const project = mkdtempSync(join(tmpdir(), 'train-api-'));
  const model = new YOLO('yolov8n-pose.yaml');
  const { model: _m, ...args } = tinyArgs(tinyDataset(), project, 'api', { epochs: 1, verbose: false });
  const log = console.log,
    err = process.stderr.write;
  console.log = () => {};
  process.stderr.write = () => true;
  try {
    const r = await model.train(args);
    t.equal(r.epochs, 1);
    t.equal(model.modelSpec, r.best);
    t.match(r.metrics, { 'metrics/mAP50(B)': Number, fitness: Number });
  } finally {
    console.log = log;
    process.stderr.write = err;
  }
  const loaded = await model.load('cpu');
  t.equal(loaded.names[0], 'person', 'best.pt loads back');
  const again = await setupModel('yolov8n-pose.yaml', { ...base, nc: 1, pretrained: model.modelSpec });
  t.equal(
    again.transfer,
    'Transferred 397/397 items from pretrained weights',
    'pretrained= one of our own checkpoints',
  );
});
