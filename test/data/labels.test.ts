// tasks/data/labels.ts (verify_image_label), cache.ts (the scan, its counts, the label cache) and
// tasks/progress.ts (the tqdm-style line). Bad input is reported with file and line and skipped.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { labelCachePath, scanLabels } from '../../tasks/data/cache.js';
import { encodeJPEG, encodePNG } from '../../tasks/data/image.js';
import { labelPath, verifyImageLabel } from '../../tasks/data/labels.js';
import { formatBar, formatInterval, formatProgress, ProgressBar } from '../../tasks/progress.js';

const KS: [number, number] = [17, 3];
const line = (cls = 0, kx = 0.5, kv = 2) => [cls, 0.5, 0.5, 0.2, 0.3, ...Array.from({ length: 17 }, () => [kx, 0.4, kv]).flat()].join(' ');
const png = (w: number, h: number) => encodePNG({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(90) });

function tmpRoot(t: Test): string {
  const root = mkdtempSync(join(tmpdir(), 'labels-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const d of ['images/train', 'labels/train']) mkdirSync(join(root, d), { recursive: true });
  return root;
}

/** Writes images/train/<name>.png (+ a label file unless `label` is null). */
function add(root: string, name: string, label: string | null, img: Uint8Array = png(20, 16)): string {
  const im = join(root, 'images/train', `${name}.png`);
  writeFileSync(im, img);
  if (label !== null) writeFileSync(join(root, 'labels/train', `${name}.txt`), label);
  return im;
}

t.test('img2label_paths', async (t) => {
  t.equal(labelPath('/d/images/train/a.b.jpg'), '/d/labels/train/a.b.txt');
  t.equal(labelPath('/images/x/images/v/1.png'), '/images/x/labels/v/1.txt', 'only the last /images/');
  t.equal(labelPath('/d/pics/a.jpg'), '/d/pics/a.txt', 'no /images/: beside the image');
});

t.test('verify_image_label: good, background and corrupt cases, never a throw', async (t) => {
  const root = tmpRoot(t);
  const v = (name: string) => verifyImageLabel(join(root, 'images/train', `${name}.png`), join(root, 'labels/train', `${name}.txt`), KS, 1, 'train: ');

  add(root, 'ok', `${line()}\n${line(0, 0.25)}\n`);
  const ok = v('ok');
  t.same([ok.nf, ok.nm, ok.ne, ok.nc, ok.msg], [1, 0, 0, 0, '']);
  t.same(ok.entry!.shape, [16, 20], '(h, w) from the header');
  t.equal(ok.entry!.cls.length, 2);

  add(root, 'nolabel', null);
  t.same([v('nolabel').nm, v('nolabel').nc, v('nolabel').entry!.cls.length], [1, 0, 0], 'missing label file = background');
  add(root, 'empty', '\n');
  t.same([v('empty').nf, v('empty').ne, v('empty').nc], [1, 1, 0], 'empty label file = background');

  const corrupt = (name: string, label: string | null, re: RegExp, img?: Uint8Array) => {
    add(root, name, label, img);
    const r = v(name);
    t.equal(r.entry, null, `${name}: skipped`);
    t.equal(r.nc, 1);
    t.match(r.msg, re, `${name}: ${r.msg}`);
  };
  corrupt('cols', `${line()}\n0 0.5 0.5 0.2 0.2 0.1 0.1 2`, /^train: WARNING ⚠️ .*cols\.png: ignoring corrupt image\/label: .*cols\.txt:2: 8 values, but kpt_shape \[17, 3\] needs 56/);
  corrupt('big', line(0, 1.5), /big\.txt:1: keypoint 0 x = 1\.5 is not normalized/);
  corrupt('neg', line().replace(' 0.2 ', ' -0.2 '), /neg\.txt:1: negative label value -0\.2/);
  corrupt('cls', line(3), /cls\.txt:1: class 3 is not one of the dataset's 1 classes/);
  corrupt('nan', line().replace('0.3', 'abc'), /nan\.txt:1: value 5 \('abc'\) is not a number/);
  corrupt('tiny', line(), /tiny\.png: image size 9x16 is below 10 pixels/, png(9, 16));
  corrupt('gif', line(), /gif\.png: unsupported image format/, new TextEncoder().encode('GIF89a........'));
  const jpg = encodeJPEG({ width: 16, height: 16, data: new Uint8Array(16 * 16 * 3).fill(50) });
  corrupt('noeoi', line(), /noeoi\.png: corrupt JPEG \(no end-of-image marker/, jpg.subarray(0, jpg.length - 2));
  corrupt('trunc', line(), /trunc\.png: truncated JPEG data/, jpg.subarray(0, 100));
  const gone = verifyImageLabel(join(root, 'images/train/ghost.png'), join(root, 'labels/train/ghost.txt'), KS, 1);
  t.match([gone.nc, gone.msg], [1, /ghost\.png: image file not found/]);

  // A box value above 1 is allowed (Ultralytics checks only keypoint coordinates); a keypoint at 1.0 too.
  add(root, 'edge', line(0, 1.0).replace('0.2 0.3', '1.2 0.3'));
  t.equal(v('edge').nc, 0);
  // Duplicate rows: dropped, one message naming the label file.
  add(root, 'dup', [line(), line(), line(0, 0.1)].join('\n'));
  const d = v('dup');
  t.equal(d.entry!.cls.length, 2);
  t.match(d.msg, /dup\.txt: 1 duplicate labels removed/);
});

t.test('scan: counts, progress line, messages; corrupt images skipped', async (t) => {
  const root = tmpRoot(t);
  const ims = [add(root, 'a', line()), add(root, 'b', null), add(root, 'c', ''), add(root, 'd', 'garbage line'), add(root, 'e', `${line()}\n${line(0, 0.3)}`)];
  const out: string[] = [], logs: string[] = [];
  const scan = scanLabels(ims, { kptShape: KS, nc: 1, prefix: 'train: ', log: (m) => logs.push(m), progress: { write: (s) => out.push(s), live: false } });
  t.same([scan.nf, scan.nm, scan.ne, scan.nc, scan.n], [4, 1, 1, 1, 5]);
  t.same(scan.labels.map((l) => l.imFile.slice(-5)), ['a.png', 'b.png', 'c.png', 'e.png'], 'the corrupt image is left out');
  t.equal(out.length, 1, 'not a terminal: one final line');
  t.match(out[0], new RegExp(`^train: Scanning ${join(root, 'labels/train')}\\.\\.\\. 4 images, 2 backgrounds, 1 corrupt: 100%\\|██████████\\| 5/5 \\[00:00<00:00, +[\\d.]+it/s\\]\\n$`));
  t.match(logs.join('\n'), /train: WARNING ⚠️ .*d\.png: ignoring corrupt image\/label: .*d\.txt:1: 2 values/);
  t.match(scan.corrupt, [/^\/.*labels\/train\/d\.txt:1: 2 values/], 'the reason for each skipped image, naming the file and line');
  t.equal(scan.nInstances, 3);
  t.match(logs.join('\n'), /New cache created: .*labels\/train\.cache/);
  t.equal(scan.cachePath, join(root, 'labels/train.cache'));
  t.equal(labelCachePath([join(root, 'labels/train/a.txt')]), join(root, 'labels/train.cache'));

  // Second scan: from the cache, same labels, the line names the cache file.
  out.length = 0;
  logs.length = 0;
  const again = scanLabels(ims, { kptShape: KS, nc: 1, prefix: 'train: ', log: (m) => logs.push(m), progress: { write: (s) => out.push(s), live: false } });
  t.ok(again.fromCache);
  t.same(again.labels.map((l) => [l.imFile, l.shape, [...l.cls], [...l.bboxes], [...l.keypoints]]), scan.labels.map((l) => [l.imFile, l.shape, [...l.cls], [...l.bboxes], [...l.keypoints]]));
  t.match(out[0], /^train: Scanning .*labels\/train\.cache\.\.\. 4 images, 2 backgrounds, 1 corrupt: 100%\|██████████\| 5\/5 \[00:00<\?, \?it\/s\]/);
  t.match(logs.join('\n'), /d\.txt:1/, 'messages are kept in the cache');
  t.same([again.corrupt, again.nInstances], [scan.corrupt, 3]);

  // A changed label file (size/mtime) invalidates it.
  writeFileSync(join(root, 'labels/train/d.txt'), line());
  utimesSync(join(root, 'labels/train/d.txt'), new Date(), new Date(Date.now() + 5000));
  const fixed = scanLabels(ims, { kptShape: KS, nc: 1, log: () => {}, progress: { write: () => {}, live: false } });
  t.notOk(fixed.fromCache, 'rescanned after a label file changed');
  t.same([fixed.nf, fixed.nm, fixed.nc], [4, 1, 0]);
  // A new label file where there was none (b) invalidates it too; so does another kpt_shape.
  writeFileSync(join(root, 'labels/train/b.txt'), line());
  t.notOk(scanLabels(ims, { kptShape: KS, nc: 1, log: () => {}, progress: { live: false, write: () => {} } }).fromCache);
  t.notOk(scanLabels(ims, { kptShape: [17, 2], nc: 1, log: () => {}, progress: { live: false, write: () => {} } }).fromCache);
  // A damaged cache file is ignored and rewritten.
  writeFileSync(join(root, 'labels/train.cache'), '{"version": "yolo-ts-labels-1", "hash": ');
  const healed = scanLabels(ims, { kptShape: [17, 2], nc: 1, log: () => {}, progress: { live: false, write: () => {} } });
  t.notOk(healed.fromCache);
  t.doesNotThrow(() => JSON.parse(readFileSync(join(root, 'labels/train.cache'), 'utf8')));
  // cache: false leaves no file.
  rmSync(join(root, 'labels/train.cache'));
  scanLabels(ims, { kptShape: KS, nc: 1, cache: false, log: () => {}, progress: { live: false, write: () => {} } });
  t.notOk(existsSync(join(root, 'labels/train.cache')));
});

t.test('progress line: tqdm numbers', async (t) => {
  t.equal(formatInterval(0.4), '00:00');
  t.equal(formatInterval(61), '01:01');
  t.equal(formatInterval(3725), '1:02:05');
  t.equal(formatBar(0, 10), ' '.repeat(10));
  t.equal(formatBar(0.5, 10), '█████     ');
  t.equal(formatBar(0.55, 10), '█████▌    ');
  t.equal(formatBar(1, 10), '██████████');
  t.equal(formatProgress('x', 3, 8, 1.5, 3), 'x:  38%|███▊      | 3/8 [00:01<00:02,  2.00it/s]');
  t.equal(formatProgress('x', 1, 8, 4, 1), 'x:  12%|█▎        | 1/8 [00:04<00:28,  4.00s/it]');
  t.equal(formatProgress('', 5, undefined, 2, 5), '5it [00:02,  2.50it/s]');

  // Live: redrawn in place with \r, throttled, final line with a newline.
  let now = 0;
  const out: string[] = [];
  const bar = new ProgressBar(4, { desc: 'epoch', live: true, write: (s) => out.push(s), now: () => now });
  now = 0.05;
  bar.update();
  now = 0.5;
  bar.update();
  bar.setDesc('epoch 1/1');
  bar.update(2);
  bar.close();
  bar.close();
  t.equal(out.length, 4, 'start, one update after the 0.1 s throttle, the last item, close');
  t.match(out[1], /^\repoch:  50%\|█████     \| 2\/4 \[00:00<00:00,  4\.00it\/s\]\x1b\[K$/);
  t.match(out[3], /^\repoch 1\/1: 100%\|██████████\| 4\/4 .*\n$/);
});
