// `yolo pose predict`: argument checking (unit), then the real command end to end on one image
// with the bundled checkpoint (cpu, zidane.jpg at imgsz 320): console lines, run folder, annotated
// image, labels, and the exit status for a bad source or model.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { predictArgs } from '../../tasks/predict/cli.js';
import { parseArgs } from '../../tasks/cfg.js';
import { CKPT, FIXTURES } from './reference.js';

const args = (...a: string[]) => predictArgs(parseArgs(['pose', 'predict', ...a]).overrides);

t.test('arguments', async (t) => {
  const a = args(
    'model=m.pt',
    'source=x.jpg',
    'imgsz=320',
    'conf=0.05',
    'save_txt=True',
    'device=cpu',
    'classes=[0]',
    'name=run',
  );
  t.same(
    a,
    {
      model: 'm.pt',
      source: 'x.jpg',
      save: true,
      imgsz: 320,
      device: 'cpu',
      name: 'run',
      classes: [0],
      conf: 0.05,
      save_txt: true,
    },
    'save defaults to True on the command line',
  );
  t.same(args('source=x.jpg', 'model=m.pt', 'save=False').save, false);
  t.same(args('source=x.jpg', 'model=m.pt', 'imgsz=[480,640]').imgsz, [480, 640]);
  t.throws(() => args('source=x', 'confidence=0.3'), /unknown argument 'confidence'; valid keys are model, source/);
  t.throws(() => args('source=x', 'conf=high'), /'conf=high' must be a number/);
  t.throws(() => args('source=x', 'conf=2'), /'conf=2' must be between 0.0 and 1.0/);
  t.throws(() => args('source=x', 'save_txt=yes'), /'save_txt=yes' must be True or False/);
  t.same(
    args('source=x', 'batch=4', 'vid_stride=2', 'save_frames=True').batch,
    4,
    'batch > 1 is accepted since issue 15',
  );
  t.throws(() => args('source=x', 'batch=0'), /'batch=0' must be a whole number >= 1/);
  t.throws(() => args('source=x', 'vid_stride=1.5'), /'vid_stride=1.5' must be a whole number >= 1/);
  const warn = console.warn;
  const warns: string[] = [];
  console.warn = (s: string) => warns.push(s);
  try {
    const d = args();
    t.same(
      [d.model, (d.source as string[]).map((s) => s.replace(/.*\//, ''))],
      ['yolov8n-pose.pt', ['bus.jpg', 'zidane.jpg']],
      'defaults as Ultralytics: yolov8n-pose.pt on the two sample images',
    );
  } finally {
    console.warn = warn;
  }
  t.match(warns.join('\n'), /'source' argument is missing[\s\S]*'model' argument is missing/);
});

t.test('yolo pose predict end to end (cpu)', async (t) => {
  const project = mkdtempSync(join(tmpdir(), 'cli-'));
  const run = (...a: string[]) =>
    spawnSync(process.execPath, ['--import=tsx', 'tasks/cli.ts', 'pose', 'predict', ...a], {
      encoding: 'utf8',
      timeout: 300_000,
    });
  const r = run(
    `model=${CKPT}`,
    `source=${FIXTURES}images/zidane.jpg`,
    'imgsz=320',
    'conf=0.1',
    'save_txt=True',
    'device=cpu',
    `project=${project}`,
  );
  t.equal(r.status, 0, `exit 0${r.status ? `: ${r.stderr}` : ''}`);
  const all = r.stdout.trimEnd().split('\n');
  t.match(all[0], /^yolo-ts \d+\.\d+\.\d+ 🚀 Node-\S+ cpu \(TypeScript reference\)$/, 'device line');
  t.equal(
    all[1],
    'YOLOv8n-pose summary (fused): 187 layers, 3,289,964 parameters, 0 gradients, 9.2 GFLOPs',
    "Ultralytics' fused summary",
  );
  const lines = all.slice(2);
  // Ultralytics finds 6 people above conf 0.1 on zidane.jpg with this checkpoint (reference json)
  t.match(lines[1], /^image 1\/1 .*zidane\.jpg: 192x320 6 persons, \d+\.\dms$/, lines[1]);
  t.match(
    lines[2],
    /^Speed: [\d.]+ms preprocess, [\d.]+ms inference, [\d.]+ms postprocess per image at shape \(1, 3, 192, 320\)$/,
    lines[2],
  );
  t.equal(lines[3], `Results saved to ${join(project, 'predict')}`);
  t.equal(lines[4], `1 label saved to ${join(project, 'predict', 'labels')}`);
  t.ok(existsSync(join(project, 'predict', 'zidane.jpg')));
  t.equal(
    readFileSync(join(project, 'predict', 'labels', 'zidane.txt'), 'utf8')
      .trimEnd()
      .split('\n').length,
    6,
  );
  const bad = run(`model=${CKPT}`, `source=${join(project, 'nope.jpg')}`, 'device=cpu', `project=${project}`);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /Error: .*nope\.jpg: file not found/);
  const badModel = run(
    `model=${join(project, 'missing.pt')}`,
    `source=${FIXTURES}images/zidane.jpg`,
    'device=cpu',
    `project=${project}`,
  );
  t.match(badModel.stderr, /missing\.pt: cannot read/);
});
