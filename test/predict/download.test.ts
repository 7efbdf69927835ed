// Weight downloads against a local HTTP server: progress, redirects, atomic writes, errors, and
// YOLO_ASSETS_URL for the Ultralytics release base.
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attemptDownloadAsset, downloadFile, GITHUB_ASSETS } from '../../tasks/download.js';
import { serve } from './http.js';

const zipBytes = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(100000, 7)]);

t.test('downloads', async (t) => {
  const srv = await serve({
    '/v8/yolov8n-pose.pt': { redirect: '/storage/blob' },
    '/storage/blob': { body: zipBytes },
    '/v8/yolov8s-pose.pt': { body: Buffer.from('<html>rate limited</html>') },
    '/v8/yolov8m-pose.pt': { truncated: zipBytes },
    '/missing.bin': { status: 404 },
  });
  t.teardown(() => srv.close());
  const dir = mkdtempSync(join(tmpdir(), 'dl-'));
  const prev = process.env.YOLO_ASSETS_URL;
  process.env.YOLO_ASSETS_URL = `${srv.url}/v8/`;
  t.teardown(() => (prev === undefined ? delete process.env.YOLO_ASSETS_URL : (process.env.YOLO_ASSETS_URL = prev)));
  const quiet = { progress: false };

  const dest = join(dir, 'yolov8n-pose.pt');
  t.equal(await attemptDownloadAsset(dest, quiet), dest, 'a missing release asset is fetched');
  t.same(readFileSync(dest), zipBytes, 'through the redirect, byte for byte');
  t.equal(srv.hits.get('/storage/blob'), 1);
  await attemptDownloadAsset(dest, quiet);
  t.equal(srv.hits.get('/storage/blob'), 1, 'present: not downloaded again');

  await t.rejects(
    attemptDownloadAsset(join(dir, 'yolov8s-pose.pt'), quiet),
    /not a PyTorch checkpoint/,
    'an HTML page is rejected',
  );
  await t.rejects(
    attemptDownloadAsset(join(dir, 'yolov8m-pose.pt'), quiet),
    /yolov8m-pose\.pt failed: (truncated|connection closed early)/,
    'a cut connection fails',
  );
  await t.rejects(downloadFile(`${srv.url}/missing.bin`, join(dir, 'm.bin'), quiet), /missing\.bin failed: HTTP 404/);
  t.same(readdirSync(dir), ['yolov8n-pose.pt'], 'failed downloads leave nothing behind (no partial files)');

  const other = join(dir, 'mine.pt');
  t.equal(await attemptDownloadAsset(other, quiet), other, 'unknown names are not fetched (the loader reports them)');
  t.ok(GITHUB_ASSETS.includes('yolov8x-pose-p6.pt'));

  writeFileSync(join(dir, 'keep.bin'), 'old');
  await t.rejects(downloadFile(`${srv.url}/missing.bin`, join(dir, 'keep.bin'), quiet));
  t.equal(readFileSync(join(dir, 'keep.bin'), 'utf8'), 'old', 'a failed download never replaces an existing file');
  t.notOk(existsSync(join(dir, 'keep.bin.partial')));
});

t.test('progress goes to stderr', async (t) => {
  const srv = await serve({ '/f.bin': { body: zipBytes } });
  t.teardown(() => srv.close());
  const dir = mkdtempSync(join(tmpdir(), 'dl-'));
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => (lines.push(String(s)), true)) as typeof process.stderr.write;
  try {
    await downloadFile(`${srv.url}/f.bin`, join(dir, 'f.bin'));
  } finally {
    process.stderr.write = write;
  }
  t.match(lines.join(''), /Downloading http:\/\/127\.0\.0\.1:\d+\/f\.bin to '.*f\.bin'\.\.\.\n[\s\S]*0\.1 MB saved to/);
});
