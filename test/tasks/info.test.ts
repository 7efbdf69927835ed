import t from 'tap';
import { spawnSync } from 'node:child_process';

const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--import=tsx', 'tasks/cli.ts', 'info', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });

t.test('yolo info prints the Ultralytics summary line', async (t) => {
  const r = run('model=yolov8n-pose.yaml', 'imgsz=640');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^YOLOv8n-pose summary: 250 layers, 3,295,470 parameters, 3,295,454 gradients, 9\.[23] GFLOPs$/m);
  const p6 = run('model=yolov8x-pose-p6.yaml', 'imgsz=1280');
  t.match(p6.stdout, /YOLOv8x-pose-p6 summary: 510 layers, 99,182,640 parameters/);
  const pt = run('model=test/fixtures/models/yolov8n-pose-seed0.pt', 'fuse=true');
  t.match(pt.stdout, /YOLOv8n-pose summary \(fused\): 187 layers, 3,289,964 parameters, .* 9\.2 GFLOPs/);
  const bad = run('model=missing.pt');
  t.equal(bad.status, 1);
  t.match(bad.stderr, /model=missing\.pt: file not found/);
});
