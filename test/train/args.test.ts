// Training arguments: Ultralytics' defaults, key=value overrides with its type checks, unknown keys
// with close matches, args.yaml; and results.csv in Ultralytics' exact layout.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from '../../tasks/cfg.js';
import { DEFAULT_CFG, argsToYaml, closeMatches, resolveTrainArgs, similarity } from '../../tasks/train/args.js';
import { RESULT_COLUMNS, appendResults, readResults, truncateResults } from '../../tasks/train/results.js';

const REF = fileURLToPath(new URL('../fixtures/train/train-curve-coco8-n160.csv', import.meta.url));

t.test("defaults are Ultralytics' default.yaml", async (t) => {
  const a = resolveTrainArgs({});
  t.match(a, {
    epochs: 100,
    batch: 16,
    imgsz: 640,
    optimizer: 'auto',
    lr0: 0.01,
    lrf: 0.01,
    momentum: 0.937,
    weight_decay: 0.0005,
    warmup_epochs: 3,
    warmup_momentum: 0.8,
    warmup_bias_lr: 0.1,
    box: 7.5,
    cls: 0.5,
    dfl: 1.5,
    pose: 12,
    kobj: 1,
    nbs: 64,
    close_mosaic: 10,
    cos_lr: false,
    seed: 0,
    deterministic: true,
    patience: 100,
    save_period: -1,
    hsv_h: 0.015,
    hsv_s: 0.7,
    hsv_v: 0.4,
    degrees: 0,
    translate: 0.1,
    scale: 0.5,
    shear: 0,
    perspective: 0,
    flipud: 0,
    fliplr: 0.5,
    mosaic: 1,
    mixup: 0,
  });
});

t.test('every key is a key=value override, typed like Ultralytics', async (t) => {
  const { overrides } = parseArgs([
    'pose',
    'train',
    'epochs=3',
    'imgsz=160',
    'lr0=0.02',
    'cos_lr=True',
    'optimizer=sgd',
    'name=exp',
    'mosaic=0',
  ]);
  const a = resolveTrainArgs(overrides);
  t.match(a, { epochs: 3, imgsz: 160, lr0: 0.02, cos_lr: true, optimizer: 'SGD', name: 'exp', mosaic: 0 });
  t.equal(resolveTrainArgs({ imgsz: [320] }).imgsz, 320);
  t.equal(resolveTrainArgs({ project: 'None' }).project, null);
  t.throws(() => resolveTrainArgs({ epochs: 'ten' }), /'epochs=ten' is of invalid type str. 'epochs' must be an int/);
  t.throws(
    () => resolveTrainArgs({ lr0: 2 }),
    /'lr0=2' is an invalid value. Valid 'lr0' values are between 0.0 and 1.0/,
  );
  t.throws(() => resolveTrainArgs({ cos_lr: 1 }), /'cos_lr' must be a bool/);
  t.throws(() => resolveTrainArgs({ box: 'big' }), /'box=big' is of invalid type str/);
  t.throws(
    () => resolveTrainArgs({ optimizer: 'Lion' }),
    /optimizer=Lion not found .*Adam, Adamax, AdamW, NAdam, RAdam, RMSProp, SGD, auto/,
  );
  t.equal(resolveTrainArgs({ optimizer: 'rmsprop' }).optimizer, 'RMSProp');
  t.equal(resolveTrainArgs({ batch: -1 }).batch, -1, 'AutoBatch is resolved by the trainer');
  t.throws(
    () => resolveTrainArgs({ batch: -2 }),
    /batch=-2 must be a positive integer, -1 \(AutoBatch\) or a memory fraction/,
  );
  t.throws(() => resolveTrainArgs({ imgsz: [640, 480] }), /imgsz=\[640, 480\] must be one integer/);
  t.throws(
    () => resolveTrainArgs({ profile: true }),
    /profile=True \(profiling ONNX and TensorRT speeds .*\) is not supported/,
  );
  t.equal(resolveTrainArgs({ multi_scale: true, single_cls: true }).multi_scale, true);
  // Format(bgr=) is implemented by the loader (test/data/loader.test.ts); copy_paste is a no-op on pose data
  t.equal(resolveTrainArgs({ bgr: 0.5 }).bgr, 0.5);
  t.equal(resolveTrainArgs({ copy_paste: 0.5 }).copy_paste, 0.5);
});

t.test('unknown keys: an error listing the close matches', async (t) => {
  t.throws(
    () => resolveTrainArgs({ epoch: 3 }),
    /'epoch' is not a valid YOLO argument. Similar arguments are i.e. epochs=100/,
  );
  t.throws(
    () => resolveTrainArgs({ lr: 0.1, imgsize: 3 }),
    /'lr' is not a valid YOLO argument[^\n]*\n'imgsz' is not|'imgsize' is not a valid YOLO argument. Similar arguments are i.e. imgsz=640/,
  );
  t.throws(() => resolveTrainArgs({ qqqqqq: 1 }), /'qqqqqq' is not a valid YOLO argument\.\n/);
  t.equal(similarity('abcd', 'bcde'), 0.75, 'difflib ratio: 2 * 3 / 8');
  t.same(closeMatches('momentun', Object.keys(DEFAULT_CFG)), ['momentum', 'warmup_momentum']);
});

t.test('args.yaml: every argument in order, YAML scalars as Ultralytics writes them', async (t) => {
  const y = argsToYaml(resolveTrainArgs({ data: 'coco8-pose.yaml', epochs: 3 }));
  const lines = y.trim().split('\n');
  t.equal(lines.length, Object.keys(DEFAULT_CFG).length);
  t.equal(lines[0], 'task: pose');
  for (const l of [
    'epochs: 3',
    'data: coco8-pose.yaml',
    'model: null',
    'warmup_epochs: 3.0',
    'lr0: 0.01',
    'save: true',
    'pose: 12.0',
    'imgsz: 640',
    'copy_paste: 0.0',
  ])
    t.ok(lines.includes(l), l);
});

t.test("results.csv: Ultralytics' header and %23.5g rows, byte for byte", async (t) => {
  const refText = readFileSync(REF, 'utf8').split('\n');
  const ref = readResults(REF);
  t.same(ref.columns, ['epoch', ...RESULT_COLUMNS], 'column names equal the reference run');
  const dir = mkdtempSync(join(tmpdir(), 'results-'));
  const file = join(dir, 'results.csv');
  for (let e = 0; e < 3; e++)
    appendResults(file, e + 1, Object.fromEntries(RESULT_COLUMNS.map((c) => [c, ref.data[c][e]])));
  const ours = readFileSync(file, 'utf8').split('\n');
  t.same(ours.slice(0, 4), refText.slice(0, 4), 'header and three rows identical');
  truncateResults(file, 2);
  t.equal(readResults(file).data.epoch.length, 2, 'a resume drops rows of epochs it redoes');
});
