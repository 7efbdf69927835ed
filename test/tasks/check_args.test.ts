// Nothing silently ignored: every mode checks its keys against Ultralytics' default.yaml (close
// matches for typos), applies cfg=, refuses by name what it does not implement and warns about keys
// of other modes; the CLI and the YOLO class go through the same gate.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { applyCfgFile, checkModeArgs, checkPlainMode, refusedKeys, type Mode } from '../../tasks/check_args.js';
import { DEFAULT_CFG, argsToYaml } from '../../tasks/train/args.js';
import { YOLO } from '../../tasks/yolo.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ULTRALYTICS_DEFAULT = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/cfg/default_cfg.json'), 'utf8'));
const MODES: Mode[] = ['train', 'val', 'predict', 'export'];

function capture() {
  const warns: string[] = [],
    logs: string[] = [];
  return { warns, logs, opts: { warn: (s: string) => warns.push(s), log: (s: string) => logs.push(s) } };
}

t.test(
  "DEFAULT_CFG is Ultralytics 8.2.82's default.yaml: same keys, same order, same values (task aside)",
  async (t) => {
    t.same(Object.keys(DEFAULT_CFG), Object.keys(ULTRALYTICS_DEFAULT));
    // default.yaml writes freeze as the string None, which get_cfg turns into None
    for (const [k, v] of Object.entries(ULTRALYTICS_DEFAULT))
      if (k !== 'task') t.same((DEFAULT_CFG as Record<string, unknown>)[k], v === 'None' ? null : v, k);
  },
);

t.test('a typo is an error with close matches in every mode', async (t) => {
  for (const m of MODES) {
    t.throws(
      () => checkModeArgs(m, { confx: 0.3 }),
      /'confx' is not a valid YOLO argument. Similar arguments are i.e. conf=None/,
      m,
    );
    t.throws(
      () => checkModeArgs(m, { imgsize: 320 }),
      /'imgsize' is not a valid YOLO argument. Similar arguments are i.e. imgsz=640/,
      m,
    );
  }
  t.throws(() => checkModeArgs('predict', { conf: 'high' }), /'conf=high' is of invalid type str/);
  t.throws(() => checkModeArgs('val', { save_json: 3 }), /'save_json' must be a bool/);
  t.throws(() => checkModeArgs('predict', { task: 'detect' }), /task=detect is not supported/);
});

t.test('keys a mode reads in Ultralytics but not here are refused by name (at a non-default value only)', async (t) => {
  t.throws(
    () => checkModeArgs('predict', { show: true }),
    /'show=True': showing a window .* is not implemented by yolo-ts predict; leave it at its default False/,
  );
  t.throws(() => checkModeArgs('predict', { dnn: true }), /'dnn=True': the OpenCV DNN backend/);
  t.same(checkModeArgs('export', { split: 'train' }), { split: 'train' }, 'the int8 calibration split');
  t.same(checkModeArgs('export', { iou: 0.5 }), { iou: 0.5 }, 'OpenVINO rt_info (test/export/openvino_iou.test.ts)');
  // every key refused in these modes says why (no generic "Ultralytics' X option" fallback)
  for (const m of ['train', 'val', 'predict', 'track', 'export'] as Mode[])
    for (const k of refusedKeys(m)) {
      const d = (DEFAULT_CFG as Record<string, unknown>)[k];
      const v = typeof d === 'boolean' ? !d : typeof d === 'number' ? d + 0.1 : 'train';
      t.throws(
        () => checkModeArgs(m, { [k]: v }),
        { message: /^(?![\s\S]*Ultralytics' \w+ option)[\s\S]*is not implemented/ },
        `${m} ${k}`,
      );
    }
  const warned: string[] = [];
  t.same(
    checkModeArgs('export', { agnostic_nms: true }, { warn: (m) => warned.push(m) }),
    {},
    'export agnostic_nms: accepted, no effect',
  );
  t.match(
    warned.join('\n'),
    /agnostic_nms=True has no effect \(Ultralytics 8.2.82 hands it only to export_tflite, which never reads it\)/,
  );
  t.throws(
    () => checkModeArgs('train', { profile: true }),
    /'profile=True': profiling ONNX and TensorRT speeds .* is not implemented by yolo-ts train/,
  );
  t.same(
    checkModeArgs('train', { multi_scale: true, single_cls: true, label_smoothing: 0.1, save_hybrid: true }),
    { multi_scale: true, single_cls: true, label_smoothing: 0.1, save_hybrid: true },
    'implemented now',
  );
  t.same(checkModeArgs('val', { single_cls: true, save_hybrid: true }), { single_cls: true, save_hybrid: true });
  t.same(checkModeArgs('val', { augment: true }), { augment: true }, 'TTA (test/predict/augment.test.ts)');
  t.same(checkModeArgs('predict', { augment: true, embed: [4] }), { augment: true, embed: [4] });
  t.same(
    checkModeArgs('val', { classes: [0] }),
    { classes: [0] },
    'val classes= filters the labels (test/val/classes.test.ts)',
  );
  t.same(checkModeArgs('train', { classes: [0], bgr: 0.1, copy_paste: 0.2 }), {
    classes: [0],
    bgr: 0.1,
    copy_paste: 0.2,
  });
  t.throws(() => checkModeArgs('train', { cache: 'gpu' }), /cache=gpu must be True, False, 'ram' or 'disk'/);
  for (const m of MODES)
    for (const k of refusedKeys(m)) {
      const d = (DEFAULT_CFG as Record<string, unknown>)[k];
      t.doesNotThrow(() => checkModeArgs(m, { [k]: d }), `${m}: ${k} at its default is accepted`);
    }
  t.same(checkModeArgs('train', { cache: 'ram', amp: false, epochs: 3 }), { cache: 'ram', amp: false, epochs: 3 });
});

t.test('keys of other modes are dropped with a warning naming them; defaults pass silently', async (t) => {
  const c = capture();
  const out = checkModeArgs('predict', { conf: 0.4, lr0: 0.02, epochs: 3, mosaic: 1.0 }, c.opts);
  t.same(out, { conf: 0.4 });
  t.equal(c.warns.length, 1);
  t.match(c.warns[0], /lr0=0.02, epochs=3 are not used in predict mode .* ignored/);
  const c2 = capture();
  t.same(checkModeArgs('export', { format: 'onnx', conf: 0.5 }, c2.opts), { format: 'onnx' });
  t.match(c2.warns[0], /conf=0.5 is not used in export mode/);
});

t.test(
  'cfg=: "Overriding default.yaml with ..."; explicit keys win; a full default.yaml copy is accepted by every mode',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const f = join(dir, 'custom.yaml');
    writeFileSync(f, 'epochs: 3\nimgsz: 160\nlr0: 0.02\n');
    const c = capture();
    t.same(applyCfgFile({ cfg: f, imgsz: 320 }, c.opts), { epochs: 3, imgsz: 320, lr0: 0.02 });
    t.same(c.logs, [`Overriding default.yaml with ${f}`]);
    t.same(checkModeArgs('train', { cfg: f }, c.opts), { epochs: 3, imgsz: 160, lr0: 0.02 });
    const full = join(dir, 'default_copy.yaml');
    writeFileSync(full, argsToYaml(DEFAULT_CFG));
    for (const m of MODES) {
      const cm = capture();
      checkModeArgs(m, { cfg: full }, cm.opts);
      t.same(cm.warns, [], `${m}: no warning for a default copy`);
    }
    writeFileSync(join(dir, 'bad.yaml'), 'epohcs: 3\n');
    t.throws(
      () => checkModeArgs('train', { cfg: join(dir, 'bad.yaml') }, c.opts),
      /'epohcs' is not a valid YOLO argument. Similar arguments are i.e. epochs=100/,
    );
    t.throws(() => applyCfgFile({ cfg: join(dir, 'missing.yaml') }), /cfg=.*missing.yaml: file not found/);
    writeFileSync(join(dir, 'list.yaml'), '- 1\n- 2\n');
    t.throws(() => applyCfgFile({ cfg: join(dir, 'list.yaml') }, c.opts), /expected a mapping/);
  },
);

t.test('modes outside the engine take only their own keys', async (t) => {
  t.throws(
    () => checkPlainMode('checks', { verbose: true }, []),
    /yolo checks: 'verbose' is not used by this mode \(it takes no key=value arguments\)/,
  );
  t.doesNotThrow(() => checkPlainMode('info', { model: 'x.yaml', imgsz: 320 }, ['model', 'imgsz', 'fuse']));
});

t.test('the YOLO class checks its option objects the same way, before any loading', async (t) => {
  const m = new YOLO('yolov8n-pose.yaml');
  await t.rejects(m.predict([], { confx: 0.3 } as never), /YOLO.predict.*|'confx' is not a valid YOLO argument/);
  await t.rejects(m.val({ dnn: true } as never), /YOLO.val: 'dnn=True'/);
  await t.rejects(m.train({ profile: true }), /YOLO.train: 'profile=True'/);
  await t.rejects(m.predict([], { show: true } as never), /YOLO.predict: 'show=True'/);
  t.equal(m.model, null, 'nothing was loaded');
});

t.test('the CLI: cfg= supplies the mode and keys; typos and refused keys fail before any work', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfgcli-'));
  const f = join(dir, 'custom.yaml');
  writeFileSync(f, 'mode: info\n');
  const run = (...a: string[]) =>
    spawnSync(process.execPath, ['--import=tsx', join(ROOT, 'tasks/cli.ts'), ...a], {
      encoding: 'utf8',
      cwd: ROOT,
      timeout: 120_000,
    });
  let r = run('val', 'dnn=True', 'confx=1');
  t.equal(r.status, 1);
  t.match(r.stderr, /'confx' is not a valid YOLO argument. Similar arguments are i.e. conf=None/);
  r = run('predict', 'show');
  t.match(r.stderr, /'show=True': showing a window/);
  r = run(`cfg=${f}`, 'model=yolov8n-pose.yaml', 'imgsz=64');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, new RegExp(`Overriding default.yaml with ${f}`));
  t.match(r.stdout, /YOLOv8n-pose summary/);
});
