import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildPoseModel } from '../../models/index.js';
import { hasGraphviz, toDot, traceModule, writeGraph } from '../../engine/graph/index.js';

const m = buildPoseModel('yolov8n-pose.yaml', { seed: 0 }).eval();
const g = traceModule(m, [{ shape: ['B', 3, 'H', 'W'] }]);
const dir = mkdtempSync(join(tmpdir(), 'graph-dot-'));

t.test('toString: a header, the constants, one line per node with shapes and module, the return', async (t) => {
  const lines = g.toString().split('\n');
  const constants = g.values.filter((v) => v.kind === 'constant').length;
  t.equal(lines.length, 1 + constants + g.nodes.length + 1);
  t.equal(lines[0], 'graph(%0: f32[B,3,H,W])  sizes {"B":1,"H":640,"W":640}');
  t.match(
    lines[1 + constants],
    /^ {2}%\d+ = conv2d\(%0, model\.0\.conv\.weight, _\) stride=\[2,2\] padding=\[1,1\] dilation=\[1,1\] groups=1 act=null -> f32\[B,16,H\/2,W\/2\] {2}# model\.0\.conv$/,
  );
  t.match(
    lines.find((l) => l.includes('= dfl('))!,
    /regMax=16 -> f32\[B,4,H\*W\*21\/1024\] {2}# model\.22\.dfl$/,
  );
  t.match(lines.at(-1)!, /^ {2}return \[%\d+,\[\[%\d+,%\d+,%\d+\],%\d+\]\]$/);
});

t.test('dot: a box per node, an edge per activation read, a cluster per layer', async (t) => {
  const dot = toDot(g, { name: 'yolov8n-pose' });
  const boxes = dot.match(/^\s+n\d+ \[label=/gm)!.length;
  t.equal(boxes, g.nodes.length);
  const reads = g.nodes.reduce(
    (s, n) => s + n.inputs.filter((i) => i !== null && ['node', 'input'].includes(g.values[i].kind)).length,
    0,
  );
  t.equal(dot.match(/^\s+(n|v)\d+ -> n\d+/gm)!.length, reads);
  t.equal(dot.match(/subgraph cluster_/g)!.length, 23, 'model.0 ... model.22');
  if (!hasGraphviz()) return t.comment('graphviz not installed: PNG not checked');
  const canon = spawnSync('dot', ['-Tcanon'], { input: dot, encoding: 'utf8', maxBuffer: 1 << 28 });
  t.equal(canon.status, 0, `dot parses it ${canon.stderr}`);
  const png = join(dir, 'n.png');
  writeGraph(g, png);
  t.same([...readFileSync(png).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
});

t.test('yolo info graph=file.dot writes the traced graph', async (t) => {
  const f = join(dir, 'n.dot');
  const r = spawnSync(
    process.execPath,
    ['--import=tsx', 'tasks/cli.ts', 'info', 'model=yolov8n-pose.yaml', 'imgsz=320', `graph=${f}`],
    { encoding: 'utf8', timeout: 120_000 },
  );
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /graph of yolov8n-pose\.yaml at 320x320 written to/);
  t.match(readFileSync(f, 'utf8'), /^digraph "yolov8n-pose\.yaml" \{[\s\S]*conv2d[\s\S]*\[1,56,2100\]/);
  t.throws(() => writeGraph(g, join(dir, 'n.txt')), /expected a \.dot, \.gv, \.png, \.svg or \.pdf file/);
});
