// Loading a .torchscript back for predict/val, as Ultralytics' AutoBackend does with torch.jit.load:
// the archive ./torchscript.ts writes (data.pkl module + straight-line code + config.txt) runs through
// the engine (tasks/export/torchscript_import.ts) with the .pt model's predictions on the same square
// input and the fixed-size ONNX export's val metrics; a foreign op fails naming the op and the file.
import t from 'tap';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { YOLO } from '../../tasks/yolo.js';
import type { PoseModel } from '../../models/yolov8_pose.js';
import type { OnnxPoseModel } from '../../tasks/export/onnx_model.js';
import { ZipReader, zipToBuffer } from '../../engine/io/zip.js';
import { parseExpr } from '../../tasks/export/torchscript_import.js';
import { readImage } from '../../tasks/data/image.js';
import { letterbox, toCHWFloat } from '../../tasks/data/letterbox.js';
import { setupCheckpoint, valMatchesOnnx, boxMapMessage, type RoundTrip } from './round_trip.js';

const { device, dir, pt } = await setupCheckpoint('yolo-tsi-');
const S = 320,
  quiet = { verbose: false, conf: 0.05 } as const;
const ts = await new YOLO(pt).export({ format: 'torchscript', imgsz: S, verbose: false });
const square = join(dir, 'bus_square.png');
{
  // the square crop of bus.jpg: the .pt's letterbox equals the fixed-size export's
  const { PNG } = await import('pngjs');
  const bus = readImage('test/fixtures/images/bus.jpg'),
    side = Math.min(bus.width, bus.height);
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
  writeFileSync(square, PNG.sync.write(png));
}

t.test('the expression parser reads what the writer emits', async (t) => {
  t.same(parseExpr('torch.reshape(torch.conv2d(_3, self.w, None, [1, 1], [0, 0], [1, 1], 1), [1, 4, -1])', 'x'), {
    call: 'torch.reshape',
    args: [
      {
        call: 'torch.conv2d',
        args: [
          { name: '_3' },
          { name: 'self.w' },
          { none: true },
          { list: [{ num: 1 }, { num: 1 }] },
          { list: [{ num: 0 }, { num: 0 }] },
          { list: [{ num: 1 }, { num: 1 }] },
          { num: 1 },
        ],
      },
      { list: [{ num: 1 }, { num: 4 }, { num: -1 }] },
    ],
  });
  t.same(parseExpr('torch.mul(_1, 0.5)', 'x'), { call: 'torch.mul', args: [{ name: '_1' }, { num: 0.5 }] });
  t.throws(() => parseExpr('torch.add(_1, _2', 'f.py: forward line 3'), /f\.py: forward line 3: /);
  t.throws(() => parseExpr('_1 if x else _2', 'f.py'), /f\.py: trailing/);
});

const iou = (a: number[], b: number[]) => {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])),
    h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  return (w * h) / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h);
};

t.test("round trip: YOLO('<stem>.torchscript') predicts what the .pt predicts", async (t) => {
  const ref = (await new YOLO(pt).predict(square, { imgsz: S, device, ...quiet }))[0];
  const m = new YOLO(ts);
  const res = (await m.predict(square, { device, ...quiet }))[0];
  const om = m.model as OnnxPoseModel;
  t.same(
    [om.imgsz, om.kptShape, om.stride, m.names],
    [[S, S], [17, 3], [32], { 0: 'person' }],
    'metadata from extra/config.txt',
  );
  t.ok(ref.boxes.xyxy.length > 0 && res.boxes.xyxy.length === ref.boxes.xyxy.length, `${ref.boxes.xyxy.length} people`);
  let minIou = 1,
    dK = 0;
  res.boxes.xyxy.forEach((b, i) => {
    minIou = Math.min(minIou, iou(b, ref.boxes.xyxy[i]));
    res.keypoints!.xy[i].flat().forEach((v, j) => (dK = Math.max(dK, Math.abs(v - ref.keypoints!.xy[i].flat()[j]))));
  });
  t.ok(minIou >= 0.999 && dK <= 0.01, `box IoU >= ${minIou.toFixed(5)}, keypoints max |Δ| ${dK.toExponential(1)} px`);
  const img = letterbox(readImage('test/fixtures/images/zidane.jpg'), { newShape: S, auto: false }).image;
  const out = async (mm: { predict(x: E.Tensor): E.Tensor; device?: E.Device }) => {
    const x = E.tensor(toCHWFloat(img), [1, 3, S, S], { device: mm.device });
    const y = mm.predict(x);
    const d = (await y.data()) as Float32Array;
    (x.dispose(), y.dispose());
    return d;
  };
  const a = await out((await new YOLO(pt).load(device)) as PoseModel),
    b = await out(om);
  const d = b.reduce((s, v, k) => Math.max(s, Math.abs(v - a[k])), 0);
  t.ok(d < 2e-3, `raw (1, 56, ${a.length / 56}) outputs max |Δ| ${d.toExponential(2)}`);
});

valMatchesOnnx(t, { device, dir, pt, S, folder: ts } as unknown as RoundTrip, 'TorchScript archive', boxMapMessage);

t.test('bad input: an op this importer does not implement, a tensor data.pkl lacks', async (t) => {
  const zip = new ZipReader(new Uint8Array(readFileSync(ts)), ts);
  const edit = (file: string, f: (code: string) => string) => {
    const entries = zip.names().map((name) => ({
      name,
      data: name.endsWith('.py')
        ? new TextEncoder().encode(f(new TextDecoder().decode(zip.read(name))))
        : zip.read(name),
    }));
    writeFileSync(file, zipToBuffer(entries));
    return file;
  };
  const gelu = edit(join(dir, 'gelu.torchscript'), (c) => c.replace('torch.silu(', 'torch.gelu('));
  await t.rejects(
    new YOLO(gelu).predict(square, { device, ...quiet }),
    /gelu\.torchscript: forward calls 'torch\.gelu', which this importer does not implement/,
  );
  const lost = edit(join(dir, 'lost.torchscript'), (c) =>
    c.replace('self.model_0_conv_weight,', 'self.model_0_conv_weightx,'),
  );
  await t.rejects(
    new YOLO(lost).predict(square, { device, ...quiet }),
    /lost\.torchscript: forward reads 'self\.model_0_conv_weightx', which data\.pkl does not hold/,
  );
  const flow = edit(join(dir, 'flow.torchscript'), (c) => c.replace(/(\n    return )/, '\n    if True:\n      pass$1'));
  await t.rejects(
    new YOLO(flow).predict(square, { device, ...quiet }),
    /is not an assignment \(this importer reads straight-line forwards: no control flow\)/,
  );
});
