// cache=disk's .npy files: byte-identical to what Ultralytics' np.save writes (fixture from
// gen_formats.py), read back to the same pixels, and a training loader that uses them.
import t from 'tap';
import { existsSync, readFileSync, readdirSync, cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeNpyImage, encodeNpyImage, npyPath, readThroughNpy } from '../../tasks/data/npy.js';
import { readImage } from '../../tasks/data/image.js';
import { loadDatasetYaml } from '../../tasks/data/dataset.js';
import { PoseDataset } from '../../tasks/data/loader.js';

const DIR = fileURLToPath(new URL('../fixtures/images/formats', import.meta.url));

t.test("our .npy equals np.save's byte for byte, and reads back", async (t) => {
  const img = readImage(join(DIR, 'rgb24.bmp'));
  const ref = readFileSync(join(DIR, 'rgb24.npy'));
  t.same(Buffer.from(encodeNpyImage(img)), ref, 'identical bytes');
  t.same(decodeNpyImage(ref, 'rgb24.npy'), img);
  t.throws(() => decodeNpyImage(ref.subarray(0, 100), 'cut.npy'), /cut.npy: truncated .npy data/);
  const f32 = Buffer.from(ref);
  f32.write("'<f4'", f32.indexOf("'|u1'"), 'latin1');
  t.throws(() => decodeNpyImage(f32, 'f.npy'), /f.npy: expected a uint8 \(H, W, 3\)/);
});

t.test('cache=disk in the loader: <image>.npy written on first load, then read instead of the image', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npy-'));
  cpSync(fileURLToPath(new URL('../fixtures/val/coco8-pose', import.meta.url)), dir, { recursive: true });
  const cfg = loadDatasetYaml(join(dir, 'coco8-pose.yaml'));
  const ds = PoseDataset.fromConfig(cfg, 'train', { imgsz: 64, batch: 4, augment: false, rect: false, cache: 'disk', log: () => {}, progress: { write: () => {}, live: false } });
  const first = [];
  for await (const b of ds.batches(0)) first.push(Float32Array.from(b.images));
  const imgs = readdirSync(join(dir, 'images', 'val')).filter((f) => f.endsWith('.jpg'));
  for (const f of imgs) t.ok(existsSync(npyPath(join(dir, 'images', 'val', f))), `${f}: .npy written`);
  t.same(decodeNpyImage(readFileSync(npyPath(join(dir, 'images', 'val', imgs[0]))), 'x'), readImage(join(dir, 'images', 'val', imgs[0])), 'the .npy holds the decoded image');
  // the .npy is what is read now: black ones give black batches
  for (const f of imgs) {
    const im = readImage(join(dir, 'images', 'val', f));
    writeFileSync(npyPath(join(dir, 'images', 'val', f)), encodeNpyImage({ ...im, data: new Uint8Array(im.data.length) }));
  }
  const ds2 = PoseDataset.fromConfig(cfg, 'train', { imgsz: 64, batch: 4, augment: false, rect: false, cache: 'disk', labelCache: true, log: () => {}, progress: { write: () => {}, live: false } });
  const second = [];
  for await (const b of ds2.batches(0)) second.push(Float32Array.from(b.images));
  t.ok(first.some((b) => b.some((v) => v > 0.6)), 'the images have bright pixels');
  t.ok(second.every((b) => b.every((v) => v <= 114 / 255 + 1e-6)), 'read from the black .npy files (only letterbox grey 114 and black)');
  t.same(readThroughNpy(join(dir, 'images', 'val', imgs[0]), () => { throw new Error('not decoded'); }).width > 0, true);
});
