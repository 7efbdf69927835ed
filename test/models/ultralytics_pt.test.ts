// Our .pt files in Ultralytics 8.2.82's own layout: Debian's torch loads them with test-only stand-in
// classes under Ultralytics' names (test/models/ultralytics_standins.py, no Ultralytics code), every
// module has the class and __dict__ keys 8.2.82 pickles (compared with genuine Ultralytics files),
// fp16 parameters and buffers of our shapes, and the stand-ins' forward gives our outputs.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { random, seed } from '../../engine/random.js';
import { tensor } from '../../engine/index.js';
import { f32ToF16, saveTorchCheckpoint } from '../../engine/io/torch_pt.js';
import { PyInstance } from '../../engine/io/pickle.js';
import { f16ToF32 } from '../../engine/io/safetensors.js';
import { buildPoseModel, loadPoseModel, readPoseCheckpoint, savePoseCheckpoint } from '../../models/index.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { findPython, runPython } from '../io/python.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { buildOptimizer } from '../../tasks/train/optimizer.js';
import { saveTrainCheckpoint } from '../../tasks/train/checkpoint.js';
import { YOLO } from '../../tasks/yolo.js';

const dir = mkdtempSync(join(tmpdir(), 'ultra-pt-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const CHECK = 'test/models/check_ultralytics_pt.py';
const SEED0 = 'test/fixtures/models/yolov8n-pose-seed0.pt'; // written by Ultralytics' YOLO(...).save()

/** Rounds every float weight to fp16 (what the file stores), so both sides run the same numbers. */
function roundToHalf(model: PoseModel) {
  for (const [, v] of model.stateDict())
    if (v.dtype === 'f32') v.storage.array!.set(f16ToF32(f32ToF16(Float32Array.from(v.dataSync()))));
}

/** Randomizes BatchNorm statistics so they are not identities (a wrong buffer would show). */
function randomizeBn(model: PoseModel) {
  for (const [k, v] of model.stateDict()) {
    const a = v.storage.array!;
    if (k.endsWith('running_mean') || k.endsWith('bn.bias'))
      for (let i = 0; i < a.length; i++) a[i] = (random() - 0.5) * 0.2;
    if (k.endsWith('running_var') || k.endsWith('bn.weight')) for (let i = 0; i < a.length; i++) a[i] = 0.5 + random();
  }
}

async function check(t: Tap.Test, model: PoseModel, file: string, genuine?: string) {
  const py = findPython(true);
  if (!py) return t.skip('no python3 with torch (Debian python3-torch): the torch.load check needs it');
  const [h, w] = [64, 128];
  seed(3);
  const x = Float32Array.from({ length: 3 * h * w }, () => random());
  model.eval();
  const out = model.predict(tensor(x, [1, 3, h, w]));
  writeFileSync(join(dir, 'in.bin'), x);
  writeFileSync(join(dir, 'out.bin'), Float32Array.from(out.dataSync()));
  const spec = {
    slot: 'model',
    kind: 'model',
    requires_grad: true,
    state: Object.fromEntries([...model.stateDict()].map(([k, v]) => [k, [...v.shape]])),
    input: join(dir, 'in.bin'),
    input_shape: [1, 3, h, w],
    output: join(dir, 'out.bin'),
    output_shape: [...out.shape],
  };
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  const r = runPython(py, [CHECK, file, join(dir, 'spec.json'), ...(genuine ? [genuine] : [])]);
  if (!r.ok) return t.fail(`check_ultralytics_pt.py failed:\n${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

t.test('yolov8n-pose: the object graph of YOLO.save(), and the same outputs', async (t) => {
  const model = buildPoseModel('yolov8n-pose.yaml', { seed: 1 });
  model.names = { 0: 'person' };
  randomizeBn(model);
  roundToHalf(model);
  const file = join(dir, 'n.pt');
  await savePoseCheckpoint(model, file, { train_args: { imgsz: 64 } });
  const f = await check(t, model, file, SEED0);
  if (!f) return;
  t.same(f.errors, [], 'every module as Ultralytics 8.2.82 pickles it');
  t.equal(f.class, 'ultralytics.nn.tasks.PoseModel');
  t.same(f.keys, [
    'epoch',
    'best_fitness',
    'model',
    'ema',
    'updates',
    'optimizer',
    'train_args',
    'date',
    'version',
    'license',
    'docs',
    'yolo_ts',
  ]);
  t.ok(
    f.genuine_classes_compared >= 12,
    `${f.genuine_classes_compared} classes compared with a genuine Ultralytics file`,
  );
  t.same(
    f.genuine_top_keys.filter((k: string) => !f.keys.includes(k)),
    [],
    "none of the genuine file's top-level keys missing",
  );
  t.equal(f.params, model.stateDict().size);
  t.same(f.yaml, { nc: 1, kpt_shape: [17, 3], scale: 'n', yaml_file: 'yolov8n-pose.yaml', ch: 3 });
  t.same(f.yaml_keys, ['nc', 'kpt_shape', 'scales', 'backbone', 'head', 'scale', 'yaml_file', 'ch']);
  t.same(f.names, { 0: 'person' });
  t.same(f.stride, [8, 16, 32]);
  t.equal(f.head_stride_dtype, 'torch.float16');
  t.equal(f.scale_factor, '2.0', 'Upsample keeps a float scale factor');
  t.equal(f.silu_objects, 1, "one SiLU object shared by every Conv, as Ultralytics' default_act");
  t.ok(f.max_abs_diff <= 1e-4, `stand-ins' forward vs ours: max |diff| ${f.max_abs_diff}`);

  const back = loadPoseModel(file); // and we read our own file back bit for bit
  let same = true;
  const want = model.stateDict();
  for (const [k, v] of back.stateDict()) {
    const b = want.get(k)!.dataSync();
    if (v.dataSync().some((a, i) => a !== b[i])) same = false;
  }
  t.ok(same, 'our reader gets the weights back bit for bit');
});

t.test('yolov8s-pose-p6 with nc 2 and 5 x 2 keypoints: C2 blocks, four levels, no visibility', async (t) => {
  const model = buildPoseModel('yolov8s-pose-p6.yaml', { seed: 2, nc: 2, kptShape: [5, 2] });
  model.names = { 0: 'cat', 1: 'dog' };
  randomizeBn(model);
  roundToHalf(model);
  const file = join(dir, 's-p6.pt');
  await savePoseCheckpoint(model, file);
  const f = await check(t, model, file);
  if (!f) return;
  t.same(f.errors, []);
  t.same(f.yaml, { nc: 2, kpt_shape: [5, 2], scale: 's', yaml_file: 'yolov8s-pose-p6.yaml', ch: 3 });
  t.same(f.stride, [8, 16, 32, 64]);
  t.same(f.output_shape, [1, 4 + 2 + 10, 128 + 32 + 8 + 2]);
  t.ok(f.max_abs_diff <= 1e-4, `max |diff| ${f.max_abs_diff}`);
});

t.test('a pickle naming a class off the allow-list is refused, naming it and the list', async (t) => {
  // what a newer Ultralytics with a new block would write: nothing of it may run, the error says what and why
  const block = new PyInstance('ultralytics.nn.modules.block_v2.C3k2');
  const bad = join(dir, 'bad.pt');
  saveTorchCheckpoint(bad, {
    epoch: -1,
    model: Object.assign(new PyInstance('builtins.eval'), { _modules: { 0: block } }),
  });
  t.throws(
    () => readPoseCheckpoint(bad),
    /'builtins\.eval', which is not on the allow-list \(allowed: torch\.nn\.modules\.\*, ultralytics\.nn\.modules\.\*.*nothing was executed/s,
  );
  saveTorchCheckpoint(bad, {
    epoch: -1,
    model: Object.assign(new PyInstance('ultralytics.nn.tasks.PoseModel'), {
      _modules: { 0: new PyInstance('ultralytics.engine.model.Model') },
    }),
  });
  t.throws(
    () => readPoseCheckpoint(bad),
    /'ultralytics\.engine\.model\.Model', which is not on the allow-list \(allowed: .*ultralytics\.nn\.tasks\.\*/s,
  );
});

t.test(
  "a trainer checkpoint after an AdamW step: torch.optim.AdamW loads its optimizer (fp16 state, torch's groups)",
  async (t) => {
    const py = findPython(true);
    if (!py) return t.skip('no python3 with torch');
    const model = buildPoseModel('yolov8n-pose.yaml', { seed: 4 });
    const { optimizer } = buildOptimizer(model, {
      name: 'AdamW',
      lr: 0.002,
      momentum: 0.9,
      decay: 0.0005,
      iterations: 10,
      nc: 1,
      warmupBiasLr: 0,
    });
    for (const p of model.parameters())
      if (p.requiresGrad)
        p.grad = tensor(new Float32Array(p.shape.reduce((a, b) => a * b, 1)).fill(0.01), [...p.shape]);
    optimizer.step();
    const file = join(dir, 'last.pt');
    await saveTrainCheckpoint(file, {
      epoch: 3,
      bestFitness: 0.25,
      model,
      ema: model,
      emaUpdates: 7,
      optimizer,
      trainArgs: { imgsz: 64, data: 'coco8-pose.yaml' },
      trainMetrics: { fitness: 0.25 },
      rng: { engine: [1, 2, 3, 4] },
      stopper: { best_fitness: 0.25, best_epoch: 3 },
      lastOptStep: 5,
      pendingGrads: false,
      trainResults: { epoch: [1, 2, 3, 4] },
    });
    const script = `
import sys, json, torch
sys.path.insert(0, 'test/models')
import ultralytics_standins as U
ck = torch.load(sys.argv[1], map_location='cpu')
o, ema = ck['optimizer'], ck['ema'].float()
# Ultralytics' build_optimizer groups: biases (no decay), weights (decay), BatchNorm weights (no decay)
g = [[], [], []]
for mn, m in ema.named_modules():
    for pn, p in m.named_parameters(recurse=False):
        if pn == 'bias': g[0].append(p)
        elif isinstance(m, torch.nn.BatchNorm2d): g[2].append(p)
        else: g[1].append(p)
opt = torch.optim.AdamW([{'params': g[0]}, {'params': g[1], 'weight_decay': 0.0005}, {'params': g[2]}], lr=0.002, betas=(0.9, 0.999), weight_decay=0.0)
opt.load_state_dict(o)
s = opt.state[g[1][0]]
print(json.dumps({'groups': [len(x['params']) for x in o['param_groups']], 'mine': [len(x) for x in g], 'state': len(opt.state),
  'dtypes': sorted({f'{k}:{v.dtype}' for st in o['state'].values() for k, v in st.items()}), 'step': float(s['step']),
  'betas': list(o['param_groups'][1]['betas']), 'wd': o['param_groups'][1]['weight_decay'], 'epoch': ck['epoch'], 'updates': ck['updates'],
  'best': ck['best_fitness'], 'results': ck['train_results'], 'ema_class': U.qualname(ck['ema']), 'model': ck['model']}))
`;
    const r = runPython(py, ['-c', script, file]);
    if (!r.ok) return t.fail(r.stderr.slice(-3000));
    const f = JSON.parse(r.stdout);
    t.same(f.groups, f.mine, "param groups sized as Ultralytics' build_optimizer makes them");
    t.equal(
      f.state,
      f.groups.reduce((a: number, b: number) => a + b, 0) - 1,
      'torch.optim.AdamW.load_state_dict takes a state for every trained parameter (not the frozen DFL conv)',
    );
    t.same(
      f.dtypes,
      ['exp_avg:torch.float16', 'exp_avg_sq:torch.float16', 'step:torch.float32'],
      'fp16 moments, as Ultralytics converts them',
    );
    t.match(f, {
      step: 1,
      betas: [0.9, 0.999],
      wd: 0.0005,
      epoch: 3,
      updates: 7,
      best: 0.25,
      results: { epoch: [1, 2, 3, 4] },
      ema_class: 'ultralytics.nn.tasks.PoseModel',
      model: null,
    });
    const back = readPoseCheckpoint(file).extra; // and our own exact state next to it
    t.match(back, { epoch: 3, last_opt_step: 5, stopper: { best_epoch: 3 }, rng_state: { engine: [1, 2, 3, 4] } });
    t.ok(
      (back.optimizer as { param_groups: { beta1?: number }[] }).param_groups[1].beta1 === 0.9,
      'our exact optimizer state under yolo_ts',
    );
  },
);

t.test("YOLO.save('x.safetensors') and export format=safetensors: Ultralytics' names and metadata", async (t) => {
  const pt = join(dir, 'n.pt'); // written by the first subtest
  const y = new YOLO(pt);
  const f = await y.export({ format: 'safetensors', verbose: false });
  t.equal(f, join(dir, 'n.safetensors'));
  const { tensors, metadata } = readSafetensors(f);
  const want = loadPoseModel(pt).stateDict();
  t.same([...tensors.keys()].sort(), [...want.keys()].sort(), "every state-dict key, under Ultralytics' names");
  t.match(metadata, { task: 'pose', version: '8.2.82', stride: '32', names: '{"0":"person"}', kpt_shape: '[17,3]' });
  const back = loadPoseModel(f);
  t.same(
    back.stateDict().get('model.22.cv4.0.2.weight')!.dataSync(),
    want.get('model.22.cv4.0.2.weight')!.dataSync(),
    'the weights come back as saved',
  );
  await y.save(join(dir, 'again.pt'));
  t.same(readPoseCheckpoint(join(dir, 'again.pt')).names, { 0: 'person' }, 'YOLO.save() writes a .pt too');
});
