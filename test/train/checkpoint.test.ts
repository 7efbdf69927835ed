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
  const err = await trainer.train().then(
    () => null,
    (e: Error) => e,
  );
  t.ok(err instanceof NonFiniteLossError, 'a NonFiniteLossError');
  t.match(err?.message, /loss became NaN at epoch 2, batch 1 \(box_loss NaN/);
  t.ok(err?.message.includes(`${last} (end of epoch 1) is intact`), 'the message names the intact checkpoint');
  t.ok(afterEpoch1, 'epoch 1 wrote last.pt');
  t.ok(readFileSync(last).equals(afterEpoch1!), 'last.pt is byte for byte the epoch-1 checkpoint');
  t.same(readdirSync(join(dir, 'weights')).sort(), ['best.pt', 'last.pt'], 'no temporary files');
  t.same(
    readResults(join(dir, 'results.csv')).columns,
    ['epoch', ...RESULT_COLUMNS],
    "results.csv has Ultralytics' columns",
  );
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
  t.equal(
    Object.keys((x.model ?? {}) as object).length,
    ck.stateDict.size,
    'the raw model state next to the EMA state_dict',
  );
  t.ok(Object.keys((x.grads ?? {}) as object).length > 100, 'pending gradients');
  t.match(x, { date: String, version: String, format: 'yolo-ts pose checkpoint' });

  if (!hasTorch) return void t.comment('no /usr/bin/python3 with torch: torch.load check skipped');
  const copy = join(project, 'epoch1.pt');
  copyFileSync(last, copy);
  // torch.load with stand-ins under Ultralytics' class names (no Ultralytics code): Ultralytics' trainer layout
  const out = execFileSync('/usr/bin/python3', [
    '-c',
    `
import sys, torch, json
sys.path.insert(0, 'test/models')
import ultralytics_standins as U
ck = torch.load(${JSON.stringify(copy)}, map_location='cpu')
o, e, y = ck['optimizer'], ck['ema'], ck['yolo_ts']
print(json.dumps({'keys': list(ck), 'epoch': ck['epoch'], 'model': ck['model'], 'ema': U.qualname(e), 'training': e.training, 'args': U.qualname(e.args), 'imgsz': e.args.imgsz,
  'dtype': str(e.model[0].conv.weight.dtype), 'grad': e.model[0].conv.weight.requires_grad, 'n': len(e.state_dict()), 'kpt': e.kpt_shape, 'nc': e.nc,
  'groups': [len(g['params']) for g in o['param_groups']], 'gkeys': sorted(o['param_groups'][1]), 'lr': o['param_groups'][1]['lr'],
  'state': sorted({f'{k}:{v.dtype}' for s in o['state'].values() for k, v in s.items()}),
  'ours': sorted(y), 'sd': len(y['state_dict']), 'w': list(y['model']['model.0.conv.weight'].shape), 'results': sorted(ck['train_results'])[:2]}))
`,
  ]).toString();
  const info = JSON.parse(out);
  t.same(
    info.keys,
    [
      'epoch',
      'best_fitness',
      'model',
      'ema',
      'updates',
      'optimizer',
      'train_args',
      'train_metrics',
      'train_results',
      'date',
      'version',
      'license',
      'docs',
      'yolo_ts',
    ],
    "Ultralytics' save_model keys, then ours",
  );
  t.match(
    info,
    {
      epoch: 0,
      model: null,
      ema: 'ultralytics.nn.tasks.PoseModel',
      training: false,
      args: 'ultralytics.utils.IterableSimpleNamespace',
      imgsz: 32,
      dtype: 'torch.float16',
      grad: false,
      n: 397,
      kpt: [17, 3],
      nc: 1,
      sd: 397,
      w: [16, 3, 3, 3],
    },
    'torch.load reads the EMA as Ultralytics saves it',
  );
  t.equal(info.groups.length, 3, 'three parameter groups');
  t.same(info.state, [], 'no optimizer step yet (accumulate 2): an empty state, as torch has it');
  t.ok(
    info.gkeys.includes('initial_lr') && info.gkeys.includes('params') && info.gkeys.includes('weight_decay'),
    "torch's param_group keys",
  );
  t.same(
    info.ours.filter((k: string) =>
      ['state_dict', 'model', 'optimizer', 'rng_state', 'stopper', 'last_opt_step', 'grads'].includes(k),
    ).length,
    7,
    'our exact-resume state under yolo_ts',
  );
  t.ok(existsSync(copy));
});
