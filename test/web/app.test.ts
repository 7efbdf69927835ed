// `yolo app` (tasks/app.ts): what the server hands the page, on loopback, without a browser.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildWeb } from '../../web/build.js';
import { bundledCheckpoint, startAppServer } from '../../tasks/app.js';
import { packageRoot } from '../../engine/paths.js';

const root = packageRoot();

t.test('serves the page, the bundled checkpoint, the sample image and coco8-pose', async (t) => {
  await buildWeb();
  const app = await startAppServer();
  t.teardown(() => app.close());
  t.match(app.url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'a loopback URL with the port it got');
  const get = (p: string) => fetch(new URL(p, app.url));

  const page = await get('/');
  t.equal(page.status, 200);
  t.match(await page.text(), /<script type="module" src="app.js">/);
  const js = await get('/app.js');
  t.match(js.headers.get('content-type'), /javascript/);
  t.equal((await js.arrayBuffer()).byteLength, statSync(join(root, 'web', 'dist', 'app.js')).size);

  const w = await get('/weights/yolov8n-pose.pt');
  t.equal(w.headers.get('x-yolo-weights'), 'yolov8n-pose-coco128.pt', 'names the file it serves');
  t.equal((await w.arrayBuffer()).byteLength, statSync(bundledCheckpoint()).size);
  const img = await get('/images/bus.jpg');
  t.same(
    new Uint8Array(await img.arrayBuffer()),
    new Uint8Array(readFileSync(join(root, 'test', 'fixtures', 'images', 'bus.jpg'))),
  );

  const files = (await (await get('/data-files/coco8-pose')).json()) as string[];
  t.ok(files.includes('coco8-pose.yaml') && files.includes('labels/train/000000000036.txt'), 'lists the dataset');
  t.notOk(
    files.some((f) => f.endsWith('.cache')),
    'without label caches',
  );
  t.equal((await get('/data/coco8-pose/coco8-pose.yaml')).status, 200);

  t.equal((await get('/nope.js')).status, 404);
  t.equal((await get('/images/..%2f..%2fpackage.json')).status, 404, 'nothing outside the served folders');
  // sent as written (fetch would resolve the dot segments before sending); the server resolves them
  // within its own URL space, so these reach the page or nothing, never the package's files
  const raw = (path: string) =>
    new Promise<string>((ok, fail) =>
      request({ host: '127.0.0.1', port: new URL(app.url).port, path }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (c) => (body += c))
          .on('end', () => ok(`${res.statusCode} ${body}`));
      })
        .on('error', fail)
        .end(),
    );
  for (const p of ['/data-files/..', '/data-files/%2e%2e', '/images/../../package.json', '/data/%2e%2e/package.json'])
    t.notMatch(await raw(p), /"(version|name)":|package\.json"|tasks\//, `${p}: nothing outside the served folders`);
});

t.test('bad arguments', async (t) => {
  t.throws(
    () => bundledCheckpoint('missing/best.pt'),
    /yolo app: no checkpoint found \(looked for .*missing\/best\.pt\); pass model=/,
  );
  const cli = (...a: string[]) =>
    spawnSync(process.execPath, ['--import=tsx', join(root, 'tasks', 'cli.ts'), 'app', ...a], {
      encoding: 'utf8',
      timeout: 60_000,
    });
  const r = cli('port=http');
  t.equal(r.status, 1);
  t.match(r.stderr, /yolo app: port=http: expected an integer 0-65535/);
  const r2 = cli('imgsz=320');
  t.equal(r2.status, 1);
  t.match(r2.stderr, /yolo app: 'imgsz' is not used by this mode \(it takes port, model\)/);
});
