// Sources: file, directory (sorted, image extensions only), glob, .txt list, list, URL (downloaded
// once into the cache, from a local server), in-memory RGB; bad entries fail alone, naming the file.
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { globFiles, loadSource } from '../../tasks/predict/sources.js';
import { FIXTURES } from './reference.js';
import { serve } from './http.js';

const img = FIXTURES + 'images/000000000136.jpg';
const dir = mkdtempSync(join(tmpdir(), 'src-'));
copyFileSync(img, join(dir, 'b.jpg'));
copyFileSync(img, join(dir, 'a.JPG'));
writeFileSync(join(dir, 'c.png'), readFileSync(img).subarray(0, 4000)); // JPEG bytes named .png, truncated
writeFileSync(join(dir, 'notes.txt'), 'not an image');
mkdirSync(join(dir, 'sub'));
copyFileSync(img, join(dir, 'sub', 'd.jpg'));
writeFileSync(join(dir, '.hidden.jpg'), '');

t.test('file and directory', async (t) => {
  const one = await loadSource(join(dir, 'b.jpg'));
  t.same([one.single, one.items.length, one.items[0].path], [true, 1, join(dir, 'b.jpg')]);
  t.same(one.items[0].load().width, 500, 'decoded on demand');
  const d = await loadSource(dir);
  t.same(
    d.items.map((i) => i.path),
    ['a.JPG', 'b.jpg', 'c.png'].map((n) => join(dir, n)),
    'image files only, sorted, not recursive, no dot files',
  );
  t.throws(
    () => d.items[2].load(),
    new RegExp(`${join(dir, 'c.png').replace(/[.]/g, '\\.')}: truncated JPEG data`),
    'a bad file fails alone, naming itself',
  );
  await t.rejects(loadSource(join(dir, 'nope.jpg')), /nope\.jpg: file not found/);
  await t.rejects(loadSource(join(dir, 'sub', 'empty')), /file not found/);
  mkdirSync(join(dir, 'none'));
  await t.rejects(loadSource(join(dir, 'none')), /no images found in this directory/);
});

t.test('glob', async (t) => {
  t.same(
    (await loadSource(join(dir, '*.jpg'))).items.map((i) => i.path),
    [join(dir, 'b.jpg')],
    'case-sensitive like Python glob; dot files skipped',
  );
  t.same(globFiles(join(dir, '**', '*.jpg')), [join(dir, 'b.jpg'), join(dir, 'sub', 'd.jpg')], '** matches any depth');
  t.same(globFiles(join(dir, '[ab].*')), [join(dir, 'a.JPG'), join(dir, 'b.jpg')], 'character classes');
  await t.rejects(loadSource(join(dir, '*.bmp')), /no images match this pattern/);
});

t.test('lists, .txt lists and in-memory images', async (t) => {
  const rgb = { width: 2, height: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6]) };
  const l = await loadSource([join(dir, 'b.jpg'), join(dir, 'missing.jpg'), rgb, dir]);
  t.equal(l.single, false);
  t.same(
    l.items.map((i) => i.path),
    [
      join(dir, 'b.jpg'),
      join(dir, 'missing.jpg'),
      'image2.jpg',
      join(dir, 'a.JPG'),
      join(dir, 'b.jpg'),
      join(dir, 'c.png'),
    ],
    'in order; folders expand in place',
  );
  t.throws(() => l.items[1].load(), /missing\.jpg: file not found/, 'a missing list entry fails alone');
  t.equal(l.items[2].load(), rgb, 'in-memory RGB passes through');
  const bad = await loadSource({ width: 2, height: 2, data: new Uint8Array(3) });
  t.throws(() => bad.items[0].load(), /image0\.jpg: an in-memory image must be RGB HWC uint8/);
  writeFileSync(join(dir, 'list.txt'), 'b.jpg\nsub/d.jpg\n\n');
  t.same(
    (await loadSource(join(dir, 'list.txt'))).items.map((i) => i.path),
    [join(dir, 'b.jpg'), join(dir, 'sub', 'd.jpg')],
    '.txt: one path per line, relative to the file',
  );
  await t.rejects(loadSource([]), /empty list/);
  await t.rejects(loadSource(42 as never), /source: expected a path/);
});

t.test('http(s) URLs are downloaded once into the cache', async (t) => {
  const srv = await serve({ '/pics/person.jpg': { body: readFileSync(img) }, '/gone.jpg': { status: 404 } });
  t.teardown(() => srv.close());
  const prev = process.env.YOLO_CACHE_DIR;
  process.env.YOLO_CACHE_DIR = mkdtempSync(join(tmpdir(), 'cache-'));
  t.teardown(() => (prev === undefined ? delete process.env.YOLO_CACHE_DIR : (process.env.YOLO_CACHE_DIR = prev)));
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write; // progress lines
  t.teardown(() => (process.stderr.write = write));
  const a = await loadSource(`${srv.url}/pics/person.jpg`);
  const b = await loadSource(`${srv.url}/pics/person.jpg`);
  t.equal(srv.hits.get('/pics/person.jpg'), 1, 'one request for two uses');
  t.equal(a.items[0].path, b.items[0].path);
  t.match(a.items[0].path, /^.*cache-.*\/sources\/[0-9a-f]{12}-person\.jpg$/);
  t.equal(a.items[0].load().height, 374);
  await t.rejects(loadSource(`${srv.url}/gone.jpg`), /gone\.jpg failed: HTTP 404/);
  const l = await loadSource([`${srv.url}/gone.jpg`, `${srv.url}/pics/person.jpg`]);
  t.throws(() => l.items[0].load(), /HTTP 404/, 'in a list a failed download is one bad item');
  t.equal(l.items[1].load().width, 500);
});
