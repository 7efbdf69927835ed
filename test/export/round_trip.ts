// Shared setup and checks of the export tests (imported, not run by tap: tap's include is *.test.ts).
// setupCheckpoint: the device and a temp copy of the trained coco128 checkpoint. setupRoundTrip adds
// the square bus.jpg crop (the predictor's letterbox is then the same for the .pt and a fixed-size
// export) and the fp32 and half=True exports at 320. roundTripTests / valMatchesOnnx are the
// "runs back through the engine with the .pt model's predictions" and "val gives the fixed-size ONNX
// export metrics" tests of the folder formats (ncnn, OpenVINO, Paddle, CoreML).
import type { Test } from 'tap';
import t from 'tap';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import * as E from '../../engine/index.js';
import { YOLO, type Results } from '../../tasks/yolo.js';
import type { OnnxPoseModel } from '../../tasks/export/onnx_model.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import { readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';

/** WebGPU when there is one (released at teardown), a temp dir `tmpPrefix`XXXXXX and coco128.pt copied into it. */
export async function setupCheckpoint(tmpPrefix: string) {
  const gpu = await E.openWebGPU();
  const device = gpu ? 'webgpu' : 'cpu';
  t.teardown(E.releaseDevices);
  const dir = mkdtempSync(join(tmpdir(), tmpPrefix));
  const pt = join(dir, 'coco128.pt');
  copyFileSync('test/fixtures/predict/yolov8n-pose-coco128.pt', pt);
  return { device, dir, pt } as const;
}

export type RoundTrip = Awaited<ReturnType<typeof setupRoundTrip>>;

/** setupCheckpoint, then the square bus PNG and the fp32 and half=True `format` exports at S = 320. */
export async function setupRoundTrip(format: string, tmpPrefix: string) {
  const { device, dir, pt } = await setupCheckpoint(tmpPrefix);
  const quiet = { verbose: false, conf: 0.05 } as const;
  const S = 320,
    A = (S / 8) ** 2 + (S / 16) ** 2 + (S / 32) ** 2;

  // a square image: the predictor's letterbox is then the same for the .pt and the fixed-size export
  const bus = readImage('test/fixtures/images/bus.jpg');
  const side = Math.min(bus.width, bus.height);
  const png = new PNG({ width: side, height: side });
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const s = (y * bus.width + x) * 3,
        d = (y * side + x) * 4;
      ((png.data[d] = bus.data[s]),
        (png.data[d + 1] = bus.data[s + 1]),
        (png.data[d + 2] = bus.data[s + 2]),
        (png.data[d + 3] = 255));
    }
  const square = join(dir, 'bus_square.png');
  writeFileSync(square, PNG.sync.write(png));

  const folder = await new YOLO(pt).export({ format, imgsz: S, verbose: false });
  const halfPt = join(dir, 'half.pt');
  copyFileSync(pt, halfPt);
  const halfFolder = await new YOLO(halfPt).export({ format, imgsz: S, half: true, verbose: false });
  return { device, dir, pt, quiet, S, A, square, folder, halfFolder };
}

const rows = (r: Results) => r.boxes.xyxy.map((b, i) => ({ xyxy: b, kpts: r.keypoints!.xy[i].flat() }));
const iou = (a: number[], b: number[]) => {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])),
    h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  return (w * h) / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h);
};

/** The per-format wording (and ncnn's extra stride check and separate count assertions). */
export interface RoundTripMessages {
  /** message of the metadata assertion */
  metaLabel: string;
  /** also compare the model's stride ([32]) with the metadata's */
  stride?: boolean;
  /** assert "some people" and "the same count" separately instead of in one assertion */
  separateCount?: boolean;
  /** message of the fp32 raw-output assertion, given the max |Δ| */
  rawMessage: (d: number, A: number) => string;
  /** 'fp16 weights' or 'f16 weights' */
  halfLabel: string;
  /** put the measured fp16 IoU in the message (otherwise a fixed '>= 0.99') */
  halfIouInMessage?: boolean;
}

/** Predicting through the exported folder gives the .pt model's detections (square input) and raw outputs; the half export the same detections. */
export function roundTripTests(tt: Test, ctx: RoundTrip, msg: RoundTripMessages) {
  const { device, pt, quiet, S, A, square, folder, halfFolder } = ctx;
  tt.test('round trip: YOLO(<folder>) predicts what the .pt predicts', async (t) => {
    const ref = await new YOLO(pt).predict(square, { imgsz: S, device, ...quiet });
    const m = new YOLO(folder);
    const res = await m.predict(square, { device, ...quiet });
    const om = m.model as OnnxPoseModel;
    if (msg.stride)
      t.same([om.imgsz, om.kptShape, om.stride, m.names], [[S, S], [17, 3], [32], { 0: 'person' }], msg.metaLabel);
    else t.same([om.imgsz, om.kptShape, m.names], [[S, S], [17, 3], { 0: 'person' }], msg.metaLabel);
    const a = rows(res[0]),
      b = rows(ref[0]);
    if (msg.separateCount) {
      t.ok(b.length > 0, `${b.length} people`);
      t.equal(a.length, b.length);
    } else t.ok(b.length > 0 && a.length === b.length, `${b.length} people`);
    let minIou = 1,
      dK = 0;
    a.forEach((d, k) => {
      minIou = Math.min(minIou, iou(d.xyxy, b[k].xyxy));
      for (let j = 0; j < d.kpts.length; j++) dK = Math.max(dK, Math.abs(d.kpts[j] - b[k].kpts[j]));
    });
    t.ok(minIou >= 0.999 && dK <= 0.01, `box IoU >= ${minIou.toFixed(5)}, keypoints max |Δ| ${dK.toExponential(1)} px`);

    // raw outputs on one square letterboxed input, fp32 and fp16 weights
    const img = letterbox(readImage('test/fixtures/images/zidane.jpg'), { newShape: S, auto: false }).image;
    const out = async (mm: { predict(x: E.Tensor): E.Tensor; device?: E.Device }) => {
      const x = E.tensor(toCHWFloat(img), [1, 3, S, S], { device: mm.device });
      const y = mm.predict(x);
      const d = (await y.data()) as Float32Array;
      (x.dispose(), y.dispose());
      return d;
    };
    const r = await out((await new YOLO(pt).load(device)) as PoseModel),
      n = await out(om);
    const d = n.reduce((s, v, k) => Math.max(s, Math.abs(v - r[k])), 0);
    t.ok(d < 2e-3, msg.rawMessage(d, A));
    const half = rows((await new YOLO(halfFolder).predict(square, { device, ...quiet }))[0]);
    t.equal(half.length, b.length, `${msg.halfLabel}: the same detections`);
    const hIou = Math.min(...half.map((h, k) => iou(h.xyxy, b[k].xyxy)));
    t.ok(
      hIou >= 0.99,
      msg.halfIouInMessage ? `${msg.halfLabel}: box IoU >= ${hIou.toFixed(4)}` : `${msg.halfLabel}: box IoU >= 0.99`,
    );
  });
}

/** val through the folder gives the metrics of the fixed-size ONNX export (the same square batches). */
export function valMatchesOnnx(
  tt: Test,
  ctx: RoundTrip,
  label: string,
  message: (b: { pose: { map: number }; box: { map: number } }, d: number) => string,
) {
  const { device, dir, pt, S, folder } = ctx;
  tt.test(`val through the ${label} gives the fixed-size ONNX export metrics`, async (t) => {
    const onnxPt = join(dir, 'sq.pt');
    copyFileSync(pt, onnxPt);
    const onnx = await new YOLO(onnxPt).export({ format: 'onnx', imgsz: S, verbose: false });
    const args = {
      data: 'test/fixtures/val/coco8-pose/coco8-pose.yaml',
      plots: false,
      save_dir: join(dir, 'val'),
      verbose: false,
      device,
    };
    const a = await new YOLO(onnx).val(args),
      b = await new YOLO(folder).val(args);
    t.equal(b.seen, a.seen);
    const d = Math.max(
      Math.abs(a.metrics.pose.map - b.metrics.pose.map),
      Math.abs(a.metrics.box.map - b.metrics.box.map),
    );
    t.ok(d <= 1e-4, message(b.metrics, d));
  });
}

/** The val message of OpenVINO, Paddle and CoreML. */
export const boxMapMessage = (b: { box: { map: number } }, d: number) =>
  `box mAP50-95 ${b.box.map.toFixed(4)}; |Δ| ${d.toExponential(1)} vs the same batches through ONNX`;
