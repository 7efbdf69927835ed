// TensorRT (format=engine) as a guided step: the ONNX Ultralytics' export_engine parses (float32,
// dynamic when asked) and one line with the trtexec command that builds the same engine. Without
// an NVIDIA adapter and trtexec (this machine) nothing else runs.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { YOLO } from '../../tasks/yolo.js';
import { decodeModel, DataType } from '../../engine/io/onnx_proto.js';
import { trtexecCommand } from '../../tasks/export/tensorrt_export.js';

t.teardown(E.releaseDevices);
const dir = mkdtempSync(join(tmpdir(), 'yolo-trt-'));
const pt = join(dir, 'm.pt');
copyFileSync('test/fixtures/predict/yolov8n-pose-coco128.pt', pt);

const captured = async (f: () => Promise<string>) => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(String(s));
  try {
    return { out: await f(), lines };
  } finally {
    console.log = log;
  }
};

t.test('half=True: the float32 ONNX and the trtexec line with --fp16', async (t) => {
  const { out, lines } = await captured(() => new YOLO(pt).export({ format: 'engine', imgsz: 160, half: true }));
  t.equal(out, join(dir, 'm.onnx'), 'the ONNX beside the weights');
  const onnx = join(dir, 'm.onnx'),
    engine = join(dir, 'm.engine');
  const line = lines.find((l) => l.startsWith('TensorRT: '))!;
  t.match(
    line,
    /^TensorRT: (trtexec is not on PATH|no NVIDIA GPU adapter); build the FP16 engine on an NVIDIA GPU with: /,
  );
  t.ok(line.endsWith(`: trtexec --onnx=${onnx} --saveEngine=${engine} --memPoolSize=workspace:4096M --fp16`), line);
  const m = decodeModel(readFileSync(onnx));
  t.ok(
    m.graph!.initializer!.every((i) => i.data_type === DataType.FLOAT),
    'float32 initializers: FP16 is the builder flag, as in export_engine',
  );
  t.same(
    m.graph!.input![0].type!.tensor_type!.shape!.dim!.map((d) => d.dim_value),
    [1, 3, 160, 160],
  );
});

t.test("dynamic=True: Ultralytics' optimization profile", async (t) => {
  t.same(
    trtexecCommand('a.onnx', 'a.engine', { half: false, dynamic: true, workspace: 4, batch: 16, imgsz: [640, 640] }),
    [
      'trtexec',
      '--onnx=a.onnx',
      '--saveEngine=a.engine',
      '--memPoolSize=workspace:4096M',
      '--minShapes=images:1x3x32x32',
      '--optShapes=images:16x3x640x640',
      '--maxShapes=images:16x3x2560x2560',
    ],
  );
  const { lines } = await captured(() =>
    new YOLO(pt).export({ format: 'engine', imgsz: 160, dynamic: true, batch: 2, workspace: 1 }),
  );
  t.ok(
    lines.some((l) =>
      l.endsWith(
        `--memPoolSize=workspace:1024M --minShapes=images:1x3x32x32 --optShapes=images:2x3x160x160 --maxShapes=images:2x3x160x160`,
      ),
    ),
    'the dynamic command',
  );
  const m = decodeModel(readFileSync(join(dir, 'm.onnx')));
  t.same(
    m.graph!.input![0].type!.tensor_type!.shape!.dim!.map((d) => d.dim_param),
    ['batch', undefined, 'height', 'width'],
    'a dynamic ONNX',
  );
});

t.test('int8 is refused naming the calibrator it needs', async (t) => {
  await t.rejects(
    new YOLO(pt).export({ format: 'engine', int8: true, verbose: false }),
    /int8=True for format='engine' needs TensorRT's INT8 calibrator/,
  );
});
