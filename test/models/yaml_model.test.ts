// A model yaml on disk builds what it says (Ultralytics' parse_model over backbone/head with nc,
// kpt_shape and scales): the stock yamls give exactly the stock model, a changed one matches the
// state dict Ultralytics builds from it (fixtures/models/gen_yaml_model_golden.py), and errors name
// the file and line.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu } from '../../engine/index.js';
import { InputError } from '../../engine/errors.js';
import { loadPoseModel, savePoseCheckpoint } from '../../models/checkpoint.js';
import { buildModelFromYaml, guessModelScale, readModelYaml } from '../../models/yaml_model.js';
import { buildPoseModel, type PoseModel } from '../../models/yolov8_pose.js';
import { setupModel } from '../../tasks/train/model.js';
import { YOLO } from '../../tasks/yolo.js';

const FIX = join(import.meta.dirname, '../fixtures/models');
const dir = mkdtempSync(join(tmpdir(), 'yaml-model-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const shapes = (m: { stateDict(): Map<string, { shape: readonly number[] }> }) =>
  Object.fromEntries([...m.stateDict()].map(([k, v]) => [k, [...v.shape]]));

t.test("Ultralytics' stock yamls build exactly the stock models", async (t) => {
  t.equal(guessModelScale('a/yolov8s-pose.yaml'), 's');
  t.equal(guessModelScale('custom.yaml'), null);
  for (const [src, name, p6] of [
    ['yolov8-pose.yaml', 'yolov8n-pose.yaml', false],
    ['yolov8-pose-p6.yaml', 'yolov8n-pose-p6.yaml', true],
  ] as const) {
    const f = join(dir, name);
    copyFileSync(join(FIX, src), f);
    const y = readModelYaml(f);
    t.same(
      y,
      { yaml_file: name, scale: 'n', nc: 1, kpt_shape: [17, 3], p6 },
      `${name}: the stock metadata, no layer table stored`,
    );
    const a = buildModelFromYaml(f, { device: cpu }),
      b = buildPoseModel(name, { device: cpu });
    t.same(shapes(a), shapes(b), `${name}: same state-dict names and shapes`);
    t.same(a.stride, b.stride);
  }
});

t.test('a changed yaml under a stock name builds what the file says, as Ultralytics does', async (t) => {
  const f = join(dir, 'yolov8n-pose.yaml');
  copyFileSync(join(FIX, 'custom-pose.yaml'), f);
  const golden = JSON.parse(readFileSync(join(FIX, 'custom-pose.golden.json'), 'utf8'));
  const m = buildModelFromYaml(f, { device: cpu });
  t.ok(m.yaml.cfg, 'the layer table is kept with the model');
  t.same(shapes(m), golden.state_dict, "state-dict names and shapes equal Ultralytics'");
  t.equal(
    m.parameters().reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0),
    golden.params,
  );
  t.same(m.stride, golden.stride);
  t.notSame(shapes(m), shapes(buildPoseModel('yolov8n-pose.yaml', { device: cpu })), 'not the stock model');
  // nc / kpt_shape from a dataset override the file's
  const m5 = buildModelFromYaml(f, { nc: 2, kptShape: [5, 3], device: cpu });
  t.same(shapes(m5)['model.22.cv4.0.2.weight'], [15, 16, 1, 1]); // Ultralytics' c4 = max(ch[0] // 4, nk) = max(64 // 4, 15)
  t.same(shapes(m5)['model.22.cv3.0.2.weight'], [2, 64, 1, 1]);
  // the entry points a user meets: YOLO('that.yaml') and training from it with a dataset's nc / kpt_shape
  const y = await new YOLO(f).load('cpu');
  const convs = (sd: Record<string, number[]>) =>
    Object.fromEntries(Object.entries(sd).filter(([k]) => k.endsWith('conv.weight')));
  t.same(
    convs(shapes(y as PoseModel)),
    convs(golden.state_dict),
    "YOLO('yolov8n-pose.yaml') reads the file (BN folded: the convs compared)",
  );
  const { model: trained } = await setupModel(f, {
    nc: 1,
    kptShape: [17, 3],
    names: { 0: 'person' },
    pretrained: false,
    device: cpu,
  });
  t.same(shapes(trained), golden.state_dict, 'training setup reads the file');
  // a checkpoint keeps the table: it loads back as the same network
  for (const ext of ['pt', 'safetensors']) {
    const p = join(dir, `custom.${ext}`);
    await savePoseCheckpoint(m, p);
    t.same(shapes(loadPoseModel(p, { device: cpu })), golden.state_dict, `${ext} round trip`);
  }
});

t.test('errors name the file, the line and the module', async (t) => {
  const stock = readFileSync(join(FIX, 'yolov8-pose.yaml'), 'utf8');
  const bad = (body: string) => {
    const f = join(dir, 'yolov8n-pose.yaml');
    writeFileSync(f, body);
    try {
      readModelYaml(f);
    } catch (e) {
      t.ok(e instanceof InputError);
      return (e as Error).message;
    }
    return 'no error';
  };
  const f = join(dir, 'yolov8n-pose.yaml');
  const lineOf = (s: string, needle: string) => s.split('\n').findIndex((l) => l.includes(needle)) + 1;
  const foo = stock.replace('[-1, 3, C2f, [128, True]]', '[-1, 3, C2fFoo, [128, True]]');
  t.equal(
    bad(foo),
    `${f}:${lineOf(foo, 'C2fFoo')}: layer 2: unknown module 'C2fFoo' (this toolkit builds Conv, C2f, C2, SPPF, nn.Upsample, Concat, Pose)`,
  );
  const fwd = stock.replace('[[-1, 6], 1, Concat, [1]]', '[[-1, 16], 1, Concat, [1]]');
  t.match(
    bad(fwd),
    new RegExp(
      `:${lineOf(fwd, '[-1, 16]')}: layer 11: 'from' \\[-1,16\\] must be -1 or earlier layer indices \\(0\\.\\.10\\)`,
    ),
  );
  t.match(
    bad(stock.replace('[-1, 1, SPPF, [1024, 5]]', '[-1, 1, SPPF]')),
    /layer 9: expected \[from, repeats, module, args\]/,
  );
  t.match(
    bad(stock.replace('kpt_shape: [17, 3]', 'kpt_shape: [17, 4]')),
    new RegExp(`:${lineOf(stock, 'kpt_shape:')}: `),
  );
  t.match(
    bad(stock.replace('kpt_shape: [17, 3]', 'kpt_shape: [17, 4]')),
    /'kpt_shape' must be \[number of keypoints, 2 or 3\], got \[17,4\]/,
  );
  t.match(bad(stock.replace(/head:[\s\S]*/, 'head: []\n')), /the last layer must be Pose|head/);
  t.match(bad('backbone: [\n'), /invalid YAML/);
});
