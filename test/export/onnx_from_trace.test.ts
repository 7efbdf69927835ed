// The exporter now lowers the traced graph (engine/graph -> tasks/export/onnx_lower.ts). It must write
// what the per-block writer it replaced wrote, node for node: names, ops, inputs, outputs, attributes,
// Constant values and initializer bytes (test/fixtures/onnx/yolov8n-pose-seed0-160.nodes.txt, made from
// that writer's files); onnxruntime must compute what the engine computes; onnx.checker's full check
// must accept static, dynamic and fp16 files.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { cpu, noGrad, rand } from '../../engine/index.js';
import { loadPoseModel } from '../../models/index.js';
import { buildOnnx, type ExportArgs } from '../../tasks/export/exporter.js';
import { nodeList } from '../fixtures/onnx/node_list.js';

const WEIGHTS = 'test/fixtures/models/yolov8n-pose-seed0.pt';
const reference = new Map<string, string>();
for (const block of readFileSync('test/fixtures/onnx/yolov8n-pose-seed0-160.nodes.txt', 'utf8')
  .split(/^=== /m)
  .slice(1)) {
  const nl = block.indexOf('\n');
  reference.set(block.slice(0, nl), block.slice(nl + 1).trimEnd());
}
const CASES: [string, boolean, ExportArgs][] = [
  ['n_fused_static', true, { imgsz: 160 }],
  ['n_fused_dynamic', true, { imgsz: 160, dynamic: true }],
  ['n_unfused_dynamic_half_b2', false, { imgsz: [128, 192], dynamic: true, half: true, batch: 2 }],
];
const dir = mkdtempSync(join(tmpdir(), 'onnx-trace-'));

t.test('node for node what the per-block writer wrote', async (t) => {
  t.equal(reference.size, 3);
  for (const [name, fused, args] of CASES) {
    const m = loadPoseModel(WEIGHTS, { device: cpu }).eval();
    if (fused) m.fuse();
    const ex = await buildOnnx(m, { verbose: false, ...args });
    const got = nodeList(ex.proto),
      want = reference.get(name)!.split('\n');
    const first = got.findIndex((l, i) => l !== want[i]);
    t.equal(first, -1, `${name}: first difference at line ${first}: ${got[first]} vs ${want[first]}`);
    t.equal(got.length, want.length, `${name}: ${want.length} lines`);
    writeFileSync(join(dir, `${name}.onnx`), ex.bytes);
  }
});

t.test('onnxruntime equals the engine (cpu) on the static and dynamic files', async (t) => {
  const m = loadPoseModel(WEIGHTS, { device: cpu }).eval().fuse();
  for (const [name, shape] of [
    ['n_fused_static', [1, 3, 160, 160]],
    ['n_fused_dynamic', [2, 3, 96, 128]],
  ] as const) {
    const x = rand([...shape], { device: cpu });
    const y = noGrad(() => m.predict(x)).dataSync();
    const s = await ort.InferenceSession.create(readFileSync(join(dir, `${name}.onnx`)));
    const r = (await s.run({ images: new ort.Tensor('float32', x.dataSync() as Float32Array, [...shape]) })).output0;
    await s.release();
    let d = 0,
      mx = 0;
    for (let i = 0; i < y.length; i++)
      ((d = Math.max(d, Math.abs((r.data[i] as number) - y[i]))), (mx = Math.max(mx, Math.abs(y[i]))));
    t.equal(r.data.length, y.length);
    t.ok(d / mx <= 1e-6, `${name}: max |ort - engine| / max |engine| = ${(d / mx).toExponential(2)} <= 1e-6`);
  }
});

t.test('onnx.checker full check: static, dynamic, fp16', async (t) => {
  for (const [name] of CASES) {
    const py = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        'import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print("ok")',
        join(dir, `${name}.onnx`),
      ],
      { encoding: 'utf8' },
    );
    if (py.error || /No module named/.test(py.stderr)) {
      t.comment('python3-onnx not installed: checker skipped');
      return;
    }
    t.equal(py.stdout.trim(), 'ok', `${name} ${py.stderr.slice(-300)}`);
  }
});
