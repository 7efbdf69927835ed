// Results/Boxes/Keypoints views, the log fragment, JSON summary, Python's %g and the label-file
// format, run folders (increment_path).
import t from 'tap';
import { mkdtempSync, readFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Boxes, Keypoints, Results } from '../../tasks/predict/results.js';
import { formatG } from '../../tasks/format.js';
import { getSaveDir, imageSavePath, incrementPath, labelPath } from '../../tasks/predict/save.js';

const f32 = Math.fround;
function sample(): Results {
  const origShape: [number, number] = [100, 200]; // (h, w)
  const img = { height: 100, width: 200, data: new Uint8Array(100 * 200 * 3) };
  const boxes = new Boxes(Float32Array.from([10, 20, 30, 60, 0.8, 0, 0, 0, 200, 100, 0.3, 0]), origShape);
  // 2 keypoints per person: the second of person 0 is below 0.5 and gets zeroed
  const kpts = new Keypoints(Float32Array.from([50, 25, 0.9, 70, 80, 0.3, 1, 2, 0.6, 3, 4, 0.7]), [2, 3], origShape);
  return new Results(img, '/data/x.jpg', { 0: 'person' }, boxes, kpts);
}

t.test('Boxes and Keypoints views', async (t) => {
  const r = sample();
  t.equal(r.length, 2);
  t.same(r.origShape, [100, 200]);
  t.same(r.boxes.xyxy[0], [10, 20, 30, 60]);
  t.same(r.boxes.xywh[0], [20, 40, 20, 40]);
  t.same(r.boxes.xyxyn[0], [0.05, 0.2, 0.15, 0.6].map(f32));
  t.same(r.boxes.xywhn[1], [0.5, 0.5, 1, 1]);
  t.same(r.boxes.conf, [f32(0.8), f32(0.3)]);
  t.same(r.boxes.cls, [0, 0]);
  t.same(
    r.keypoints!.xy[0],
    [
      [50, 25],
      [0, 0],
    ],
    'conf < 0.5 zeroes x and y, as Ultralytics',
  );
  t.same(r.keypoints!.xyn[0], [
    [0.25, 0.25],
    [0, 0],
  ]);
  t.same(r.keypoints!.conf![0], [f32(0.9), f32(0.3)]);
  t.throws(() => new Boxes(new Float32Array(5), [1, 1]), /Boxes: data must be \(n, 6\)/);
});

t.test('verbose, summary and JSON', async (t) => {
  const r = sample();
  t.equal(r.verbose(), '2 persons, ');
  const one = new Results(r.origImg, 'x', { 0: 'person' }, new Boxes(r.boxes.data.slice(0, 6), [100, 200]), null);
  t.equal(one.verbose(), '1 person, ');
  t.equal(
    new Results(r.origImg, 'x', { 0: 'person' }, new Boxes(new Float32Array(0), [100, 200]), null).verbose(),
    '(no detections), ',
  );
  const s = r.summary();
  t.same(s[0], {
    name: 'person',
    class: 0,
    confidence: 0.8,
    box: { x1: 10, y1: 20, x2: 30, y2: 60 },
    keypoints: { x: [50, 0], y: [25, 0], visible: [0.9, 0.3] },
  });
  t.same(r.summary({ normalize: true })[0].box, { x1: 0.05, y1: 0.2, x2: 0.15, y2: 0.6 });
  t.same(JSON.parse(JSON.stringify(r)), s, 'JSON.stringify gives the summary');
});

t.test("Python's %g", async (t) => {
  const cases: [number, string][] = [
    [0, '0'],
    [0.5, '0.5'],
    [1, '1'],
    [0.123456789, '0.123457'],
    [123456.7, '123457'],
    [1234567, '1.23457e+06'],
    [0.0001, '0.0001'],
    [0.00001234, '1.234e-05'],
    [1e-5, '1e-05'],
    [-2.5, '-2.5'],
    [100, '100'],
    [0.1 + 0.2, '0.3'],
    [3e20, '3e+20'],
    [0.99999951, '1'],
    [999999.5, '1e+06'],
    [f32(0.25), '0.25'],
    [f32(0.9), '0.9'],
  ];
  for (const [v, s] of cases) t.equal(formatG(v), s, `%g of ${v}`);
});

t.test('label lines in Ultralytics format, appended per image', async (t) => {
  const r = sample();
  t.same(r.labelLines(), ['0 0.1 0.4 0.1 0.4 0.25 0.25 0.9 0 0 0.3', '0 0.5 0.5 1 1 0.005 0.02 0.6 0.015 0.04 0.7']);
  t.same(r.labelLines(true)[0], '0 0.1 0.4 0.1 0.4 0.25 0.25 0.9 0 0 0.3 0.8', 'save_conf appends the box conf');
  const dir = mkdtempSync(join(tmpdir(), 'labels-'));
  const file = labelPath(dir, '/a/b/x.y.jpg');
  t.equal(file, join(dir, 'labels', 'x.y.txt'), 'labels/<stem>.txt');
  r.saveTxt(file);
  r.saveTxt(file);
  t.equal(readFileSync(file, 'utf8').split('\n').length, 5, 'appends, as Ultralytics opens with "a"');
  const empty = new Results(r.origImg, 'e.jpg', {}, new Boxes(new Float32Array(0), [100, 200]), null);
  empty.saveTxt(join(dir, 'labels', 'e.txt'));
  t.notOk(existsSync(join(dir, 'labels', 'e.txt')), 'no file for no detections');
  t.equal(imageSavePath(dir, '/x/y/z.png'), join(dir, 'z.png'));
});

t.test('increment_path and the run folder', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runs-'));
  const base = join(dir, 'runs', 'pose', 'predict');
  t.equal(getSaveDir({ project: join(dir, 'runs', 'pose') }), base, 'first run: predict');
  mkdirSync(base, { recursive: true });
  t.equal(getSaveDir({ project: join(dir, 'runs', 'pose') }), base + '2', 'then predict2');
  mkdirSync(base + '2');
  t.equal(incrementPath(base), base + '3');
  t.equal(getSaveDir({ project: join(dir, 'runs', 'pose'), existOk: true }), base, 'exist_ok reuses');
  t.equal(getSaveDir({ project: join(dir, 'p'), name: 'exp' }), join(dir, 'p', 'exp'), 'project and name');
  writeFileSync(join(dir, 'r.txt'), '');
  t.equal(incrementPath(join(dir, 'r.txt')), join(dir, 'r2.txt'), 'files: number before the extension');
  const cwd = process.cwd();
  mkdirSync(join(dir, 'fresh'));
  process.chdir(join(dir, 'fresh'));
  t.teardown(() => process.chdir(cwd));
  t.equal(
    getSaveDir(),
    join('runs', 'pose', 'predict'),
    'default: runs/pose/predict relative to the working directory',
  );
});
