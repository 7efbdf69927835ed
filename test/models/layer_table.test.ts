import t from 'tap';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { buildPoseModel, layerTable } from '../../models/index.js';

// Ultralytics 8.2.82's own tables, made by test/fixtures/models/gen_layer_tables.py.
const golden = new Map<string, string>();
for (const block of readFileSync('test/fixtures/models/layer_tables.txt', 'utf8').split(/^=== /m).slice(1)) {
  const nl = block.indexOf('\n');
  golden.set(block.slice(0, nl), block.slice(nl + 1).replace(/\n$/, ''));
}

t.test('the per-layer table equals Ultralytics parse_model line for line', async (t) => {
  t.equal(golden.size, 7);
  for (const [tag, want] of golden) {
    const [, name, nc, k, ndim] = /^(\S+)(?: nc=(\d+) kpt_shape=\[(\d+), (\d+)\])?$/.exec(tag)!;
    const m = buildPoseModel(name, nc ? { nc: Number(nc), kptShape: [Number(k), Number(ndim)] } : {});
    t.equal(layerTable(m).join('\n').replace(/^\n/, ''), want, tag);
  }
});

t.test('yolo info verbose=True prints the table above the summary', async (t) => {
  const r = spawnSync(
    process.execPath,
    ['--import=tsx', 'tasks/cli.ts', 'info', 'model=yolov8n-pose.yaml', 'verbose=True'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.match(lines[1], /^\s+from\s+n\s+params\s+module\s+arguments/);
  t.match(
    lines.find((l) => l.startsWith(' 22'))!,
    /^ 22        \[15, 18, 21\]  1   1035934  ultralytics\.nn\.modules\.head\.Pose\s+\[1, \[17, 3\], \[64, 128, 256\]\]/,
  );
  t.match(lines.at(-1)!, /^YOLOv8n-pose summary: 250 layers, 3,295,470 parameters, 3,295,454 gradients, 9\.3 GFLOPs$/);
});
