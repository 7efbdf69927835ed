// Frames per second of predict and track on a video at imgsz 640 (test/fixtures/video/people.mp4,
// 640x360, 30 fps), end to end as a user runs them: ffmpeg decode, letterbox, the network, NMS, the
// tracker (track only) and, with --save, plotting and H.264 encode. Prints one line per mode.
//
// usage: node --import=tsx bench/video.ts [--device webgpu|cpu] [--imgsz 640] [--vid-stride 3] [--model ckpt.pt] [--save]
// Ultralytics' own figure for comparison: its docs give no video fps for yolov8n-pose; its model table
// lists 1.18 ms (A100 TensorRT) and 131.8 ms (CPU ONNX) per 640 image for the network alone.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { releaseDevices } from '../engine/index.js';
import { YOLO } from '../tasks/yolo.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const device = opt('device', 'webgpu');
const imgsz = Number(opt('imgsz', '640'));
const vidStride = Number(opt('vid-stride', '3'));
const ckpt = opt('model', new URL('../test/fixtures/predict/yolov8n-pose-coco128.pt', import.meta.url).pathname);
const clip = new URL('../test/fixtures/video/people.mp4', import.meta.url).pathname;
const save = args.includes('--save');
const project = mkdtempSync(join(tmpdir(), 'bench-video-'));

const model = new YOLO(ckpt);
const common = { imgsz, device, conf: 0.05, verbose: false, vid_stride: vidStride, save, project };
await model.predict(clip, { ...common, vid_stride: 45 }); // warm-up: pipelines compiled, weights on the device
for (const mode of ['predict', 'track'] as const) {
  const t0 = performance.now();
  let n = 0;
  const gen =
    mode === 'predict'
      ? model.predict(clip, { ...common, stream: true })
      : model.track(clip, { ...common, stream: true, tracker: 'botsort.yaml' });
  for await (const r of gen) n += r ? 1 : 0;
  const s = (performance.now() - t0) / 1000;
  const t = model.predictor!.totals;
  console.log(
    `${mode.padEnd(7)} ${device} imgsz=${imgsz}: ${n} frames in ${s.toFixed(1)} s = ${(n / s).toFixed(2)} fps (inference ${(t.inference / t.seen).toFixed(0)} ms/frame)${save ? ', saving mp4' : ''}`,
  );
}
releaseDevices();
