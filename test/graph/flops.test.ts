import t from 'tap';
import { buildPoseModel } from '../../models/index.js';
import { Module } from '../../nn/module.js';
import { BatchNorm2d, Conv2d } from '../../nn/layers.js';
import { cpu, matmul, rand, type Tensor } from '../../engine/index.js';
import { traceModule } from '../../engine/graph/index.js';
import { graphOps, nodeOps } from '../../engine/graph/flops.js';

class Small extends Module {
  constructor() {
    super();
    this.registerModule('conv', new Conv2d(3, 8, 3, { stride: 2, padding: 1, groups: 1 }));
    this.registerModule('dw', new Conv2d(8, 8, 3, { padding: 1, groups: 4, bias: false }));
    this.registerModule('bn', new BatchNorm2d(8));
    this.registerParameter('w', rand([16, 5], { device: cpu }));
  }
  override forward(x: Tensor): Tensor {
    const y = this.child('bn')!
      .forward(this.child('dw')!.forward(this.child('conv')!.forward(x)))
      .silu(); // (1, 8, 4, 4)
    return matmul(y.reshape([1, 8, 16]), this.tensor('w')); // (1, 8, 5)
  }
}

t.test("thop's rules per node", async (t) => {
  const g = traceModule(new Small().eval(), [[1, 3, 8, 8]]);
  const by = (op: string) => g.nodes.filter((n) => n.op === op).map((n) => nodeOps(g, n));
  t.same(by('conv2d'), [8 * 4 * 4 * 3 * 9, 8 * 4 * 4 * 2 * 9], 'conv: out elements x in/groups x k x k, bias free');
  t.same(by('batch_norm2d'), [4 * 8 * 16]);
  t.same(by('matmul'), [8 * 5 * 16], 'matmul: out elements x K');
  t.same(by('silu'), [0]);
  const { total, byModule } = graphOps(g);
  t.equal(total, 3456 + 2304 + 512 + 640);
  t.equal(byModule.get('dw'), 2304);
});

// The counts the per-module `profile` methods gave before the trace replaced them (commit d35dbe5),
// which match Ultralytics' published GFLOPs (test/models/summary.test.ts): the trace must give
// exactly these, fused and unfused, in either mode.
const BEFORE: [string, number, number, number][] = [
  ['yolov8n-pose.yaml', 640, 9.2935376, 9.1777296],
  ['yolov8s-pose.yaml', 640, 30.4019152, 30.185755199999996],
  ['yolov8m-pose.yaml', 640, 81.40622880000001, 81.02243999999999],
  ['yolov8l-pose.yaml', 640, 169.1447296, 168.54999039999998],
  ['yolov8x-pose.yaml', 640, 263.95160319999997, 263.2081792],
  ['yolov8x-pose-p6.yaml', 1280, 1069.400512, 1066.367424],
];

t.test('GFLOPs from the trace equal the old per-module counts exactly', async (t) => {
  for (const [name, imgsz, unfused, fused] of BEFORE) {
    const m = buildPoseModel(name, { seed: 0 });
    t.equal(m.gflops(imgsz), unfused, `${name} unfused, train mode`);
    t.equal(m.eval().gflops(imgsz), unfused, `${name} unfused, eval mode`);
    t.equal(m.fuse().gflops(imgsz), fused, `${name} fused`);
    t.equal(m.training, false, 'the mode is restored');
  }
});
