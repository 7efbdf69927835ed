// Val warns and skips like train (Ultralytics' verify_image_label): bad label lines and unreadable
// images are counted and listed, the rest is validated exactly as without them.
import t, { type Test } from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu, tensor, type Tensor } from '../../engine/index.js';
import { encodePNG } from '../../tasks/data/image.js';
import { PoseValidator, type ValModel } from '../../tasks/val/validator.js';

const FIX = join(import.meta.dirname, '../fixtures/val/coco8-pose');
const JPG = join(FIX, 'images/val/000000000110.jpg');
const kpts = Array.from({ length: 17 }, () => '0.5 0.5 2').join(' ');

function dataset(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'val-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(FIX, dir, { recursive: true });
  return dir;
}
/** A model with no detections: only the data path is under test. */
const blind: ValModel = {
  stride: [8, 16, 32],
  names: { 0: 'person' },
  kptShape: [17, 3],
  predict: (x: Tensor) => tensor(new Float32Array(x.shape[0] * 56 * 64), [x.shape[0], 56, 64], { device: cpu }),
};

t.test('bad label lines are skipped, counted and listed; the good images give the same metrics', async (t) => {
  const clean = new PoseValidator({
    data: join(FIX, 'coco8-pose.yaml'),
    imgsz: 64,
    batch: 2,
    plots: false,
    verbose: false,
  });
  const ref = await clean.run(blind, cpu);

  const dir = dataset(t);
  const bad: Record<string, string> = {
    zz_nan: `0 0.5 0.5 NaN 0.2 ${kpts}`,
    zz_cols: `0 0.5 0.5 0.2 0.2 0.5 0.5`,
    zz_class: `3 0.5 0.5 0.2 0.2 ${kpts}`,
    zz_range: `0 0.5 0.5 0.2 0.2 ${kpts.replace('0.5 0.5 2', '1.5 0.5 2')}`,
    zz_neg: `0 -0.5 0.5 0.2 0.2 ${kpts}`,
  };
  for (const [name, line] of Object.entries(bad)) {
    cpSync(JPG, join(dir, `images/val/${name}.jpg`));
    writeFileSync(join(dir, `labels/val/${name}.txt`), `0 0.5 0.5 0.2 0.2 ${kpts}\n${line}\n`);
  }
  writeFileSync(join(dir, 'images/val/zz_text.jpg'), 'not an image'); // unreadable
  const png = Buffer.from(
    encodePNG({ width: 40, height: 30, data: new Uint8Array(40 * 30 * 3).map((_, i) => (i * 7919) % 251) }),
  );
  writeFileSync(join(dir, 'images/val/zz_cut.png'), png.subarray(0, png.length - 200)); // IDAT cut short: found by the scan, as PIL's verify()
  const lines: string[] = [],
    bars: string[] = [];
  const v = new PoseValidator({
    data: join(dir, 'coco8-pose.yaml'),
    imgsz: 64,
    batch: 2,
    plots: false,
  });
  v.log = (s) => lines.push(s);
  v.progress = { write: (s) => bars.push(s), live: false };
  const r = await v.run(blind, cpu);
  const log = lines.join('\n');
  // Ultralytics' scan line: "images" counts label files found, the 5 corrupt ones included
  t.match(bars.join(''), /^val: Scanning .*labels\/val\.\.\. 9 images, 0 backgrounds, 7 corrupt: 100%/);
  t.match(log, /val: WARNING ⚠️ .*zz_nan\.jpg: ignoring corrupt image\/label: .*zz_nan\.txt:2/);
  t.match(log, /val: New cache created: .*labels\/val\.cache/);
  t.equal(r.corrupt.length, 7);
  t.match(r.corrupt.join('\n'), /zz_nan\.txt:2: value 4 \('NaN'\) is not a number/);
  t.match(r.corrupt.join('\n'), /zz_cols\.txt:2: 7 values, but kpt_shape \[17, 3\] needs 56/);
  t.match(r.corrupt.join('\n'), /zz_class\.txt:2: class 3 is not one of the dataset's 1 classes/);
  t.match(r.corrupt.join('\n'), /zz_range\.txt:2: keypoint 0 x = 1\.5 is not normalized/);
  t.match(r.corrupt.join('\n'), /zz_neg\.txt:2: negative label value -0\.5/);
  t.match(r.corrupt.join('\n'), /zz_text\.jpg: unsupported image format/);
  t.match(r.corrupt.join('\n'), /zz_cut\.png: PNG data ends at row \d+ of 30: the file is truncated/);
  t.match(log, /val: WARNING: 7 corrupt image\(s\)\/label\(s\) skipped/);
  t.equal(r.seen, ref.seen);
  t.equal(r.nInstances, ref.nInstances);
  t.same(r.resultsDict, ref.resultsDict);
});

t.test('an image that passes the header scan but fails to decode is skipped at load time', async (t) => {
  const dir = dataset(t);
  // scan-clean (header and EOI fine) but arithmetic-coded (SOF9), which only the decoder refuses
  const jpg = Buffer.from(readFileSync(JPG));
  jpg[jpg.indexOf(Buffer.from([0xff, 0xc0])) + 1] = 0xc9;
  writeFileSync(join(dir, 'images/val/zz_bad.jpg'), jpg);
  const lines: string[] = [];
  const v = new PoseValidator({
    data: join(dir, 'coco8-pose.yaml'),
    imgsz: 64,
    batch: 4,
    plots: false,
    verbose: false,
  });
  v.log = (s) => lines.push(s);
  const r = await v.run(blind, cpu);
  t.equal(r.seen, 4, 'the 4 good images were validated');
  t.equal(r.corrupt.length, 1);
  t.match(r.corrupt[0], /zz_bad\.jpg: unsupported JPEG type \(SOF marker 0xc9/);
  t.match(lines.join('\n'), /val: WARNING: .*zz_bad\.jpg: ignoring corrupt image/);
});

t.test('no image left: an error naming the split and a reason', async (t) => {
  const dir = dataset(t);
  for (const f of ['110', '113', '136', '151']) writeFileSync(join(dir, `labels/val/000000000${f}.txt`), '0 1 2\n');
  const v = new PoseValidator({ data: join(dir, 'coco8-pose.yaml'), imgsz: 64, plots: false, verbose: false });
  v.log = () => {};
  await t.rejects(
    v.run(blind, cpu),
    /val: no usable images in .*images\/val: all 4 are corrupt, e\.g\. .*000000000110\.txt:1: 3 values/,
  );
});
