// "Look inside" (issue 18, item 4) in headless Chromium on WebGPU (SwiftShader): the page opens the
// bundled checkpoint and bus.jpg, then each view renders from the engine's own values:
//   anchors    one grid per stride, h x w = input / stride, together the A columns of the head's output
//   DFL        the softmax bars of one box side sum to 1 and their mean is the dfl op's value, which
//              equals the side the model decoded for that detection (within 1e-4 grid units)
//   keypoints  decoded = (2 raw + anchor - 0.5) * stride and sigmoid(raw v), and in image pixels the
//              keypoints of the page's predict result (browser.test.ts: that result is Node's)
//   kernels    the WGSL shown for each op of a conv layer is the text the page gave WebGPU's
//              createShaderModule for that pipeline (recorded by wrapping it before the page loads)
// YOLO_WEB_SCREENSHOTS=docs writes a PNG of each view there (the README's pictures).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { buildWeb } from '../../web/build.js';
import { launchChromium } from '../../web/chromium.js';
import { startAppServer } from '../../tasks/app.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'predict');
const SHOTS = process.env.YOLO_WEB_SCREENSHOTS;

/** A PNG of the page region spanning these elements (for the README). */
async function shot(page: Page, ids: string[], file: string) {
  if (!SHOTS) return;
  const r = await page.evaluate((ids: string[]) => {
    const rs = ids.map((id) => document.getElementById(id)!.getBoundingClientRect());
    const x = Math.min(...rs.map((q) => q.left)),
      y = Math.min(...rs.map((q) => q.top));
    return {
      x: x + scrollX,
      y: y + scrollY,
      width: Math.max(...rs.map((q) => q.right)) - x,
      height: Math.max(...rs.map((q) => q.bottom)) - y,
    };
  }, ids);
  await page.screenshot({ path: join(SHOTS, file), clip: r, captureBeyondViewport: true });
}

t.test('look inside the head and a layer, from the engine', async (t) => {
  await buildWeb();
  const app = await startAppServer();
  const browser = await launchChromium();
  t.teardown(async () => {
    await browser.close();
    await app.close();
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${(e as Error).message}`));
  // every shader module the page creates, by label (the engine labels each with its pipeline's name)
  await page.evaluateOnNewDocument(() => {
    const seen: Record<string, string[]> = ((window as any).__wgsl = {});
    const orig = GPUDevice.prototype.createShaderModule;
    GPUDevice.prototype.createShaderModule = function (d: GPUShaderModuleDescriptor) {
      (seen[d.label ?? ''] ??= []).push(d.code);
      return orig.call(this, d);
    };
  });
  const t0 = performance.now();
  const lap = (what: string) => t.comment(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // the views run the model eagerly; so does the page's own predict here (YOLO_COMPILE=0), so that
  // SwiftShader compiles one set of pipelines instead of two (the compiled predict: browser.test.ts)
  await page.goto(`${app.url}?YOLO_COMPILE=0`);
  await page.waitForFunction(() => 'yolo' in window);
  await page.evaluate(() => (window as any).yolo.ready);
  t.equal((await page.evaluate(() => (window as any).yolo.device)).type, 'webgpu', 'the page runs on WebGPU');
  await page.evaluate(() => ((document.getElementById('inside') as HTMLDetailsElement).open = true));

  lap('page ready (model loaded, bus.jpg predicted)');
  // (a) anchors
  const head = await page.evaluate(() => (window as any).yolo.inside.head());
  const [H, W] = head.inShape;
  t.same(
    head.levels.map((l: any) => l.stride),
    [8, 16, 32],
    'three strides',
  );
  for (const l of head.levels) {
    t.same([l.h, l.w], [H / l.stride, W / l.stride], `stride ${l.stride}: a ${W / l.stride}x${H / l.stride} grid`);
    t.match(head.legend, `stride ${l.stride}: ${l.w}×${l.h} = ${l.w * l.h} anchors`);
  }
  t.equal(
    head.levels.reduce((s: number, l: any) => s + l.count, 0),
    head.predShape[2],
    `the anchors are the head output's ${head.predShape[2]} columns`,
  );
  t.ok(head.detections.length > 0, `${head.detections.length} detections to pick from`);
  await shot(page, ['inside-anchor-legend', 'inside-anchors'], 'web-inside-anchors.png');

  lap('head inspected');
  // (b) DFL of each side of the top detection
  for (const side of ['l', 't', 'r', 'b']) {
    const v = await page.evaluate((s) => (window as any).yolo.inside.dfl(0, s), side);
    t.equal(v.probs.length, 16);
    const total = v.probs.reduce((s: number, p: number) => s + p, 0);
    const mean = v.probs.reduce((s: number, p: number, i: number) => s + p * i, 0);
    const m = Math.max(...v.logits);
    const z = v.logits.reduce((s: number, x: number) => s + Math.exp(x - m), 0);
    const ref = v.logits.map((x: number) => Math.exp(x - m) / z); // softmax in float64, here
    t.ok(Math.abs(total - 1) < 1e-5, `${side}: the bars sum to 1 (${total})`);
    t.ok(
      Math.max(...ref.map((p: number, i: number) => Math.abs(p - v.probs[i]))) < 1e-6,
      `${side}: the bars are the softmax of the logits`,
    );
    t.ok(Math.abs(mean - v.expected) < 1e-4, `${side}: Σ p_i i of the bars = the dfl op's ${v.expected}`);
    t.ok(
      Math.abs(v.expected - v.decoded) < 1e-4,
      `${side}: the dfl op's ${v.expected.toFixed(6)} = the model's decoded side ${v.decoded.toFixed(6)}`,
    );
    t.match(v.text, v.expected.toFixed(5), `${side}: the page shows it`);
  }
  await shot(page, ['inside-dfl-sum', 'inside-dfl', 'inside-dfl-table'], 'web-inside-dfl.png');

  lap('DFL views');
  // (c) raw vs decoded keypoints, against the page's predict and Node's
  const kv = await page.evaluate(() => (window as any).yolo.inside.keypoints(0));
  const det = head.detections[0];
  t.equal(kv.rows.length, 17);
  t.equal(kv.tableRows, 18, 'a table row per keypoint');
  let maxDec = 0,
    maxVis = 0;
  for (const r of kv.rows) {
    for (const d of [0, 1])
      maxDec = Math.max(maxDec, Math.abs((2 * r.raw[d] + det.point[d] - 0.5) * det.stride - r.decoded[d]));
    maxVis = Math.max(maxVis, Math.abs(1 / (1 + Math.exp(-r.raw[2])) - r.decoded[2]));
  }
  t.ok(maxDec < 1e-3, `decoded = (2 raw + anchor - 0.5) * stride (max |Δ| ${maxDec.toExponential(2)} px)`);
  t.ok(maxVis < 1e-6, `visibility = sigmoid(raw) (max |Δ| ${maxVis.toExponential(2)})`);
  // the page's own predict of bus.jpg at load (what it drew); browser.test.ts checks it against Node's
  const web = await page.evaluate(() => (window as any).yolo.lastResult);
  t.equal(web.kpts.length, head.detections.length, 'as many detections as the page drew');
  const i = det.index;
  let maxWeb = 0;
  kv.rows.forEach((r: any, k: number) => {
    for (const d of [0, 1]) maxWeb = Math.max(maxWeb, Math.abs(r.result[d] - web.kpts[i][k][d]));
  });
  t.ok(maxWeb <= 0.01, `in image pixels: the page's predict result (max |Δ| ${maxWeb.toExponential(2)} px)`);
  // and Ultralytics 8.2.82's own predict of bus.jpg with this checkpoint (test/fixtures/predict/README.md)
  const ref = JSON.parse(readFileSync(join(FIXTURES, 'predictions-yolov8n-pose-coco128.json'), 'utf8'));
  const bus = ref.images['bus.jpg'];
  t.equal(bus.keypoints_xy.length, head.detections.length, "as many detections as Ultralytics'");
  let maxRef = 0,
    maxRefConf = 0;
  kv.rows.forEach((r: any, k: number) => {
    for (const d of [0, 1]) maxRef = Math.max(maxRef, Math.abs(r.result[d] - bus.keypoints_xy[i][k][d]));
    maxRefConf = Math.max(maxRefConf, Math.abs(r.decoded[2] - bus.keypoints_conf[i][k]));
  });
  t.ok(maxRef <= 0.01, `in image pixels: Ultralytics' keypoints (max |Δ| ${maxRef.toExponential(2)} px)`);
  t.ok(maxRefConf <= 1e-5, `visibilities: Ultralytics' keypoint conf (max |Δ| ${maxRefConf.toExponential(2)})`);
  await shot(page, ['inside-kpts', 'inside-kpt-table'], 'web-inside-keypoints.png');

  lap('keypoints view');
  // (d) a conv layer's ops and the WGSL they launched
  const k1 = await page.evaluate(() => (window as any).yolo.inside.kernels(1));
  t.equal(k1.type, 'Conv');
  const conv = k1.ops.find((o: any) => o.op === 'conv2d');
  t.ok(conv && conv.kernels.length >= 1, `layer 1's conv2d launched ${conv?.kernels.length} kernel(s)`);
  const launched = k1.ops.flatMap((o: any) => o.kernels);
  t.equal(k1.shownPre, launched.length, 'one WGSL listing per launch');
  const compiled: Record<string, string[]> = await page.evaluate(() => (window as any).__wgsl);
  for (const k of launched)
    t.ok(compiled[k.name]?.includes(k.code), `${k.name}: the WGSL shown is what createShaderModule compiled`);
  t.comment(`layer 1: ${k1.ops.map((o: any) => `${o.op}[${o.kernels.map((k: any) => k.name).join(', ')}]`).join(' ')}`);
  const k2 = await page.evaluate(() => (window as any).yolo.inside.kernels(2));
  const where = new Set(k2.ops.map((o: any) => o.where));
  t.ok(
    ['cv1', 'cv2', 'm.0.cv1', 'm.0.cv2'].every((w) => [...where].some((x) => x === w || String(x).startsWith(`${w}.`))),
    `layer 2 (C2f): ops named by submodule (${[...where].join(', ')})`,
  );
  if (SHOTS) {
    // the picture: layer 1 with its conv kernel's WGSL open
    await page.evaluate(() => (window as any).yolo.inside.kernels(1));
    await page.evaluate(() =>
      [...document.querySelectorAll('#inside-kernels details')]
        .find((d) => d.querySelector('summary')!.textContent!.startsWith('conv2d'))
        ?.setAttribute('open', ''),
    );
    await shot(page, ['inside-layer', 'inside-kernels'], 'web-inside-kernels.png');
  }
  lap('kernels of layers 1 and 2');

  // clicking a box on the image picks that detection (the smallest box under the pointer)
  const area = (b: number[]) => (b[2] - b[0]) * (b[3] - b[1]);
  const pick = head.detections.reduce((p: any, d: any) => (area(d.xyxy) < area(p.xyxy) ? d : p));
  const at = await page.evaluate((b: number[]) => {
    const c = document.getElementById('canvas') as HTMLCanvasElement;
    const k = c.clientWidth / c.width;
    return { x: ((b[0] + b[2]) / 2) * k, y: ((b[1] + b[3]) / 2) * k };
  }, pick.xyxy);
  await page.click('#canvas', { offset: at });
  await page.waitForFunction(
    (i: number) => document.getElementById('inside-dfl-sum')!.textContent!.includes(`detection #${i}:`),
    { timeout: 60_000 },
    pick.index,
  );
  t.equal(
    await page.evaluate(() => (document.getElementById('inside-det') as HTMLSelectElement).value),
    String(pick.index),
    `a click on box #${pick.index} picks it`,
  );
  t.same(problems, [], 'no console errors or uncaught exceptions');
});
