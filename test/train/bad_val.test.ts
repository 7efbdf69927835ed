// Training never loses a checkpoint because validation failed: a corrupt val image or label is
// skipped with a warning, and a validation that cannot run at all still leaves last.pt on disk.
import t from 'tap';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readPoseCheckpoint } from '../../tasks/train/checkpoint.js';
import { PoseTrainer } from '../../tasks/train/trainer.js';
import { tinyArgs, tinyDataset } from './helpers.js';

const project = mkdtempSync(join(tmpdir(), 'train-badval-'));
t.teardown(() => rmSync(project, { recursive: true, force: true }));

t.test('a corrupt val label is skipped: the epoch validates and saves', async (t) => {
  const data = tinyDataset();
  const root = dirname(data);
  cpSync(join(root, 'images/val/000000000110.jpg'), join(root, 'images/val/zz.jpg'));
  writeFileSync(join(root, 'labels/val/zz.txt'), '0 0.5 0.5 nan 0.2\n');
  const lines: string[] = [];
  const r = await new PoseTrainer(tinyArgs(data, project, 'skip', { epochs: 1, val: true }), {
    log: (s) => lines.push(s),
    progressWrite: () => {},
  }).train();
  t.ok(existsSync(r.last) && existsSync(r.best), 'last.pt and best.pt');
  t.match(lines.join('\n'), /val: WARNING: 1 corrupt image\(s\)\/label\(s\) skipped:\n {2}.*zz\.txt:1: 5 values/);
});

t.test('validation that cannot run: last.pt is written before the error', async (t) => {
  const data = tinyDataset();
  const root = dirname(data);
  mkdirSync(join(root, 'images/bad'));
  writeFileSync(join(root, 'images/bad/a.jpg'), 'not a jpeg');
  writeFileSync(join(root, 'bad.yaml'), 'train: images/val\nval: images/bad\nkpt_shape: [17, 3]\nnames: {0: person}\n');
  const trainer = new PoseTrainer(tinyArgs(join(root, 'bad.yaml'), project, 'fail', { epochs: 1, val: true }), {
    log: () => {},
    progressWrite: () => {},
  });
  await t.rejects(
    trainer.train(),
    /val: validation failed after epoch 1 \(val: no usable images in .*images\/bad: all 1 are corrupt, e\.g\. .*a\.jpg: unsupported image format.*\); the epoch's weights are saved in .*fail\/weights\/last\.pt/,
  );
  const last = join(project, 'fail/weights/last.pt');
  t.ok(existsSync(last), 'last.pt exists');
  t.notOk(existsSync(join(project, 'fail/weights/best.pt')), 'no best.pt: nothing was measured');
  const ck = readPoseCheckpoint(last);
  t.equal(ck.extra.epoch, 0);
  t.ok(ck.stateDict.size > 100, `${ck.stateDict.size} tensors`);
});
