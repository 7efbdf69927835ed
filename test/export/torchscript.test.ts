// format=torchscript (Ultralytics' default export): the archive our own writer makes must be what
// torch.jit.load (Debian python3-torch 1.13 at /usr/bin/python3) loads and runs, computing what the
// engine computes (cpu) within 1e-4 relative (max|Δ| / max|ref|), with Ultralytics' metadata as the
// config.txt extra file that AutoBackend reads. A missing torch fails this test (never a skip).
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cpu, noGrad, rand } from '../../engine/index.js';
import { loadPoseModel } from '../../models/index.js';
import { YOLO } from '../../tasks/yolo.js';
import { exportModel } from '../../tasks/export/exporter.js';

const PT = 'test/fixtures/predict/yolov8n-pose-coco128.pt';
const dir = mkdtempSync(join(tmpdir(), 'yolo-ts-'));
const pt = join(dir, 'coco128.pt');
copyFileSync(PT, pt);

// Loads the archive, prints its config.txt and parameter/buffer names, runs x.bin and writes y.bin.
const RUN = `
import sys, json, numpy as np, torch
f, xf, yf, shape = sys.argv[1], sys.argv[2], sys.argv[3], [int(v) for v in sys.argv[4].split(',')]
extra = {'config.txt': ''}
m = torch.jit.load(f, _extra_files=extra)
x = torch.from_numpy(np.fromfile(xf, dtype=np.float32).reshape(shape))
with torch.no_grad():
    y = m(x)
y.numpy().astype(np.float32).tofile(yf)
print(json.dumps({'config': extra['config.txt'].decode(), 'shape': list(y.shape), 'training': m.training,
                  'params': len(list(m.parameters())), 'buffers': [n for n, _ in m.named_buffers()], 'torch': torch.__version__}))
`;

function torchRun(file: string, x: Float32Array, shape: number[]) {
  const xf = join(dir, 'x.bin'),
    yf = join(dir, 'y.bin');
  writeFileSync(xf, x);
  const py = spawnSync('/usr/bin/python3', ['-c', RUN, file, xf, yf, shape.join(',')], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (py.status !== 0)
    throw new Error(
      `torch.jit.load/run failed (status ${py.status}; needs Debian python3-torch at /usr/bin/python3): ${py.error ?? ''}${py.stderr.slice(-1500)}`,
    );
  const info = JSON.parse(py.stdout.trim().split('\n').pop()!);
  const b = readFileSync(yf);
  return { info, y: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4) };
}

const relErr = (got: Float32Array, ref: Float32Array) => {
  let d = 0,
    mx = 0;
  for (let i = 0; i < ref.length; i++)
    ((d = Math.max(d, Math.abs(got[i] - ref[i]))), (mx = Math.max(mx, Math.abs(ref[i]))));
  return d / mx;
};

t.test('yolo export (default format) writes <stem>.torchscript that torch.jit.load runs like the engine', async (t) => {
  const logs: string[] = [];
  const log = console.log;
  console.log = (s: string) => logs.push(s);
  let f: string;
  try {
    f = await new YOLO(pt).export({ imgsz: 160 });
  } finally {
    console.log = log;
  }
  t.equal(
    f,
    join(dir, 'coco128.torchscript'),
    'format defaults to torchscript; suffix .torchscript beside the weights',
  );
  const out = logs.join('\n');
  t.match(
    out,
    /PyTorch: starting from '.*coco128\.pt' with input shape \(1, 3, 160, 160\) BCHW and output shape\(s\) \(1, 56, 525\)/,
  );
  t.match(out, /TorchScript: starting export with yolo-ts/);
  t.match(out, /TorchScript: export success ✅ [\d.]+s, saved as '.*coco128\.torchscript' \([\d.]+ MB\)/);
  t.match(out, /Predict: +yolo predict task=pose model=.*coco128\.torchscript imgsz=160/);
  t.match(out, /Validate: +yolo val task=pose model=.*coco128\.torchscript imgsz=160 data=/);

  const m = loadPoseModel(pt, { device: cpu }).eval();
  const x = rand([1, 3, 160, 160], { device: cpu });
  const ref = noGrad(() => m.predict(x)).dataSync() as Float32Array;
  const { info, y } = torchRun(f, x.dataSync() as Float32Array, [1, 3, 160, 160]);
  t.same(info.shape, [1, 56, 525]);
  t.equal(y.length, ref.length);
  const e = relErr(y, ref);
  t.ok(
    e <= 1e-4,
    `torch ${info.torch} vs engine: max|Δ|/max|ref| = ${e.toExponential(2)} <= 1e-4 (${(statSync(f).size / 2 ** 20).toFixed(2)} MB)`,
  );
  t.equal(info.training, false, 'saved in eval mode');
  t.same(info.buffers.sort(), ['model_22_anchors', 'model_22_strides'], 'anchors and strides are buffers');

  // AutoBackend: json.loads(extra_files['config.txt'])
  const meta = JSON.parse(info.config);
  t.same(Object.keys(meta), [
    'description',
    'author',
    'date',
    'version',
    'license',
    'docs',
    'stride',
    'task',
    'batch',
    'imgsz',
    'names',
    'kpt_shape',
  ]);
  t.same(
    [meta.stride, meta.task, meta.batch, meta.imgsz, meta.names, meta.kpt_shape, meta.author, meta.version],
    [32, 'pose', 1, [160, 160], { 0: 'person' }, [17, 3], 'Ultralytics', '8.2.82'],
  );
  t.match(
    info.config,
    /^\{"description": "Ultralytics YOLOv8n-pose model trained on .*", "author": "Ultralytics", /,
    "json.dumps' separators",
  );
});

t.test('batch, rectangular imgsz and an unfused model; optimize=True is accepted and explained', async (t) => {
  const m = loadPoseModel(pt, { device: cpu }).eval();
  const logs: string[] = [];
  const f = join(dir, 'rect.torchscript');
  const log = console.log;
  console.log = (s: string) => logs.push(s);
  try {
    await exportModel(
      m,
      { format: 'torchscript', imgsz: [96, 128], batch: 2, optimize: true },
      { file: join(dir, 'rect.pt') },
    );
  } finally {
    console.log = log;
  }
  t.match(logs.join('\n'), /TorchScript: optimize=True: .*BatchNorm folded/);
  const x = rand([2, 3, 96, 128], { device: cpu });
  const ref = noGrad(() => m.predict(x)).dataSync() as Float32Array;
  const { info, y } = torchRun(f, x.dataSync() as Float32Array, [2, 3, 96, 128]);
  t.same(info.shape, [2, 56, 252]);
  const e = relErr(y, ref);
  t.ok(e <= 1e-4, `batch 2, 96x128: max|Δ|/max|ref| = ${e.toExponential(2)} <= 1e-4`);
  t.same(JSON.parse(info.config).imgsz, [96, 128]);
});
