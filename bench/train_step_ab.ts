// A/B of one env switch on the P2 training step (yolov8n-pose, batch 8 at 320, the coco8-pose batch of
// bench/train_step_p2.ts) in ONE process, alternating the switch off (=0) and on (unset) step by step,
// so a shared machine's load falls on both alike: medians and minimums of wall and process CPU ms.
// For switches read per call (YOLO_WINOGRAD, YOLO_WINOGRAD_GW, ...), on the wasm device.
//
// usage: npx tsx bench/train_step_ab.ts [--env YOLO_WINOGRAD_GW] [--threads 2] [--steps 10]
import * as E from '../engine/index.js';
import { loadPoseModel } from '../models/index.js';
import { V8PoseLoss } from '../nn/loss/v8_pose_loss.js';
import { clipGradNorm } from '../nn/optim.js';
import { loadDatasetYaml } from '../tasks/data/dataset.js';
import { PoseDataset, type PoseBatch } from '../tasks/data/loader.js';
import { buildOptimizer } from '../tasks/train/optimizer.js';
import { machineLoad, median, opt } from './common.js';

const env = opt('env', 'YOLO_WINOGRAD_GW');
const steps = Number(opt('steps', '10'));
const cfg = loadDatasetYaml('data/coco8-pose/coco8-pose.yaml');
cfg.train = [cfg.train, cfg.val].flat().filter((s): s is string => typeof s === 'string');
const ds = PoseDataset.fromConfig(cfg, 'train', {
  imgsz: 320,
  batch: 8,
  augment: false,
  rect: false,
  shuffle: false,
  labelCache: false,
  log: () => {},
  progress: { write: () => {} },
});
const batch = ds.batches(0).next().value as PoseBatch;
const device = await E.getDevice('wasm', { threads: opt('threads', '2') });
const model = loadPoseModel('test/fixtures/predict/yolov8n-pose-coco128.pt', { device }).train();
const loss = new V8PoseLoss({ nc: 1, kptShape: [17, 3] });
const { optimizer } = buildOptimizer(model, {
  name: 'SGD',
  lr: 0.01,
  momentum: 0.937,
  decay: 5e-4,
  iterations: 1,
  nc: 1,
  warmupBiasLr: 0.1,
});
const params = model.parameters().filter((p) => p.requiresGrad);
const step = async () => {
  const items = await E.tidyAsync(async () => {
    const x = E.tensor(batch.images, batch.shape, { device });
    const r = await loss.forward(model.forward(x) as [E.Tensor[], E.Tensor], batch);
    E.backward(r.loss);
    return r.items;
  });
  await items.data();
  items.dispose();
  const { scale } = await clipGradNorm(params, 10.0);
  optimizer.step(scale);
  optimizer.zeroGrad();
};

console.log(`P2 step A/B of ${env} on ${E.describeDevice(device)}, ${steps} steps each; ${machineLoad()}`);
const before = process.env[env];
try {
  await step(); // warm-up: first touches, allocator growth
  const res = { off: { wall: [] as number[], cpu: [] as number[] }, on: { wall: [] as number[], cpu: [] as number[] } };
  for (let i = 0; i < 2 * steps; i++) {
    const mode = i % 2 === 0 ? 'off' : 'on';
    if (mode === 'off') process.env[env] = '0';
    else delete process.env[env];
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    await step();
    const c = process.cpuUsage(c0);
    res[mode].wall.push(performance.now() - t0);
    res[mode].cpu.push((c.user + c.system) / 1e3);
  }
  console.log(`| ${env} | wall ms median | wall min | CPU ms median | CPU min |\n|---|---|---|---|---|`);
  for (const m of ['off', 'on'] as const)
    console.log(
      `| ${m === 'off' ? '0' : 'unset'} | ${median(res[m].wall).toFixed(1)} | ${Math.min(...res[m].wall).toFixed(1)} | ${median(res[m].cpu).toFixed(1)} | ${Math.min(...res[m].cpu).toFixed(1)} |`,
    );
  console.log(
    `on / off: wall ${(median(res.on.wall) / median(res.off.wall)).toFixed(2)}x, CPU ${(median(res.on.cpu) / median(res.off.cpu)).toFixed(2)}x; ${machineLoad()}`,
  );
} finally {
  if (before === undefined) delete process.env[env];
  else process.env[env] = before;
  E.releaseDevices();
}
