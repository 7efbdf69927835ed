// freeze=: Ultralytics' rule (int n -> layers 0..n-1, list -> those layers, the DFL always), and a
// frozen layer really stays put through training steps while the rest moves.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu } from '../../engine/index.js';
import { buildPoseModel } from '../../models/yolov8_pose.js';
import { freezeLayers } from '../../tasks/train/freeze.js';
import { PoseTrainer } from '../../tasks/train/trainer.js';
import { tinyArgs, tinyDataset } from './helpers.js';
import { Callbacks } from '../../tasks/callbacks.js';

t.test('which parameters freeze=N and freeze=[...] stop', async (t) => {
  const m = buildPoseModel('yolov8n-pose.yaml', { device: cpu });
  const logs: string[] = [];
  const frozen = freezeLayers(m, 2, (s) => logs.push(s));
  t.ok(frozen.length > 0 && frozen.every((k) => /^model\.[01]\.|\.dfl/.test(k)));
  t.ok(frozen.includes('model.22.dfl.conv.weight'), 'the DFL conv is always frozen');
  t.ok(frozen.includes('model.1.conv.weight') && !frozen.some((k) => k.startsWith('model.2.')));
  t.equal(logs[0], "Freezing layer 'model.0.conv.weight'");
  t.same(
    freezeLayers(m, [22], () => {}).filter((k) => !k.startsWith('model.22.')),
    [],
    'a list freezes exactly its layers',
  );
  const w: string[] = [];
  freezeLayers(m, null, (s) => w.push(s));
  t.match(
    w.join('\n'),
    /WARNING ⚠️ setting 'requires_grad=True' for frozen layer 'model.22.cv2.0.0.conv.weight'/,
    'layers frozen before are unfrozen with the warning',
  );
  t.ok(m.namedParameters().find(([k]) => k === 'model.22.cv2.0.0.conv.weight')![1].requiresGrad);
  t.throws(
    () => freezeLayers(m, [30], () => {}),
    /freeze=\[30\]: layer 30 does not exist \(the model has layers 0 ... 22\)/,
  );
  t.throws(() => freezeLayers(m, 'backbone' as never, () => {}), /must be a number of leading layers or a list/);
});

t.test('training with freeze=10: the backbone stays bit-identical, the head moves', async (t) => {
  const data = tinyDataset();
  const project = mkdtempSync(join(tmpdir(), 'train-freeze-'));
  let before: Map<string, Float32Array> | null = null,
    after: Map<string, Float32Array> | null = null;
  const snap = async (tr: PoseTrainer) =>
    new Map(
      await Promise.all(
        tr.model.namedParameters().map(async ([k, p]) => [k, Float32Array.from(await p.data())] as const),
      ),
    );
  const events = new Callbacks().add('on_train_start', async (tr: PoseTrainer) => {
    before = await snap(tr);
  });
  await new PoseTrainer(tinyArgs(data, project, 'frozen', { freeze: 10, epochs: 1, nbs: 4, save: false }), {
    log: () => {},
    progressWrite: () => {},
    events,
    callbacks: {
      onFitEpochEnd: async (tr) => {
        after = await snap(tr);
      },
    },
  }).train();
  const moved = [...after!].filter(([k, v]) => v.some((x, i) => x !== before!.get(k)![i])).map(([k]) => k);
  t.ok(moved.length > 0, 'some parameters moved');
  t.same(
    moved.filter((k) => /^model\.[0-9]\./.test(k)),
    [],
    'none of layers 0-9 moved',
  );
  t.ok(
    moved.some((k) => k.startsWith('model.22.')),
    'the head moved',
  );
});
