// tasks/data/dataset.ts: dataset yaml, split image lists, image <-> label paths, pose label files,
// and a val split through the one scan (Ultralytics' get_labels): counts, warnings, malformed lines naming file:line.
import t from 'tap';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Test } from 'tap';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageFiles, imageSize, labelPath, loadDatasetYaml, parsePoseLabels, type DatasetConfig } from '../../tasks/data/dataset.js';
import { PoseDataset } from '../../tasks/data/loader.js';
import { encodePNG } from '../../tasks/data/image.js';

const FIX = join(import.meta.dirname, '../fixtures/val/coco8-pose');
const KS: [number, number] = [17, 3];
const line = (cls: number, kv = 2, x = 0.5) => [cls, 0.5, 0.5, 0.2, 0.3, ...Array.from({ length: 17 }, () => [x, 0.4, kv]).flat()].join(' ');

function tmpDataset(t: Test, yaml = 'train: images/train\nval: images/val\nkpt_shape: [17, 3]\nnames: {0: person}\n') {
  const root = mkdtempSync(join(tmpdir(), 'ds-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const d of ['images/val', 'labels/val']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'data.yaml'), yaml);
  return root;
}
const png = (w: number, h: number) => encodePNG({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(90) });

t.test('yaml: path defaults to the yaml folder; names, kpt_shape, flip_idx', async (t) => {
  const cfg = loadDatasetYaml(join(FIX, 'coco8-pose.yaml'));
  t.equal(cfg.path, FIX);
  t.equal(cfg.val, join(FIX, 'images/val'));
  t.same(cfg.names, { 0: 'person' });
  t.equal(cfg.nc, 1);
  t.same(cfg.kptShape, [17, 3]);
  t.equal(cfg.flipIdx?.length, 17);

  const root = tmpDataset(t, 'path: sub\ntrain: [a, b]\nval: ../imgs\nkpt_shape: [5, 2]\nnames: [cat, dog]\n');
  mkdirSync(join(root, 'sub/imgs'), { recursive: true });
  const c2 = loadDatasetYaml(join(root, 'data.yaml'), { datasetsDir: join(root, 'nowhere') });
  t.equal(c2.path, join(root, 'sub'), 'relative path: beside the yaml when not under the datasets dir');
  t.same(c2.train, [join(root, 'sub/a'), join(root, 'sub/b')]);
  t.equal(c2.val, join(root, 'sub/imgs'), "'../x' falls back to 'x' under the root, as Ultralytics");
  t.same(c2.names, { 0: 'cat', 1: 'dog' });
  t.same(c2.kptShape, [5, 2]);
});

t.test('a bare dataset name: the datasets dir, then the bundled data/', async (t) => {
  const root = tmpDataset(t);
  mkdirSync(join(root, 'mine'));
  writeFileSync(join(root, 'mine/mine.yaml'), 'train: a\nval: b\nkpt_shape: [17, 3]\nnames: [p]\n');
  t.equal(loadDatasetYaml('mine.yaml', { datasetsDir: root }).path, join(root, 'mine'));
  t.match(loadDatasetYaml('coco8-pose.yaml', { datasetsDir: root }).yamlFile, /data\/coco8-pose\/coco8-pose\.yaml$/, 'bundled coco8-pose');
  t.throws(() => loadDatasetYaml('nope-pose.yaml', { datasetsDir: root }), /dataset 'nope-pose\.yaml' not found \(looked for .*nope-pose\/nope-pose\.yaml/);
});

t.test('yaml errors name the file', async (t) => {
  const bad = (body: string, re: RegExp) => {
    const root = tmpDataset(t, body);
    t.throws(() => loadDatasetYaml(join(root, 'data.yaml')), { message: new RegExp(`data\\.yaml.*${re.source}`) }, re.source);
  };
  bad('train: a\nval: b\nnames: {0: p}\n', /kpt_shape/);
  bad('train: a\nval: b\nkpt_shape: [17, 4]\nnames: {0: p}\n', /kpt_shape/);
  bad('train: a\nkpt_shape: [17, 3]\nnames: {0: p}\n', /'val:' key missing/);
  bad('train: a\nval: b\nkpt_shape: [17, 3]\n', /names/);
  bad('train: a\nval: b\nkpt_shape: [17, 3]\nnames: {0: p, 2: q}\n', /without gaps/);
  bad('train: a\nval: b\nkpt_shape: [2, 3]\nflip_idx: [0]\nnames: {0: p}\n', /flip_idx/);
  bad('train: [a\n', /invalid YAML/);
  t.throws(() => loadDatasetYaml('/no/such/data.yaml'), /not found/);
});

t.test('image lists and the /images/ -> /labels/ rule', async (t) => {
  t.equal(labelPath('/d/images/val/a.b.jpg'), '/d/labels/val/a.b.txt');
  t.equal(labelPath('/images/x/images/val/1.png'), '/images/x/labels/val/1.txt', 'the last /images/ is replaced');
  const root = tmpDataset(t);
  mkdirSync(join(root, 'images/val/sub'));
  for (const f of ['b.png', 'a.PNG', 'sub/c.png', 'notes.txt']) writeFileSync(join(root, 'images/val', f), png(12, 12));
  t.same(imageFiles(join(root, 'images/val')).map((f) => f.slice(root.length)), ['/images/val/a.PNG', '/images/val/b.png', '/images/val/sub/c.png']);
  writeFileSync(join(root, 'list.txt'), './images/val/b.png\n\n' + join(root, 'images/val/a.PNG') + '\n');
  t.same(imageFiles(join(root, 'list.txt')).map((f) => f.slice(root.length)), ['/images/val/a.PNG', '/images/val/b.png']);
  t.throws(() => imageFiles(join(root, 'labels/val')), /no images found/);
  t.throws(() => imageFiles(join(root, 'nope')), /does not exist/);
});

t.test('pose label files', async (t) => {
  const l = parsePoseLabels(`${line(0)}\n\n${line(0, 0, 0.25)}\n`, 'x.txt', KS, 1);
  t.equal(l.cls.length, 2);
  t.same(Array.from(l.bboxes.subarray(0, 4)), [0.5, 0.5, Math.fround(0.2), Math.fround(0.3)]);
  t.same(Array.from(l.keypoints.subarray(51, 54)), [0.25, Math.fround(0.4), 0]);
  const err = (text: string, re: RegExp) => t.throws(() => parsePoseLabels(text, '/d/labels/a.txt', KS, 1), { message: re }, re.source);
  err(`${line(0)}\n0 0.5 0.5 0.1 0.1`, /^\/d\/labels\/a\.txt:2: 5 values, but kpt_shape \[17, 3\] needs 56/);
  err(line(1), /a\.txt:1: class 1 is not one of the dataset's 1 classes/);
  err(line(0).replace('0.5 0.5', '0.5 abc'), /a\.txt:1: value 3 \('abc'\) is not a number/);
  err(line(0, 2, 1.5), /a\.txt:1: keypoint 0 x = 1.5 is not normalized/);
  err(line(0).replace(' 0.2 ', ' -0.2 '), /a\.txt:1: negative label value -0.2/);
  // Duplicates: dropped with a warning, rows left in sorted order (np.unique).
  const warnings: string[] = [];
  const d = parsePoseLabels([line(0, 2, 0.9), line(0, 2, 0.1), line(0, 2, 0.9)].join('\n'), 'dup.txt', KS, 1, (m) => warnings.push(m));
  t.equal(d.cls.length, 2);
  t.equal(d.keypoints[0], Math.fround(0.1));
  t.match(warnings[0], /dup\.txt: 1 duplicate labels removed/);
  // (x, y) keypoints get visibility 1.
  const two = parsePoseLabels('0 0.5 0.5 0.2 0.2 0.1 0.2 0.3 0.4', 'k2.txt', [2, 2], 1);
  t.same(Array.from(two.keypoints), [0.1, 0.2, 1, 0.3, 0.4, 1].map(Math.fround));
});

t.test('image sizes from headers', async (t) => {
  const root = tmpDataset(t);
  writeFileSync(join(root, 'a.png'), png(31, 17));
  t.same(imageSize(join(root, 'a.png')), [17, 31]);
  t.same(imageSize(join(FIX, 'images/val/000000000113.jpg')), [640, 416]);
  writeFileSync(join(root, 'x.gif'), 'GIF89a.........');
  t.throws(() => imageSize(join(root, 'x.gif')), /x\.gif: unsupported image format/);
});

/** A val split read the way the validator reads it (PoseDataset val mode over the one label scan). */
function valSplit(cfg: DatasetConfig, logs: string[] = [], bars: string[] = []) {
  return PoseDataset.fromConfig(cfg, 'val', { augment: false, log: (m) => logs.push(m), progress: { live: false, write: (s) => bars.push(s) } });
}

t.test('val splits: counts, and the bad-input warnings and errors (as get_labels)', async (t) => {
  const root = tmpDataset(t);
  for (const f of ['images', 'labels']) cpSync(join(FIX, f, 'val'), join(root, f, 'val'), { recursive: true });
  const split = valSplit(loadDatasetYaml(join(root, 'data.yaml'))).scan!;
  t.equal(split.labels.length, 4);
  t.equal(split.nInstances, 14);
  t.equal(split.nm, 0);
  t.equal(split.cachePath, join(root, 'labels/val.cache'), 'val.cache beside the labels, as labels/train.cache');
  t.ok(existsSync(split.cachePath));

  // No labels at all: Ultralytics' two warnings (cache_labels, get_labels), not an error; the
  // validator ends with "no labels found in pose set" (test/val/classes.test.ts).
  const r1 = tmpDataset(t);
  writeFileSync(join(r1, 'images/val/a.png'), png(20, 20));
  const logs1: string[] = [], bars1: string[] = [];
  const s1 = valSplit(loadDatasetYaml(join(r1, 'data.yaml')), logs1, bars1).scan!;
  t.equal(s1.nm, 1);
  t.match(bars1.join(''), new RegExp(`^val: Scanning ${join(r1, 'labels/val')}\\.\\.\\. 0 images, 1 backgrounds, 0 corrupt`));
  t.match(logs1.join('\n'), new RegExp(`val: WARNING ⚠️ No labels found in ${join(r1, 'labels/val.cache')}\\. See https://docs\\.ultralytics\\.com/datasets`));
  t.match(logs1.join('\n'), /WARNING ⚠️ No labels found in .*labels\/val\.cache, training may not work correctly/);

  // An image list naming a file that does not exist: corrupt, and nothing left is an error.
  const r3 = tmpDataset(t, 'train: l.txt\nval: l.txt\nkpt_shape: [17, 3]\nnames: {0: p}\n');
  writeFileSync(join(r3, 'l.txt'), './images/val/missing.png\n');
  const logs3: string[] = [];
  t.throws(() => valSplit(loadDatasetYaml(join(r3, 'data.yaml')), logs3), /val: no usable images in .*l\.txt: all 1 are corrupt, e\.g\. .*missing\.png.*not found/);
  t.match(logs3.join('\n'), /val: WARNING ⚠️ .*missing\.png: ignoring corrupt image\/label: .*missing\.png: image file not found/);
  t.match(logs3.join('\n'), /WARNING ⚠️ No images found in .*labels\/val\.cache, training may not work correctly/);

  // Some images without label files: background images, counted in the scan line.
  const r4 = tmpDataset(t);
  writeFileSync(join(r4, 'images/val/a.png'), png(20, 20));
  writeFileSync(join(r4, 'images/val/b.png'), png(20, 20));
  writeFileSync(join(r4, 'labels/val/a.txt'), line(0));
  const bars4: string[] = [];
  const s4 = valSplit(loadDatasetYaml(join(r4, 'data.yaml')), [], bars4).scan!;
  t.equal(s4.nm, 1);
  t.equal(s4.labels.length, 2);
  t.match(bars4.join(''), /^val: Scanning .*labels\/val\.\.\. 1 images, 1 backgrounds, 0 corrupt: 100%/);
});
