// What a training checkpoint holds after an epoch (and that plain PyTorch can torch.load it), and
// a NaN loss: the run stops with a clear message and the last good checkpoint stays byte for byte.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { V8PoseLoss } from '../../nn/loss/v8_pose_loss.js';
import { readPoseCheckpoint } from '../../models/checkpoint.js';
import { NonFiniteLossError, PoseTrainer } from '../../tasks/train/trainer.js';
import { RESULT_COLUMNS, readResults } from '../../tasks/train/results.js';
import { quiet, tinyArgs, tinyDataset } from './helpers.js';

const project = mkdtempSync(join(tmpdir(), 'train-ckpt-'));
const hasTorch = (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

t.test('an epoch checkpoint, then a NaN loss stops the run and leaves it intact', async (t) => {
  // the loss of the second batch (epoch 2) becomes NaN
  const forward = V8PoseLoss.prototype.forward;
  let calls = 0;
  V8PoseLoss.prototype.forward = async function (this: V8PoseLoss, ...a: Parameters<typeof forward>) {
    const r = await forward.apply(this, a);
    if (++calls === 2) return { ...r, loss: E.mul(r.loss, NaN), items: E.mul(r.items, NaN) };
    return r;
  };
  t.teardown(() => void (V8PoseLoss.prototype.forward = forward));

  let afterEpoch1: Buffer | null = null;
  const dir = join(project, 'nan');
  const last = join(dir, 'weights', 'last.pt');
  const trainer = new PoseTrainer(tinyArgs(tinyDataset(), project, 'nan'), {
    ...quiet,
    callbacks: { onFitEpochEnd: () => void (afterEpoch1 = readFileSync(last)) },
  });
  const err = await trainer.train().then(() => null, (e: Error) => e);
  t.ok(err instanceof NonFiniteLossError, 'a NonFiniteLossError');
  t.match(err?.message, /loss became NaN at epoch 2, batch 1 \(box_loss NaN/);
  t.ok(err?.message.includes(`${last} (end of epoch 1) is intact`), 'the message names the intact checkpoint');
  t.ok(afterEpoch1, 'epoch 1 wrote last.pt');
  t.ok(readFileSync(last).equals(afterEpoch1!), 'last.pt is byte for byte the epoch-1 checkpoint');
  t.same(readdirSync(join(dir, 'weights')).sort(), ['best.pt', 'last.pt'], 'no temporary files');
  t.same(readResults(join(dir, 'results.csv')).columns, ['epoch', ...RESULT_COLUMNS], "results.csv has Ultralytics' columns");
  t.same(readResults(join(dir, 'results.csv')).data.epoch, [1], 'and only the finished epoch');

  const ck = readPoseCheckpoint(last);
  const x = ck.extra;
  t.equal(x.epoch, 0);
  t.equal(x.best_fitness, null, 'no fitness yet: validation did not run (val=False)');
  t.equal(x.updates, 0, 'no optimizer step yet (accumulate 2)');
  t.match(x.train_args, { epochs: 2, imgsz: 32, batch: 4, nbs: 8, data: String, save_dir: dir });
  t.match(x.train_metrics, { 'metrics/mAP50(B)': 0, 'val/box_loss': 0, fitness: null });
  t.match(x.rng_state, { engine: Array });
  t.equal((x.optimizer as { param_groups: unknown[] }).param_groups.length, 3, 'three parameter groups');
  t.equal(Object.keys((x.model ?? {}) as object).length, ck.stateDict.size, 'the raw model state next to the EMA state_dict');
  t.ok(Object.keys((x.grads ?? {}) as object).length > 100, 'pending gradients');
  t.match(x, { date: String, version: String, format: 'yolo-ts pose checkpoint' });

  if (!hasTorch) return void t.comment('no /usr/bin/python3 with torch: torch.load check skipped');
  const copy = join(project, 'epoch1.pt');
  copyFileSync(last, copy);
  const out = execFileSync('/usr/bin/python3', ['-c', `
import torch, json
ck = torch.load(${JSON.stringify(copy)}, map_location='cpu')
o = ck['optimizer']
print(json.dumps({'keys': sorted(ck), 'epoch': ck['epoch'], 'groups': len(o['param_groups']), 'lr': o['param_groups'][1]['lr'],
  'sd': len(ck['state_dict']), 'model': len(ck['model']), 'w': list(ck['model']['model.0.conv.weight'].shape), 'args': ck['train_args']['imgsz']}))
`]).toString();
  const info = JSON.parse(out);
  t.match(info, { epoch: 0, groups: 3, sd: 397, model: 397, w: [16, 3, 3, 3], args: 32 }, 'torch.load reads it');
  for (const k of ['best_fitness', 'date', 'grads', 'model', 'optimizer', 'rng_state', 'state_dict', 'train_args', 'train_metrics', 'updates', 'version']) t.ok(info.keys.includes(k), `key ${k}`);
  t.ok(existsSync(copy));
});
