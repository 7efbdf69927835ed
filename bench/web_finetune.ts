// Issue 18: fine-tuning in the browser tab beside Node on this machine: the same YOLO.train from
// the bundled checkpoint on coco8-pose, the same arguments; the tab on Chromium's WebGPU
// (SwiftShader here, web/chromium.ts), Node on its default device. Times each step (the first
// includes compiling every training pipeline), the epoch-end (validation, checkpoints, best.pt's
// final validation) and the whole run. Optionally a screenshot of the fine-tune panel with its charts.
//
//   node --import=tsx bench/web_finetune.ts [--epochs 1] [--imgsz 64] [--batch 2] [--screenshot docs/web-finetune.jpg]
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { buildWeb } from '../web/build.js';
import { launchChromium } from '../web/chromium.js';
import { bundledCheckpoint, startAppServer } from '../tasks/app.js';
import { YOLO } from '../tasks/yolo.js';
import { packageRoot } from '../engine/paths.js';
import { releaseDevices } from '../engine/index.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const argv = process.argv.slice(2);
const opt = (k: string, d: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : d);
const ARGS = {
  epochs: Number(opt('--epochs', '1')),
  imgsz: Number(opt('--imgsz', '64')),
  batch: Number(opt('--batch', '2')),
  nbs: Number(opt('--batch', '2')),
  val: true,
};
const shot = opt('--screenshot', '');
const load = () =>
  loadavg()
    .map((v) => v.toFixed(1))
    .join(' ');
const fmt = (ms: number[]) => ms.map((v) => (v / 1000).toFixed(1)).join(', ');

await buildWeb();
const app = await startAppServer();
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1000 });
  await page.goto(`${app.url}?model=none`);
  await page.evaluate(() => (window as any).yolo.ready);
  const device = await page.evaluate(() => (window as any).yolo.device);
  // step times from the page's own step counter, sampled every 100 ms
  const t0 = performance.now();
  await page.evaluate((a) => {
    const w = window as any;
    w.ftRun = w.yolo.fineTune(a);
  }, ARGS);
  const stepAt: number[] = [];
  for (;;) {
    const s = await page.evaluate(() => (window as any).yolo.training);
    while (stepAt.length < s.steps) stepAt.push(performance.now() - t0);
    if (!s.running && stepAt.length) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const web: { ms: number; losses: number[][] } = await page.evaluate(() => (window as any).ftRun);
  const steps = stepAt.map((t, i) => t - (i ? stepAt[i - 1] : 0));
  console.log(
    `browser ${device.type} (${device.name}), ${JSON.stringify(ARGS)}: ${(web.ms / 1000).toFixed(1)} s in all; steps ${fmt(steps)} s (the first from the start: fetch, setup, pipeline compiles); after the last step ${((web.ms - stepAt[stepAt.length - 1]) / 1000).toFixed(1)} s; load avg ${load()}`,
  );

  const node = new YOLO(bundledCheckpoint());
  const nodeAt: number[] = [];
  const n0 = performance.now();
  node.addCallback('on_train_batch_end', () => void nodeAt.push(performance.now() - n0));
  const dir = mkdtempSync(join(tmpdir(), 'ft-bench-'));
  let dev = '';
  node.addCallback('on_pretrain_routine_end', (tr) => void (dev = (tr as any).device.name));
  await node.train({
    ...ARGS,
    data: join(packageRoot(), 'data', 'coco8-pose', 'coco8-pose.yaml'),
    workers: 0,
    plots: false,
    project: dir,
    name: 'node',
    verbose: false,
  });
  const nodeMs = performance.now() - n0;
  console.log(
    `node (${dev}): ${(nodeMs / 1000).toFixed(1)} s in all; steps ${fmt(nodeAt.map((t, i) => t - (i ? nodeAt[i - 1] : 0)))} s; after the last step ${((nodeMs - nodeAt[nodeAt.length - 1]) / 1000).toFixed(1)} s; load avg ${load()}`,
  );
  if (shot) {
    const el = await page.$('section:has(#ft-loss)');
    await el!.screenshot({
      path: shot as `${string}.png`,
      ...(/\.jpe?g$/i.test(shot) && { type: 'jpeg' as const, quality: 85 }),
    });
    console.log(`screenshot: ${shot}`);
  }
} finally {
  await browser.close();
  await app.close();
  releaseDevices();
}
