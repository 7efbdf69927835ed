// Fine-tuning in the browser tab (issue 18): YOLO.train in headless Chromium (WebGPU on SwiftShader)
// on coco8-pose from the bundled checkpoint, 2 optimizer steps (batch 2 of 4 images, nbs 2, imgsz 64),
// against the same training in Node (Dawn + lavapipe): every step's losses within 1e-4, and the
// best.pt the page offers for download loads and predicts in Node.
// Opt-in (YOLO_BROWSER_TRAIN=1): SwiftShader takes about 5 minutes for it on 2 cores, Node 1-2.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWeb } from '../../web/build.js';
import { launchChromium } from '../../web/chromium.js';
import { startAppServer, bundledCheckpoint } from '../../tasks/app.js';
import { YOLO } from '../../tasks/yolo.js';
import { releaseDevices } from '../../engine/index.js';

const ARGS = { epochs: 1, batch: 2, imgsz: 64, nbs: 2, val: false };
const skip = process.env.YOLO_BROWSER_TRAIN
  ? false
  : 'set YOLO_BROWSER_TRAIN=1 to run (about 7 minutes on this machine)';

t.test('2-step fine-tune in Chromium equals Node', { skip }, async (t) => {
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
  await page.goto(`${app.url}?model=none`);
  await page.waitForFunction(() => 'yolo' in window);
  await page.evaluate(() => (window as any).yolo.ready);
  t.equal((await page.evaluate(() => (window as any).yolo.device)).type, 'webgpu');
  const web: { losses: number[][]; bestBytes: number; ms: number } = await page.evaluate(
    (a) => (window as any).yolo.fineTune(a),
    ARGS,
  );
  t.comment(`browser: ${(web.ms / 1000).toFixed(0)} s`);

  const dir = mkdtempSync(join(tmpdir(), 'ft-'));
  const node = new YOLO(bundledCheckpoint());
  const losses: number[][] = [];
  node.addCallback('on_train_batch_end', (tr) => void losses.push([...(tr as { tloss: number[] }).tloss]));
  await node.train({
    data: 'coco8-pose.yaml',
    workers: 0,
    plots: false,
    project: dir,
    name: 'node',
    exist_ok: true,
    verbose: false,
    ...ARGS,
  });

  t.equal(web.losses.length, 2, 'two steps in the tab');
  t.equal(losses.length, 2, 'two steps in Node');
  let max = 0;
  for (const [i, step] of losses.entries())
    for (const [k, v] of step.entries()) {
      t.ok(Number.isFinite(web.losses[i][k]), `step ${i + 1} loss ${k} is finite`);
      max = Math.max(max, Math.abs(web.losses[i][k] - v));
    }
  t.ok(max <= 1e-4, `losses equal Node's within 1e-4 (max ${max.toExponential(2)})`);

  // the downloadable best.pt is a checkpoint the Node side loads and predicts with
  const b64: string = await page.evaluate(() => (window as any).yolo.bestBase64());
  t.ok(b64 && web.bestBytes > 1e6, 'the page offers best.pt');
  const best = join(dir, 'browser-best.pt');
  writeFileSync(best, Buffer.from(b64, 'base64'));
  const r = await new YOLO(best).predict(join(import.meta.dirname, '..', 'fixtures', 'images', 'bus.jpg'), {
    imgsz: 64,
    verbose: false,
    conf: 0.001,
  });
  t.equal(r.length, 1, 'Node predicts with the best.pt trained in the tab');
  t.same(problems, [], 'no console errors');
});
