// train save_json=True (Ultralytics 8.2.82): the vals inside training write nothing (BaseValidator returns
// before its save_json branch when training); the final val of best.pt (final_eval, run as a standalone
// validator with the trainer's args) writes predictions.json into the run folder, the same records a
// standalone `val save_json=True` of best.pt writes.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoseTrainer } from '../../tasks/train/trainer.js';
import { YOLO } from '../../tasks/yolo.js';
import { tinyArgs, tinyDataset } from './helpers.js';

t.test('predictions.json from the final val of best.pt, none from the epoch vals', async (t) => {
  const data = tinyDataset();
  const project = mkdtempSync(join(tmpdir(), 'train-json-'));
  const logs: string[] = [];
  const r = await new PoseTrainer(tinyArgs(data, project, 'j', { save_json: true, epochs: 1, conf: 0.001 }), {
    log: (s) => logs.push(s),
    progressWrite: () => {},
  }).train();
  const file = join(r.saveDir, 'predictions.json');
  t.ok(existsSync(file));
  t.equal(logs.filter((l) => /Saving .*predictions\.json/.test(l)).length, 1, 'written once, by the final val');
  const got = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>[];
  t.ok(got.length > 0);
  t.match(got[0], { image_id: 136, category_id: 1, bbox: Array, keypoints: Array, score: Number }); // numeric stems are ints, COCO's person is 1

  const dir = mkdtempSync(join(tmpdir(), 'val-json-'));
  const log = console.log;
  console.log = () => {};
  try {
    await new YOLO(r.best).val({
      data,
      imgsz: 32,
      batch: 8,
      device: 'cpu',
      save_json: true,
      plots: false,
      project: dir,
      name: 'v',
      conf: 0.001,
    });
  } finally {
    console.log = log;
  }
  t.same(
    got,
    JSON.parse(readFileSync(join(dir, 'v', 'predictions.json'), 'utf8')),
    'the same records as val save_json=True of best.pt',
  );
});
