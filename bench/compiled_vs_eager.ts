// yolov8n-pose eager vs compiled forward (model.compile()) on one device, alternating one of each
// per round in one process, so that a shared machine's load falls on both alike; process CPU time
// per forward (all threads of this process) and wall time, medians and minimums, the load printed.
// Each compiled forward's plan is made before its round's timing starts (compile() is re-run
// because switching modes disposes the plan).
//
// usage: npx tsx bench/compiled_vs_eager.ts [--device wasm] [--threads 2] [--imgsz 640] [--batch 1] [--rounds 8]
import * as E from '../engine/index.js';
import { loadPoseModel } from '../models/index.js';
import { f1, machineLoad, median, opt, relDiff } from './common.js';

const deviceName = opt('device', 'wasm');
const imgsz = Number(opt('imgsz', '640'));
const batch = Number(opt('batch', '1'));
const rounds = Number(opt('rounds', '8'));
const weights = opt('weights', 'test/fixtures/predict/yolov8n-pose-coco128.pt');
const shape = [batch, 3, imgsz, imgsz];

const device = await E.getDevice(deviceName, { threads: opt('threads', '') || undefined });
console.log(`yolov8n-pose ${shape.join('x')} on ${E.describeDevice(device)}; ${machineLoad()}`);
try {
  const model = loadPoseModel(weights, { device }).eval().fuse();
  E.manualSeed(0);
  const x = E.tensor(E.rand(shape).dataSync(), shape, { device });
  const modes = ['eager', 'compiled'] as const;
  const cpu = { eager: [] as number[], compiled: [] as number[] },
    wall = { eager: [] as number[], compiled: [] as number[] };
  const outs: Record<string, Float32Array> = {};
  for (let r = -1; r < rounds; r++)
    for (const m of modes) {
      model.compile(m === 'compiled');
      if (m === 'compiled') model.predict(x).dispose(); // plan, pack, record
      const c0 = process.cpuUsage(),
        t0 = performance.now();
      const y = model.predict(x);
      outs[m] = (await y.data()) as Float32Array;
      const c = process.cpuUsage(c0);
      y.dispose();
      if (r < 0) continue; // warm-up round
      wall[m].push(performance.now() - t0);
      cpu[m].push((c.user + c.system) / 1e3);
    }
  console.log('\n| mode | rounds | CPU ms median | CPU ms min | wall ms median | wall ms min |');
  console.log('|---|---|---|---|---|---|');
  for (const m of modes)
    console.log(
      `| ${m} | ${rounds} | ${f1(median(cpu[m]))} | ${f1(Math.min(...cpu[m]))} | ${f1(median(wall[m]))} | ${f1(Math.min(...wall[m]))} |`,
    );
  console.log(
    `compiled / eager CPU time (medians): ${(median(cpu.compiled) / median(cpu.eager)).toFixed(2)}; outputs differ by ${relDiff(outs.compiled, outs.eager).toExponential(1)} of their largest value`,
  );
  model.compile(false);
} finally {
  console.log(machineLoad());
  E.releaseDevices();
}
