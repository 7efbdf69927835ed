// tasks/data/loader.ts and prefetch.ts: batches in Ultralytics' collate layout, seeded and
// deterministic, close_mosaic, rect val batches, the worker prefetch, and bad input that is skipped
// with a message instead of stopping an epoch.
import t from 'tap';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { getRngState, random, seed } from '../../engine/random.js';
import { loadDatasetYaml } from '../../tasks/data/dataset.js';
import { encodePNG, readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';
import { PoseDataset, rectBatches, type LoaderOptions, type PoseBatch } from '../../tasks/data/loader.js';
import { BatchPrefetcher } from '../../tasks/data/prefetch.js';
import { resizeBilinear } from '../../tasks/data/resize.js';

const COCO = join(import.meta.dirname, '../../data/coco8-pose');
const quiet = { labelCache: false, cache: 'ram', log: () => {}, progress: { live: false, write: () => {} } } satisfies LoaderOptions;

/** A private copy of coco8-pose (scans would otherwise write label caches into the repository). */
function coco(t: Test): string {
  const root = mkdtempSync(join(tmpdir(), 'coco8-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  cpSync(COCO, root, { recursive: true });
  return root;
}
const md5 = (b: PoseBatch) => {
  const h = createHash('md5');
  for (const a of [b.images, b.batchIdx, b.cls, b.bboxes, b.keypoints]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.update(b.imFiles.join()).digest('hex');
};
const epochMd5 = (ds: PoseDataset, e: number) => [...ds.batches(e)].map(md5);

t.test('train batches: collate layout and values', async (t) => {
  const cfg = loadDatasetYaml(join(coco(t), 'coco8-pose.yaml'));
  const ds = PoseDataset.fromConfig(cfg, 'train', { ...quiet, imgsz: 96, batch: 3 });
  t.equal(ds.length, 4);
  t.equal(ds.numBatches, 2);
  const batches = [...ds.batches(0)];
  t.same(batches.map((b) => b.shape), [[3, 3, 96, 96], [1, 3, 96, 96]], 'the last batch is short (drop_last=False)');
  for (const b of batches) {
    const N = b.cls.length;
    t.ok(N > 0);
    t.same([b.batchIdx.length, b.bboxes.length, b.keypoints.length], [N, N * 4, N * 17 * 3], 'batch_idx (N), cls (N, 1), bboxes (N, 4), keypoints (N, 17, 3)');
    t.ok(b.batchIdx.every((v, i) => i === 0 || v >= b.batchIdx[i - 1]) && b.batchIdx.every((v) => v < b.shape[0]), 'batch_idx: the image of each object, ascending');
    t.ok(b.images.every((v) => v >= 0 && v <= 1), 'images in [0, 1]');
    t.ok(b.bboxes.every((v) => v >= 0 && v <= 1), 'normalized xywh');
    t.ok(b.keypoints.every((v, i) => (i % 3 === 2 ? [0, 1, 2].includes(v) : v >= 0 && v <= 1)), 'normalized keypoints, visibility 0/1/2');
    t.equal(b.imFiles.length, b.shape[0]);
  }
});

t.test('seeded: the same batches every run, per epoch, untouched by the global generator', async (t) => {
  const cfg = loadDatasetYaml(join(coco(t), 'coco8-pose.yaml'));
  const make = (s: number) => PoseDataset.fromConfig(cfg, 'train', { ...quiet, imgsz: 64, batch: 2, seed: s });
  seed(123);
  const before = getRngState();
  const a0 = epochMd5(make(0), 0);
  t.same(getRngState(), before, 'the global generator state is left as it was');
  random(); // other users drawing in between change nothing
  t.same(epochMd5(make(0), 0), a0, 'seed 0, epoch 0: identical');
  const ds = make(0);
  const e1 = epochMd5(ds, 1);
  t.same(epochMd5(ds, 0), a0, 'an epoch does not depend on the epochs before it (resume)');
  t.notSame(e1, a0, 'epoch 1 differs');
  t.notSame(epochMd5(make(1), 0), a0, 'seed 1 differs');
});

t.test('bgr: the same sample with red and blue swapped', async (t) => {
  const cfg = loadDatasetYaml(join(coco(t), 'coco8-pose.yaml'));
  const [rgb] = [...PoseDataset.fromConfig(cfg, 'train', { ...quiet, imgsz: 64, batch: 4 }).batches(0)];
  const [bgr] = [...PoseDataset.fromConfig(cfg, 'train', { ...quiet, imgsz: 64, batch: 4, hyp: { bgr: 1 } }).batches(0)];
  const plane = 64 * 64;
  for (let b = 0; b < 4; b++) {
    const o = b * 3 * plane;
    t.same([bgr.images.subarray(o, o + plane), bgr.images.subarray(o + 2 * plane, o + 3 * plane)], [rgb.images.subarray(o + 2 * plane, o + 3 * plane), rgb.images.subarray(o, o + plane)]);
  }
  t.same(bgr.bboxes, rgb.bboxes);
});

t.test('copy_paste: a no-op on pose data, as in Ultralytics 8.2.82 (CopyPaste needs segments)', async (t) => {
  // checked against Ultralytics: YOLODataset(task='pose') items with copy_paste=1.0 equal those with 0.0
  const cfg = loadDatasetYaml(join(coco(t), 'coco8-pose.yaml'));
  const [a] = [...PoseDataset.fromConfig(cfg, 'train', { ...quiet, imgsz: 64, batch: 4 }).batches(0)];
  const [b] = [...PoseDataset.fromConfig(cfg, 'train', { ...quiet, imgsz: 64, batch: 4, hyp: { copy_paste: 1 } }).batches(0)];
  t.same(b.images, a.images);
  t.same(b.keypoints, a.keypoints);
});

t.test('close_mosaic: off for the last epochs (never when close_mosaic > epochs, as Ultralytics)', async (t) => {
  const cfg = loadDatasetYaml(join(coco(t), 'coco8-pose.yaml'));
  const ds = PoseDataset.fromConfig(cfg, 'train', { ...quiet, imgsz: 64, batch: 4, epochs: 5, hyp: { close_mosaic: 2 } });
  t.same([0, 1, 2, 3, 4].map((e) => ds.mosaicActive(e)), [true, true, true, false, false]);
  const long = PoseDataset.fromConfig(cfg, 'train', { ...quiet, imgsz: 64, epochs: 3 });
  t.same([0, 1, 2].map((e) => long.mosaicActive(e)), [true, true, true], 'epochs 3 - close_mosaic 10 < 0: the epoch never comes');
  t.notOk(PoseDataset.fromConfig(cfg, 'train', { ...quiet, imgsz: 64, hyp: { mosaic: 0 } }).mosaicActive(0));
});

t.test('augmentation off: a train batch is the letterboxed image and its labels', async (t) => {
  const root = coco(t);
  const cfg = loadDatasetYaml(join(root, 'coco8-pose.yaml'));
  const hyp = { mosaic: 0, fliplr: 0, hsv_h: 0, hsv_s: 0, hsv_v: 0, translate: 0, scale: 0 };
  const ds = PoseDataset.fromConfig(cfg, 'train', { ...quiet, imgsz: 128, batch: 4, hyp, shuffle: false });
  const [b] = [...ds.batches(0)];
  t.same(b.imFiles.map((f) => f.slice(-16)), ['000000000036.jpg', '000000000049.jpg', '000000000077.jpg', '000000000086.jpg']);
  // image 1: 000000000049.jpg, 381x500 -> 98x128 -> letterboxed to 128x128
  const im = readImage(b.imFiles[1]);
  const r = 128 / Math.max(im.width, im.height);
  const lb = letterbox(resizeBilinear(im, Math.ceil(im.width * r), Math.ceil(im.height * r)), { newShape: 128 });
  t.same(b.images.subarray(3 * 128 * 128, 2 * 3 * 128 * 128), toCHWFloat(lb.image), 'pixels: load_image + LetterBox, nothing else');
  t.same(b.resizedShapes[1], [128, 98]);
  t.same(b.oriShapes[1], [500, 381]);
  // its labels: x shrinks into the unpadded part, y unchanged (the image fills the height)
  const text = readFileSync(join(root, 'labels/train/000000000049.txt'), 'utf8').trim().split('\n')[0].split(' ').map(Number);
  const i = b.batchIdx.indexOf(1);
  const sx = 98 / 128, px = lb.dw / 128;
  t.ok(Math.abs(b.bboxes[i * 4] - (text[1] * sx + px)) < 1e-6 && Math.abs(b.bboxes[i * 4 + 1] - text[2]) < 1e-6, 'box centre');
  t.ok(Math.abs(b.bboxes[i * 4 + 2] - text[3] * sx) < 1e-6 && Math.abs(b.bboxes[i * 4 + 3] - text[4]) < 1e-6, 'box size');
  t.ok(Math.abs(b.keypoints[i * 51] - (text[5] * sx + px)) < 1e-6 && b.keypoints[i * 51 + 2] === text[7], 'keypoint 0');
});

t.test('val: rect batches (set_rectangle) letterboxed without augmentation, ratio_pad', async (t) => {
  t.same(rectBatches([[374, 500], [480, 640], [640, 480], [640, 416]], 4, 640, 32, 0.5).shapes, [[672, 672]], 'Ultralytics gives coco8-pose val 672x672');
  const cfg = loadDatasetYaml(join(coco(t), 'coco8-pose.yaml'));
  const ds = PoseDataset.fromConfig(cfg, 'val', { ...quiet, imgsz: 160, batch: 2, augment: false });
  t.same(ds.batchShapes, [[160, 192], [192, 160]], 'wide images together, tall images together');
  const bs = [...ds.batches(0)];
  t.same(bs.map((b) => b.shape), [[2, 3, 160, 192], [2, 3, 192, 160]]);
  t.same(bs.flatMap((b) => b.imFiles.map((f) => f.slice(-7, -4))), ['136', '110', '151', '113'], 'sorted by aspect ratio h/w: 0.748, 0.75, 1.33, 1.54');
  t.same(bs[0].ratioPad[0], { ratio: [120 / 374, 0.32], pad: [16, 20] });
  t.same(epochMd5(ds, 0), epochMd5(ds, 3), 'no randomness in val');
  t.equal(bs.reduce((s, b) => s + b.cls.length, 0), 14, 'all 14 val persons');
});

t.test('val: an image that fails to decode is left out of its batch and reported, never replaced', async (t) => {
  const root = coco(t);
  // an arithmetic-coded JPEG: its header passes the scan, only decoding refuses it
  const jpg = Buffer.from(readFileSync(join(root, 'images/val/000000000110.jpg')));
  jpg[jpg.indexOf(Buffer.from([0xff, 0xc0])) + 1] = 0xc9;
  writeFileSync(join(root, 'images/val/000000000110.jpg'), jpg);
  const bad: string[] = [];
  const cfg = loadDatasetYaml(join(root, 'coco8-pose.yaml'));
  const ds = PoseDataset.fromConfig(cfg, 'val', { ...quiet, imgsz: 160, batch: 2, augment: false, onBadImage: (e) => bad.push(e.file) });
  const bs = [...ds.batches(0)];
  t.same(bs.map((b) => b.shape), [[1, 3, 160, 192], [2, 3, 192, 160]], 'the first batch keeps its rect shape with one image');
  t.same(bs[0].imFiles.map((f) => f.slice(-7, -4)), ['136']);
  t.same(bs[0].ratioPad.length, 1);
  t.ok(bs[0].batchIdx.every((b) => b === 0), 'targets only for the image that decoded');
  t.same(bad, [join(root, 'images/val/000000000110.jpg')]);
  // square batches without rect (a fixed-input export): file order, imgsz x imgsz, the last one partial
  const sq = PoseDataset.fromConfig(cfg, 'val', { ...quiet, imgsz: 160, batch: 3, augment: false, rect: false, onBadImage: () => {} });
  t.same([...sq.batches(0)].map((b) => [b.shape, b.imFiles.map((f) => f.slice(-7, -4))]), [
    [[2, 3, 160, 160], ['113', '136']],
    [[1, 3, 160, 160], ['151']],
  ]);
});

t.test('prefetch on a worker thread: the same batches', async (t) => {
  const cfg = loadDatasetYaml(join(coco(t), 'coco8-pose.yaml'));
  const ds = PoseDataset.fromConfig(cfg, 'train', { ...quiet, imgsz: 64, batch: 2, seed: 3 });
  const pf = new BatchPrefetcher(ds, 2);
  t.teardown(() => pf.close());
  for (const e of [0, 1]) {
    const got: string[] = [];
    for await (const b of pf.epoch(e)) got.push(md5(b));
    t.same(got, epochMd5(ds, e), `epoch ${e}`);
  }
  // leaving an epoch early, then reading the next one
  for await (const _ of pf.epoch(0)) break;
  const again: string[] = [];
  for await (const b of pf.epoch(1)) again.push(md5(b));
  t.same(again, epochMd5(ds, 1), 'after an abandoned epoch');
});

t.test('bad input: reported with file and line, skipped, never a crash', async (t) => {
  const root = coco(t);
  const lab = (n: string) => join(root, 'labels/train', `${n}.txt`);
  const good = readFileSync(lab('000000000036'), 'utf8');
  writeFileSync(lab('000000000049'), good + '0 0.5 0.5 0.1 0.1 0.2 0.2 2\n'); // wrong keypoint count on line 2
  writeFileSync(lab('000000000077'), good.replace(/^(\S+ \S+ \S+ \S+ \S+) \S+/, '$1 1.7')); // keypoint x > 1
  rmSync(lab('000000000086')); // no label file: background
  // a PNG whose header is fine but whose pixel data is damaged: the scan reads its CRCs (as PIL's verify)
  const png = encodePNG({ width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(80) });
  png.fill(7, 45, png.length - 20);
  writeFileSync(join(root, 'images/train/damaged.png'), png);
  writeFileSync(lab('damaged'), good);
  // an arithmetic-coded JPEG: its header passes the scan, only decoding refuses it
  const jpg = Buffer.from(readFileSync(join(root, 'images/train/000000000036.jpg')));
  jpg[jpg.indexOf(Buffer.from([0xff, 0xc0])) + 1] = 0xc9;
  writeFileSync(join(root, 'images/train/broken.jpg'), jpg);
  writeFileSync(lab('broken'), good);
  const logs: string[] = [];
  const cfg = loadDatasetYaml(join(root, 'coco8-pose.yaml'));
  const ds = PoseDataset.fromConfig(cfg, 'train', { ...quiet, log: (m) => logs.push(m), imgsz: 64, batch: 2 });
  const text = logs.join('\n');
  t.match(text, /000000000049\.jpg: ignoring corrupt image\/label: .*000000000049\.txt:2: 8 values, but kpt_shape \[17, 3\] needs 56/);
  t.match(text, /000000000077\.txt:1: keypoint 0 x = 1\.7 is not normalized/);
  t.match(text, /damaged\.png: ignoring corrupt image\/label: .*damaged\.png: corrupt PNG data \(bad CRC in the IDAT chunk/);
  t.equal(ds.length, 3, '3 corrupt images skipped; the background image and the broken one stay');
  let n = 0;
  for (const b of ds.batches(0)) n += b.shape[0];
  t.equal(n, 3, 'the epoch completes');
  t.match(logs.join('\n'), /broken\.jpg.*the image is skipped/);

  // a yaml without `train:` names the key and the file
  writeFileSync(join(root, 'bad.yaml'), 'val: images/val\nkpt_shape: [17, 3]\nnames: {0: person}\n');
  t.throws(() => loadDatasetYaml(join(root, 'bad.yaml')), { message: /bad\.yaml: 'train:' key missing/ });
  // 'validation:' is accepted for 'val:' as in check_det_dataset
  writeFileSync(join(root, 'alias.yaml'), 'train: images/train\nvalidation: images/val\nkpt_shape: [17, 3]\nnames: {0: person}\n');
  t.equal(loadDatasetYaml(join(root, 'alias.yaml')).val, join(root, 'images/val'));
  // no flip_idx: fliplr is switched off with a warning (keypoints could not be mirrored)
  writeFileSync(join(root, 'noflip.yaml'), 'train: images/train\nval: images/val\nkpt_shape: [17, 3]\nnames: {0: person}\n');
  const warn: string[] = [];
  const nf = PoseDataset.fromConfig(loadDatasetYaml(join(root, 'noflip.yaml')), 'train', { ...quiet, log: (m) => warn.push(m), imgsz: 64 });
  t.equal(nf.hyp.fliplr, 0);
  t.match(warn.join('\n'), /no 'flip_idx'.*fliplr=0\.0/);
  // a split where every image is corrupt: a clear error, not an empty loader
  for (const n of ['000000000036', '000000000049', '000000000077', '000000000086', 'broken', 'damaged']) writeFileSync(lab(n), 'x y z');
  t.throws(() => PoseDataset.fromConfig(cfg, 'train', quiet), /no usable images in .*images\/train: all 6 are corrupt/);
});
