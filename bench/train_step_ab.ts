// A/B of one env switch on the P2 training step (yolov8n-pose, batch 8 at 320, the coco8-pose batch of
// bench/train_step_p2.ts) in ONE process, alternating the switch off (=0) and on (unset) step by step,
// so a shared machine's load falls on both alike: medians and minimums of wall and process CPU ms.
// For switches read per call (YOLO_WINOGRAD, YOLO_WINOGRAD_GW, ...), on the wasm device.
//
// usage: npx tsx bench/train_step_ab.ts [--env YOLO_WINOGRAD_GW] [--threads 2] [--steps 10]
import * as E from '../engine/index.js';
import { machineLoad, median, opt } from './common.js';
import { coco8Batch, trainStep } from './train_step.js';

const env = opt('env', 'YOLO_WINOGRAD_GW');
const steps = Number(opt('steps', '10'));
const device = await E.getDevice('wasm', { threads: opt('threads', '2') });
const { step } = trainStep(device, 'test/fixtures/predict/yolov8n-pose-coco128.pt', coco8Batch());

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
