// The predictor on videos (issue 15): Ultralytics' per-frame lines, the annotated mp4 (same size and
// fps), save_frames and per-frame label files, memory that stays flat over a 300-frame video with
// stream: true, and batch=N giving the same detections as batch 1 with the bundled checkpoint on
// webgpu (the frames of one video share a shape, so both letterbox with auto=True as in Ultralytics),
// and the padded imgsz square for a batch of different shapes.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu, getDevice, releaseDevices, tensor, type Tensor } from '../../engine/index.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import { Predictor, type PoseNet, type PredictArgs } from '../../tasks/predict/predictor.js';
import { probeVideo } from '../../tasks/predict/video.js';
import { YOLO } from '../../tasks/yolo.js';
import { CKPT, FIXTURES } from './reference.js';

const VIDEO = new URL('../fixtures/video/', import.meta.url).pathname;
const busMkv = VIDEO + 'bus.mkv';
const dir = mkdtempSync(join(tmpdir(), 'yolo-vpredict-'));

// A stand-in network replaying PyTorch's output for bus.jpg (as predictor.test.ts): fast, and gives detections.
const raw = readSafetensors(FIXTURES + 'raw_candidates.safetensors').tensors.get('bus.cand')!;
const standIn: PoseNet = {
  names: { 0: 'person' },
  stride: [8, 16, 32],
  kptShape: [17, 3],
  predict: (x: Tensor) => tensor(raw.data as Float32Array, [1, ...raw.shape], { device: x.device }),
};

async function run(source: string, args: PredictArgs) {
  const p = new Predictor(standIn, cpu, { imgsz: 320, conf: 0.05, project: dir, ...args });
  const log: string[] = [];
  const l = console.log;
  console.log = (s: string) => log.push(...s.split('\n'));
  let n = 0;
  try {
    for await (const r of p.stream(source)) n += r ? 1 : 0;
  } finally {
    console.log = l;
  }
  return { p, n, log };
}

t.test('per-frame lines, annotated mp4, save_frames, labels per frame', async (t) => {
  const { p, n, log } = await run(busMkv, { save: true, save_txt: true, save_frames: true, vid_stride: 3, name: 'v' });
  t.equal(n, 4);
  const lines = log.filter((l) => l.startsWith('video'));
  t.equal(lines.length, 4);
  t.match(
    lines[0],
    new RegExp(`^video 1/1 \\(frame 1/4\\) ${busMkv}: 320x256 \\d+ persons, \\d+\\.\\dms$`),
    "Ultralytics' per-frame line",
  );
  t.match(lines[3], /^video 1\/1 \(frame 4\/4\) /);
  t.match(log.at(-2), /^Results saved to .*v$/);
  const out = p.saveDir!;
  t.same(
    await probeVideo(join(out, 'bus.mp4')),
    { width: 320, height: 416, fps: 10, frames: 4 },
    'annotated video: source size and fps, one frame per prediction',
  );
  t.same(readdirSync(join(out, 'bus_frames')).sort(), ['1.jpg', '2.jpg', '3.jpg', '4.jpg']);
  t.same(
    readdirSync(join(out, 'labels')).sort(),
    ['bus_1.txt', 'bus_2.txt', 'bus_3.txt', 'bus_4.txt'],
    "labels/<stem>_<frame>.txt, as Ultralytics' write_results",
  );
  t.match(readFileSync(join(out, 'labels', 'bus_1.txt'), 'utf8'), /^0 0\.\d+ 0\.\d+ /);
});

t.test('stream: true holds one batch at a time (memory flat over 300 frames)', async (t) => {
  const clip = join(dir, 'long.mp4');
  const mk = spawnSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=640x360:rate=30',
    '-frames:v',
    '300',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    clip,
  ]);
  t.equal(mk.status, 0, 'ffmpeg made a 300-frame test video');
  const p = new Predictor(standIn, cpu, {
    imgsz: 64,
    conf: 0.05,
    verbose: false,
    save: true,
    project: dir,
    name: 'long',
  });
  const mem = () => process.memoryUsage().rss / 2 ** 20;
  const samples: number[] = [];
  let n = 0;
  for await (const r of p.stream(clip)) {
    void r;
    if (++n === 50 || n === 300) samples.push(mem());
  }
  t.equal(n, 300);
  // a frame is 0.66 MiB decoded and again plotted: keeping them would add > 300 MiB over 250 frames
  t.ok(samples[1] - samples[0] < 48, `RSS grew ${(samples[1] - samples[0]).toFixed(1)} MiB from frame 50 to 300`);
  t.equal((await probeVideo(join(p.saveDir!, 'long.mp4'))).frames, 300);
});

t.test('batch=N equals batch 1 (bundled checkpoint, webgpu)', async (t) => {
  let dev;
  try {
    dev = await getDevice('webgpu');
  } catch {
    t.skip('no WebGPU adapter');
    return;
  }
  t.teardown(releaseDevices);
  const model = new YOLO(CKPT);
  const args = { imgsz: 320, conf: 0.05, device: dev, verbose: false, vid_stride: 6 };
  const one = await model.predict(busMkv, { ...args, batch: 1 });
  const four = await model.predict(busMkv, { ...args, batch: 2 });
  t.same(
    model.predictor!.lastShape,
    [2, 3, 320, 256],
    'one (2, 3, 320, 256) forward: same-shape frames keep the minimal letterbox',
  );
  t.equal(four.length, one.length);
  let dets = 0;
  for (const [i, r] of one.entries()) {
    t.equal(four[i].boxes.length, r.boxes.length, `frame ${i + 1}: same number of detections`);
    const d = Math.max(0, ...Array.from(r.boxes.data, (v, k) => Math.abs(v - four[i].boxes.data[k])));
    const dk = Math.max(0, ...Array.from(r.keypoints!.data, (v, k) => Math.abs(v - four[i].keypoints!.data[k])));
    t.ok(
      d < 1e-3 && dk < 1e-2,
      `frame ${i + 1}: boxes/conf within ${d.toExponential(1)}, keypoints within ${dk.toExponential(1)}`,
    );
    dets += r.boxes.length;
  }
  t.ok(dets > 0, `${dets} detections compared`);
  // different shapes: Ultralytics letterboxes the batch to the full imgsz square (auto=False)
  const imgs = ['bus.jpg', 'zidane.jpg'].map((f) => FIXTURES + 'images/' + f);
  const mixed = await model.predict(imgs, { ...args, batch: 2 });
  t.same(model.predictor!.lastShape, [2, 3, 320, 320], 'a batch of different shapes is padded to imgsz x imgsz');
  t.equal(mixed.length, 2);
  t.ok(existsSync(CKPT));
});
