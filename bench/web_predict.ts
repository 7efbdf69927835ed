// Issue 18: the browser page's load size and predict latency in headless Chromium (WebGPU on
// SwiftShader, web/chromium.ts) beside Node on this machine (Dawn on lavapipe), the same code
// (Predictor.predictImage) and the same checkpoint and image. Optionally a screenshot of the page.
//
//   node --import=tsx bench/web_predict.ts [--runs 3] [--imgsz 320] [--screenshot docs/web-predict.jpg] [--inside docs/web-inside.jpg]
import { gzipSync } from 'node:zlib';
import { readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { buildWeb } from '../web/build.js';
import { launchChromium } from '../web/chromium.js';
import { bundledCheckpoint, startAppServer } from '../tasks/app.js';
import { YOLO } from '../tasks/yolo.js';
import { Predictor } from '../tasks/predict/predictor.js';
import { readImage } from '../tasks/data/image.js';
import { packageRoot } from '../engine/paths.js';
import { releaseDevices } from '../engine/index.js';

const argv = process.argv.slice(2);
const opt = (k: string, d: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : d);
const runs = Math.max(1, Number(opt('--runs', '3'))); // timed runs after the first
const imgsz = Number(opt('--imgsz', '320'));
const shot = opt('--screenshot', '');
const inside = opt('--inside', ''); // a screenshot of the look-inside panel (feature maps, WGSL)
const ARGS = { conf: 0.05, iou: 0.7, imgsz };
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const load = () =>
  loadavg()
    .map((v) => v.toFixed(1))
    .join(' ');

await buildWeb();
const dist = join(packageRoot(), 'web', 'dist');
const js = readFileSync(join(dist, 'app.js'));
const html = readFileSync(join(dist, 'index.html'));
const ckpt = bundledCheckpoint();
console.log(
  `page: app.js ${(js.length / 1024).toFixed(0)} KiB (${(gzipSync(js).length / 1024).toFixed(0)} KiB gzip), index.html ${(html.length / 1024).toFixed(1)} KiB; checkpoint ${(statSync(ckpt).size / 2 ** 20).toFixed(1)} MiB (fetched once)`,
);

const app = await startAppServer();
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  let t0 = performance.now();
  await page.goto(`${app.url}?model=none`);
  await page.waitForFunction(() => 'yolo' in window);
  await page.evaluate(() => (window as any).yolo.ready);
  const readyMs = performance.now() - t0;
  const device = await page.evaluate(() => (window as any).yolo.device);
  const loadMs: number = await page.evaluate(() => (window as any).yolo.loadUrl());
  const web: { ms: number; inference: number }[] = [];
  for (let i = 0; i <= runs; i++) {
    t0 = performance.now();
    const r = await page.evaluate((a) => (window as any).yolo.predictUrl('/images/bus.jpg', a), ARGS);
    web.push({ ms: performance.now() - t0, inference: r.speed.inference });
  }
  console.log(
    `browser ${device.type} (${device.name}): page ready ${readyMs.toFixed(0)} ms, model load ${loadMs.toFixed(0)} ms, first predict ${web[0].ms.toFixed(0)} ms, then median ${median(web.slice(1).map((w) => w.ms)).toFixed(0)} ms (inference ${median(web.slice(1).map((w) => w.inference)).toFixed(0)} ms) at imgsz ${imgsz}, load avg ${load()}`,
  );

  t0 = performance.now();
  const yolo = new YOLO(ckpt);
  await yolo.load();
  const nodeLoad = performance.now() - t0;
  const img = readImage(join(packageRoot(), 'web', 'assets', 'bus.jpg'));
  const node: { ms: number; inference: number }[] = [];
  for (let i = 0; i <= runs; i++) {
    t0 = performance.now();
    const r = await new Predictor(yolo.model!, yolo.device!, { ...ARGS, verbose: false }).predictImage(img, 'bus.jpg');
    node.push({ ms: performance.now() - t0, inference: r.speed.inference });
  }
  console.log(
    `node ${yolo.device!.type} (${yolo.device!.name}): model load ${nodeLoad.toFixed(0)} ms, first predict ${node[0].ms.toFixed(0)} ms, then median ${median(node.slice(1).map((w) => w.ms)).toFixed(0)} ms (inference ${median(node.slice(1).map((w) => w.inference)).toFixed(0)} ms), load avg ${load()}`,
  );

  if (shot) {
    // the page as a user opens it: bundled model, bus.jpg, its trained imgsz
    await page.goto(app.url);
    await page.evaluate(() => (window as any).yolo.ready);
    await page.screenshot({
      path: shot as `${string}.png`,
      fullPage: true,
      ...(/\.jpe?g$/i.test(shot) && { type: 'jpeg' as const, quality: 80 }),
    });
    console.log(`screenshot: ${shot}`);
  }
  if (inside) {
    if (!shot) {
      await page.goto(app.url);
      await page.evaluate(() => (window as any).yolo.ready);
    }
    t0 = performance.now();
    const n = await page.evaluate(() => (window as any).yolo.featureMaps());
    console.log(`look inside: ${n} layers' feature maps in ${(performance.now() - t0).toFixed(0)} ms`);
    const el = await page.$('#inside');
    await el!.screenshot({
      path: inside as `${string}.png`,
      ...(/\.jpe?g$/i.test(inside) && { type: 'jpeg' as const, quality: 80 }),
    });
    console.log(`screenshot: ${inside}`);
  }
} finally {
  await browser.close();
  await app.close();
  releaseDevices();
}
