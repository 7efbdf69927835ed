// export split=: Ultralytics 8.2.82's get_int8_calibration_dataloader reads data[self.args.split or "val"];
// calibrationImages takes the same split (the int8 TFLite / Edge TPU exports pass export's split= to it).
import t from 'tap';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { calibrationImages } from '../../tasks/export/tflite_int8.js';

t.test('calibration images come from the split asked for (val by default)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'calib-split-'));
  cpSync(fileURLToPath(new URL('../fixtures/val/coco8-pose', import.meta.url)), dir, { recursive: true });
  // a train split of 1 image, moved out of the 4-image val split
  for (const [sub, ext] of [
    ['images', '.jpg'],
    ['labels', '.txt'],
  ]) {
    mkdirSync(join(dir, sub, 'train'));
    const f = readdirSync(join(dir, sub, 'val'))
      .filter((n) => n.endsWith(ext))
      .sort()[0];
    renameSync(join(dir, sub, 'val', f), join(dir, sub, 'train', f));
  }
  const yaml = join(dir, 'd.yaml');
  writeFileSync(yaml, 'train: images/train\nval: images/val\nkpt_shape: [17, 3]\nnames:\n  0: person\n');
  const quiet = [() => {}, () => {}, 'TFLite:'] as const;
  t.equal((await calibrationImages(yaml, 64, 1, ...quiet)).length, 3, 'val: 3 images');
  t.equal((await calibrationImages(yaml, 64, 1, ...quiet, 'train')).length, 1, 'train: 1 image');
  await t.rejects(calibrationImages(yaml, 64, 1, ...quiet, 'test'), /no 'test:' split/);
});
