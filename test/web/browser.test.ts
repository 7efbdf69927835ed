// The engine in a browser tab (issue 18): builds web/dist, serves it on loopback (tasks/app.ts),
// opens it in headless Chromium with WebGPU (SwiftShader: web/chromium.ts) and predicts bus.jpg
// with the bundled checkpoint. The result must be Node's from the same sources (here on Dawn +
// lavapipe): same detections, box IoU >= 0.999, keypoints within 0.01 px. No console errors.
// Without a WebGPU adapter in Chromium this fails: the page would silently fall back to the cpu engine.
import t from 'tap';
import { join } from 'node:path';
import { buildWeb } from '../../web/build.js';
import { launchChromium } from '../../web/chromium.js';
import { startAppServer, bundledCheckpoint } from '../../tasks/app.js';
import { YOLO } from '../../tasks/yolo.js';
import { releaseDevices } from '../../engine/index.js';

const ARGS = { conf: 0.05, iou: 0.7, imgsz: 320 }; // the bundled model is weak and was trained at 320 (test/fixtures/predict/README.md)
const BUS = join(import.meta.dirname, '..', 'fixtures', 'images', 'bus.jpg');

interface Pred {
  xyxy: number[][];
  conf: number[];
  cls: number[];
  kpts: number[][][];
  kconf: number[][];
}

function iou(a: number[], b: number[]) {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

t.test('predict in headless Chromium on WebGPU equals Node', async (t) => {
  await buildWeb();
  const app = await startAppServer();
  const browser = await launchChromium();
  t.teardown(async () => {
    await browser.close();
    await app.close();
    releaseDevices();
  });
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${(e as Error).message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));

  await page.goto(`${app.url}?model=none`);
  await page.waitForFunction(() => 'yolo' in window);
  await page.evaluate(() => (window as any).yolo.ready);
  const device = await page.evaluate(() => (window as any).yolo.device);
  t.equal(device.type, 'webgpu', `Chromium gives the page a WebGPU adapter (got ${device.type}: ${device.name})`);
  const loadMs = await page.evaluate(() => (window as any).yolo.loadUrl());
  const web: Pred = await page.evaluate((a) => (window as any).yolo.predictUrl('/images/bus.jpg', a), ARGS);
  t.comment(`browser (${device.name}): model load ${loadMs.toFixed(0)} ms, ${web.xyxy.length} detections`);

  const node = (await new YOLO(bundledCheckpoint()).predict(BUS, { ...ARGS, verbose: false }))[0];
  const ref: Pred = {
    xyxy: node.boxes.xyxy,
    conf: node.boxes.conf,
    cls: node.boxes.cls,
    kpts: node.keypoints!.xy,
    kconf: node.keypoints!.conf!,
  };

  t.ok(ref.xyxy.length > 0, `Node finds people in bus.jpg (${ref.xyxy.length})`);
  t.equal(web.xyxy.length, ref.xyxy.length, 'same number of detections');
  let minIou = 1,
    maxKpt = 0,
    maxConf = 0;
  for (let i = 0; i < Math.min(web.xyxy.length, ref.xyxy.length); i++) {
    minIou = Math.min(minIou, iou(web.xyxy[i], ref.xyxy[i]));
    maxConf = Math.max(maxConf, Math.abs(web.conf[i] - ref.conf[i]));
    t.equal(web.cls[i], ref.cls[i]);
    for (let k = 0; k < ref.kpts[i].length; k++)
      for (const d of [0, 1]) maxKpt = Math.max(maxKpt, Math.abs(web.kpts[i][k][d] - ref.kpts[i][k][d]));
  }
  t.ok(minIou >= 0.999, `box IoU >= 0.999 (min ${minIou})`);
  t.ok(maxKpt <= 0.01, `keypoints within 0.01 px (max ${maxKpt.toExponential(2)})`);
  t.ok(maxConf <= 1e-4, `scores within 1e-4 (max ${maxConf.toExponential(2)})`);

  // bad input: an unreadable dropped file is named, with the reason; the page goes on
  const junk = [...new TextEncoder().encode('not a checkpoint')];
  await page.evaluate((b) => (window as any).yolo.dropFile('broken.pt', b), junk);
  t.match(await page.evaluate(() => (window as any).yolo.message), /^broken\.pt: /, 'a bad .pt names itself');
  await page.evaluate((b) => (window as any).yolo.dropFile('notes.jpg', b, 'image/jpeg'), junk);
  t.match(
    await page.evaluate(() => (window as any).yolo.message),
    /^notes\.jpg: unsupported image format/,
    'a bad image names itself and why',
  );
  await page.evaluate((b) => (window as any).yolo.dropFile('readme.txt', b), junk);
  t.match(
    await page.evaluate(() => (window as any).yolo.message),
    /^readme\.txt: /,
    'a file of another kind names itself',
  );
  t.same(problems, [], 'no console errors, uncaught exceptions or failed requests');
});

t.test('a browser without WebGPU is told so and gets the cpu engine', async (t) => {
  const app = await startAppServer();
  const browser = await launchChromium();
  t.teardown(async () => {
    await browser.close();
    await app.close();
  });
  const page = await browser.newPage();
  await page.evaluateOnNewDocument(() => {
    delete (Navigator.prototype as any).gpu;
  });
  await page.goto(`${app.url}?model=none`);
  await page.waitForFunction(() => 'yolo' in window);
  await page.evaluate(() => (window as any).yolo.ready);
  t.equal((await page.evaluate(() => (window as any).yolo.device)).type, 'cpu');
  t.match(await page.evaluate(() => (window as any).yolo.message), /no WebGPU.*cpu engine/);
});
