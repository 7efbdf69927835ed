// A dataset yaml's `download:` zip, fetched from a local HTTP server (127.0.0.1 only) into the
// datasets dir with a progress bar, unzipped, verified, then used by val; and the zip reader's
// refusals (zip slip, CRC, truncation).
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { serve } from '../predict/http.js';
import { checkDataset } from '../../tasks/data/dataset_download.js';
import { crc32, unzip } from '../../tasks/data/unzip.js';
import { YOLO } from '../../tasks/yolo.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/val/coco8-pose', import.meta.url));

/** A minimal zip writer (deflate, one central directory), enough to build test archives. */
function makeZip(entries: [string, Uint8Array][], corruptCrc = false): Buffer {
  const locals: Buffer[] = [], centrals: Buffer[] = [];
  let off = 0;
  for (const [name, data] of entries) {
    const comp = deflateRawSync(data), n = Buffer.from(name);
    const crc = crc32(data) ^ (corruptCrc ? 1 : 0);
    const l = Buffer.alloc(30);
    l.writeUInt32LE(0x04034b50, 0); l.writeUInt16LE(20, 4); l.writeUInt16LE(8, 8); l.writeUInt32LE(crc >>> 0, 14);
    l.writeUInt32LE(comp.length, 18); l.writeUInt32LE(data.length, 22); l.writeUInt16LE(n.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0); c.writeUInt16LE(20, 4); c.writeUInt16LE(20, 6); c.writeUInt16LE(8, 10); c.writeUInt32LE(crc >>> 0, 16);
    c.writeUInt32LE(comp.length, 20); c.writeUInt32LE(data.length, 24); c.writeUInt16LE(n.length, 28); c.writeUInt32LE(off, 42);
    locals.push(l, n, comp);
    centrals.push(c, n);
    off += 30 + n.length + comp.length;
  }
  const cd = Buffer.concat(centrals), e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0); e.writeUInt16LE(entries.length, 8); e.writeUInt16LE(entries.length, 10);
  e.writeUInt32LE(cd.length, 12); e.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, e]);
}

function datasetZip(): Buffer {
  const entries: [string, Uint8Array][] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, f.name);
      if (f.isDirectory()) walk(p);
      else if (/\/(images|labels)\//.test(p)) entries.push([`dlpose/${relative(FIXTURE, p)}`, readFileSync(p)]);
    }
  };
  walk(FIXTURE);
  return makeZip(entries);
}

t.test('download: fetched with a progress bar, unzipped into datasets_dir, verified; then offline', async (t) => {
  const zip = datasetZip();
  const srv = await serve({ '/dlpose.zip': { body: zip } });
  t.teardown(() => srv.close());
  const root = mkdtempSync(join(tmpdir(), 'dl-'));
  const datasetsDir = join(root, 'datasets');
  const yaml = join(root, 'dlpose.yaml');
  writeFileSync(yaml, `path: ../datasets/dlpose\ntrain: images/val\nval: images/val\nkpt_shape: [17, 3]\nnames:\n  0: person\ndownload: ${srv.url}/dlpose.zip\n`);
  const logs: string[] = [], bars: string[] = [];
  const cfg = await checkDataset(yaml, { datasetsDir, log: (s) => logs.push(s), progressWrite: (s) => bars.push(s) });
  t.equal(cfg.path, join(datasetsDir, 'dlpose'));
  t.equal(readdirSync(join(datasetsDir, 'dlpose', 'images', 'val')).length, 4);
  t.match(logs.join('\n'), /Dataset 'dlpose.yaml' images not found ⚠️, missing path '.*dlpose\/images\/val'/);
  t.match(logs.join('\n'), /Dataset download success ✅ \([\d.]+s\), saved to /);
  t.match(bars.join(''), new RegExp(`Downloading ${srv.url}/dlpose.zip .*100%.*${zip.length}/${zip.length}`), 'a progress bar reaching 100%');
  t.notOk(existsSync(join(datasetsDir, 'dlpose.zip')), 'the zip is deleted after unzipping');
  await checkDataset(yaml, { datasetsDir, log: () => {} });
  t.equal(srv.hits.get('/dlpose.zip'), 1, 'present now: no second download');

  // val through the YOLO class uses the same check, with datasets_dir from the settings
  const configDir = mkdtempSync(join(tmpdir(), 'dl-config-'));
  process.env.YOLO_CONFIG_DIR = configDir;
  writeFileSync(join(configDir, 'settings.json'), JSON.stringify({ settings_version: '0.0.1', datasets_dir: datasetsDir, weights_dir: 'weights', runs_dir: join(root, 'runs'), uuid: '00000000-0000-0000-0000-000000000000' }));
  const r = await new YOLO('yolov8n-pose.yaml').val({ data: yaml, imgsz: 32, device: 'cpu', plots: false, verbose: false });
  t.equal(r.seen, 4, 'val ran on the downloaded images');
});

t.test('refusals: no download key, a script, zip slip, a bad CRC, a truncated archive', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'dl-bad-'));
  const y = (body: string) => { const f = join(root, `${Math.random().toString(36).slice(2)}.yaml`); writeFileSync(f, `path: ${root}/nothing\ntrain: images\nval: images\nkpt_shape: [17, 3]\nnames: {0: person}\n${body}`); return f; };
  await t.rejects(checkDataset(y(''), { datasetsDir: root, log: () => {} }), /images not found ⚠️, missing path '.*nothing\/images' and the yaml has no 'download:' URL/);
  await t.rejects(checkDataset(y('download: bash data/scripts/get_coco.sh\n'), { datasetsDir: root, log: () => {} }), /'download:' must be an http\(s\) URL of a .zip archive; download scripts are not run/);
  const dest = join(root, 'out');
  mkdirSync(dest);
  const z = (b: Buffer) => { const f = join(root, 'x.zip'); writeFileSync(f, b); return f; };
  t.throws(() => unzip(z(makeZip([['../evil.txt', Buffer.from('x')]])), dest), /entry '..\/evil.txt' would be written outside/);
  t.notOk(existsSync(join(root, 'evil.txt')));
  t.throws(() => unzip(z(makeZip([['a.txt', Buffer.from('hello')]], true)), dest), /'a.txt' fails its CRC-32 check/);
  const good = makeZip([['a.txt', Buffer.from('hello')]]);
  t.throws(() => unzip(z(good.subarray(0, good.length - 10)), dest), /no end-of-central-directory record/);
  t.same(unzip(z(good), dest), ['a.txt']);
  t.equal(readFileSync(join(dest, 'a.txt'), 'utf8'), 'hello');
});
