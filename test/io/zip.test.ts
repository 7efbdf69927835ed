import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZipReader, buildZip, crc32, writeFileAtomic, zipToBuffer } from '../../engine/io/zip.js';
import { findPython, runPython } from './python.js';

const FIX = join(import.meta.dirname, '../fixtures/io');
const entries = [
  { name: 'a/data.pkl', data: new TextEncoder().encode('pickle bytes') },
  { name: 'a/data/0', data: Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff) },
  { name: 'a/empty', data: new Uint8Array(0) },
  { name: 'a/ünïcode ✓', data: new Uint8Array([1, 2, 3]) },
];

t.test('crc32 matches the standard check value', async (t) => {
  t.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  t.equal(crc32(new Uint8Array(0)), 0);
});

t.test('writer output reads back, with data on 64-byte boundaries', async (t) => {
  for (const forceZip64 of [false, true]) {
    const buf = zipToBuffer(entries, { forceZip64 });
    const zip = new ZipReader(buf, 'mem.zip');
    t.same(
      zip.names(),
      entries.map((e) => e.name),
      `names (zip64 ${forceZip64})`,
    );
    for (const e of entries) {
      t.ok(Buffer.from(zip.read(e.name)).equals(e.data), `${e.name} (zip64 ${forceZip64})`);
      const z = zip.read(e.name);
      if (z.length) t.equal((z.byteOffset - buf.byteOffset) % 64, 0, `${e.name} aligned`);
    }
  }
  t.throws(() => buildZip([entries[0], entries[0]]), /duplicate entry name 'a\/data.pkl'/);
});

t.test("reads Python zipfile's deflate and ZIP64 entries", async (t) => {
  const zip = new ZipReader(readFileSync(join(FIX, 'zip64_deflate.zip')), 'zip64_deflate.zip');
  t.equal(zip.entries.get('a/hello.txt')!.method, 8);
  t.equal(new TextDecoder().decode(zip.read('a/hello.txt')), 'hello world\n'.repeat(100));
  t.ok(Buffer.from(zip.read('a/data.bin')).equals(Uint8Array.from({ length: 1024 }, (_, i) => i & 0xff)));
  t.equal(zip.read('a/empty').length, 0);
});

t.test("reads torch's archives (data descriptors, ZIP64 end record)", async (t) => {
  const zip = new ZipReader(readFileSync(join(FIX, 'torch_small.pt')), 'torch_small.pt');
  t.ok(zip.has('torch_small/data.pkl'));
  t.equal(new TextDecoder().decode(zip.read('torch_small/version')), '3\n');
});

const py = findPython(false);
t.test(
  'Python zipfile accepts our archives, ZIP64 included',
  { skip: py ? false : 'no python3 found: cannot cross-check with zipfile' },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'zip-test-'));
    for (const forceZip64 of [false, true]) {
      const file = join(dir, `x${forceZip64}.zip`);
      writeFileAtomic(file, buildZip(entries, { forceZip64 }));
      const r = runPython(py!, [
        '-c',
        `import zipfile, sys, json
z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None
print(json.dumps({i.filename: list(z.read(i.filename)[:5]) + [i.file_size] for i in z.infolist()}))`,
        file,
      ]);
      t.ok(r.ok, r.stderr);
      if (r.ok)
        t.same(
          JSON.parse(r.stdout),
          Object.fromEntries(entries.map((e) => [e.name, [...e.data.slice(0, 5), e.data.length]])),
          `zip64 ${forceZip64}`,
        );
    }
    t.same(readdirSync(dir).sort(), ['xfalse.zip', 'xtrue.zip'], 'atomic writes leave no temp files');
  },
);

t.test('truncated, garbled and non-zip input give clear errors', async (t) => {
  const good = zipToBuffer(entries);
  t.throws(() => new ZipReader(new Uint8Array(5), 'tiny.zip'), /tiny.zip: not a zip archive \(only 5 bytes\)/);
  t.throws(
    () => new ZipReader(good.subarray(0, good.length - 10), 'cut.zip'),
    /cut.zip: no end-of-central-directory record: not a zip archive, or truncated/,
  );
  // The end record survives but the central directory points past the data: truncated in the middle.
  const cdStart = good.length - 22 - entries.reduce((s, e) => s + 46 + new TextEncoder().encode(e.name).length, 0);
  const cut = new Uint8Array([...good.subarray(0, cdStart - 200), ...good.subarray(cdStart)]);
  t.throws(() => new ZipReader(cut, 'mid.zip'), /mid.zip: central directory/);

  const flipped = good.slice();
  const z = new ZipReader(good, 'x');
  const e = z.entries.get('a/data/0')!;
  flipped[e.localHeaderOffset + 30 + 8 + 64] ^= 0xff; // somewhere in the data
  t.throws(
    () => new ZipReader(flipped, 'flip.zip').read('a/data/0'),
    /flip.zip: .*(CRC-32 mismatch in 'a\/data\/0'|local header)/,
  );
  t.throws(() => z.read('nope'), /no entry named 'nope'/);

  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const noise = Uint8Array.from({ length: 100_000 }, rand);
  t.throws(() => new ZipReader(noise, 'noise.bin'), /noise.bin: /);

  // Every truncation and many single-byte corruptions: an Error naming the file, or a correct read.
  const names = entries.map((x) => x.name);
  const check = (buf: Uint8Array, what: string) => {
    try {
      const zz = new ZipReader(buf, 'fuzz.zip');
      for (const n of zz.names()) if (names.includes(n)) zz.read(n);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('fuzz.zip: ')) t.fail(`${what}: ${String(err)}`);
    }
  };
  for (let n = 0; n < good.length; n += 7) check(good.subarray(0, n), `truncated to ${n}`);
  for (let i = 0; i < 3000; i++) {
    const b = good.slice();
    b[((rand() << 8) | rand()) % b.length] = rand();
    check(b, `corruption ${i}`);
  }
  t.pass('fuzzed');
});

t.test('atomic write replaces the file and cleans up on failure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zip-atomic-'));
  const file = join(dir, 'out.bin');
  writeFileSync(file, 'old');
  writeFileAtomic(file, [new Uint8Array([1, 2]), new Uint8Array([3])]);
  t.same([...readFileSync(file)], [1, 2, 3]);
  t.throws(() => writeFileAtomic(join(dir, 'missing-dir', 'x.bin'), [new Uint8Array(1)]), /ENOENT/);
  t.same(readdirSync(dir), ['out.bin']);
});
