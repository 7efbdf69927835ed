// YOLO(...).val(): a checkpoint written by our own saver carries train_args, and val() with no
// data/imgsz uses them (Ultralytics' Model.val). Also the CLI argument checks.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu, releaseDevices } from '../../engine/index.js';
import { buildPoseModel } from '../../models/yolov8_pose.js';
import { savePoseCheckpoint } from '../../models/checkpoint.js';
import { YOLO } from '../../tasks/yolo.js';
import { valArgs } from '../../tasks/val/api.js';

const YAML = join(import.meta.dirname, '../fixtures/val/coco8-pose/coco8-pose.yaml');

t.test('val() with no arguments: data and imgsz from the checkpoint', async (t) => {
  t.teardown(releaseDevices);
  const dir = mkdtempSync(join(tmpdir(), 'valapi-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = buildPoseModel('yolov8n-pose.yaml', { device: cpu });
  model.names = { 0: 'person' };
  const ckpt = join(dir, 'last.pt');
  await savePoseCheckpoint(model, ckpt, { train_args: { data: YAML, imgsz: 64, epochs: 1 } });
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(String(s));
  try {
    const r = await new YOLO(ckpt).val({ device: 'cpu', plots: false, project: dir });
    t.equal(r.seen, 4, 'the four coco8-pose val images');
    t.equal(r.nInstances, 14);
    t.ok(r.metrics.box.map >= 0 && r.metrics.box.map <= 1, `random weights: box map ${r.metrics.box.map}`);
    t.equal(r.box.map, r.metrics.box.map, 'metrics.box.map as in Ultralytics');
    t.equal(r.pose.map50, r.metrics.pose.map50, 'metrics.pose.map50');
    t.equal(r.fitness, r.metrics.fitness, 'metrics.fitness');
  } finally {
    console.log = log;
  }
  t.match(lines.join('\n'), /all\s+4\s+14/);

  const bad = new YOLO(ckpt);
  await t.rejects(bad.val({ device: 'cpu', data: join(dir, 'missing.yaml') }), /dataset '.*missing\.yaml' not found/);
});

t.test('CLI arguments', async (t) => {
  const a = valArgs({
    model: 'm.pt',
    data: 'd.yaml',
    imgsz: 320,
    batch: 8,
    conf: 0.01,
    save_json: true,
    device: 'cpu',
    project: 'p',
    name: 'n',
  });
  t.same(a, {
    model: 'm.pt',
    data: 'd.yaml',
    imgsz: 320,
    batch: 8,
    conf: 0.01,
    save_json: true,
    device: 'cpu',
    project: 'p',
    name: 'n',
  });
  t.throws(() => valArgs({ model: 'm.pt', foo: 1 }), /unknown argument 'foo'; valid keys are/);
  t.throws(() => valArgs({ model: 'm.pt', imgsz: 'big' }), /'imgsz=big' must be a number/);
  t.throws(() => valArgs({ model: 'm.pt', save_json: 'yes' }), /'save_json=yes' must be True or False/);
  t.throws(() => valArgs({ model: 'm.pt', split: 'dev' }), /split=dev must be val, test or train/);
});
