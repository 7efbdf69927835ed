import t from 'tap';
import * as E from '../../engine/index.js';
import { C2, C2f, Conv, DFL, Module, Pose, SPPF, dist2bbox, makeAnchors } from '../../nn/index.js';
import { assertClose, testDevices } from '../helpers.js';
import { traceModule } from '../../engine/graph/index.js';

const devices = await testDevices(t, { wasm: true });

t.test('makeAnchors: cell centres level by level, row-major, with their strides', async (t) => {
  const a = makeAnchors(
    [
      [2, 3],
      [1, 1],
    ],
    [8, 16],
  );
  t.same([...a.points], [0.5, 0.5, 1.5, 0.5, 2.5, 0.5, 0.5, 1.5, 1.5, 1.5, 2.5, 1.5, 0.5, 0.5]);
  t.same([...a.strides], [8, 8, 8, 8, 8, 8, 16]);
});

t.test('dist2bbox: (l, t, r, b) around an anchor to xywh and xyxy', async (t) => {
  const d = E.tensor([1, 2, 3, 4], [1, 4, 1]); // l t r b
  const p = E.tensor([10, 20], [1, 2, 1]);
  t.same([...(await dist2bbox(d, p, true).data())], [11, 21, 4, 6]);
  t.same([...(await dist2bbox(d, p, false).data())], [9, 18, 13, 24]);
});

t.test('Pose head: branch widths, bias init, DFL, decoding, train and eval outputs', async (t) => {
  E.manualSeed(0);
  const ch = [16, 32];
  const head = new Pose(2, [3, 3], ch);
  head.stride = [8, 16];
  head.biasInit();
  const sd = head.stateDict();
  // c2 = max(16, 16 / 4, 64), c3 = max(16, min(nc, 100)), c4 = max(16 / 4, 9)
  t.same(sd.get('cv2.0.0.conv.weight')!.shape, [64, 16, 3, 3]);
  t.same(sd.get('cv3.1.0.conv.weight')!.shape, [16, 32, 3, 3]);
  t.same(sd.get('cv4.0.2.weight')!.shape, [9, 9, 1, 1]);
  t.same([...sd.get('cv2.1.2.bias')!.dataSync()], new Array(64).fill(1), 'box bias 1.0');
  const prior = Math.fround(Math.log(5 / 2 / (640 / 16) ** 2));
  t.same([...sd.get('cv3.1.2.bias')!.dataSync()], [prior, prior], 'class bias log(5 / nc / (640 / s)^2)');
  t.same([...sd.get('dfl.conv.weight')!.dataSync()], [...Array(16).keys()], 'DFL conv weight 0..15');
  t.notOk(sd.get('dfl.conv.weight')!.requiresGrad, 'DFL conv is frozen');
  const g = traceModule(
    head,
    [
      [1, 16, 4, 4],
      [1, 32, 2, 2],
    ],
    { pack: (xs) => [xs] },
  );
  t.equal(g.shapeOf(g.outputIds().at(-1)!)[2], 20, '20 anchors (traced)');

  for (const device of devices) {
    await head.to(device);
    const xs = [E.randn([2, 16, 4, 4], { device }), E.randn([2, 32, 2, 2], { device })];
    head.train();
    const [feats, kpt] = head.forward(xs) as [E.Tensor[], E.Tensor];
    t.same(
      feats.map((f) => f.shape),
      [
        [2, 66, 4, 4],
        [2, 66, 2, 2],
      ],
      `${device.type}: train maps (B, 64 + nc, h, w)`,
    );
    t.same(kpt.shape, [2, 9, 20], `${device.type}: raw keypoints (B, K * 3, A)`);
    head.eval();
    const [pred, [rawFeats, rawKpt]] = head.forward(xs) as [E.Tensor, [E.Tensor[], E.Tensor]];
    t.same(pred.shape, [2, 4 + 2 + 9, 20]);
    // keypoint decoding by hand for anchor 5 (level 0, row 1, col 1; stride 8) and anchor 17 (level 1, row 0, col 1; stride 16)
    const raw = await rawKpt.data(),
      out = await pred.data();
    const at = (arr: ArrayLike<number>, b: number, c: number, a: number, C: number) => arr[(b * C + c) * 20 + a];
    for (const [a, ax, ay, s] of [
      [5, 1, 1, 8],
      [17, 1, 0, 16],
    ]) {
      const want = [
        (at(raw, 1, 3, a, 9) * 2 + ax) * s,
        (at(raw, 1, 4, a, 9) * 2 + ay) * s,
        1 / (1 + Math.exp(-at(raw, 1, 5, a, 9))),
      ];
      assertClose(
        t,
        [6 + 3, 6 + 4, 6 + 5].map((c) => at(out, 1, c, a, 15)),
        want,
        `${device.type}: keypoint 1 of anchor ${a}`,
        1e-5,
        1e-5,
      );
    }
    // box decoding: DFL expectation of each side, xywh around the anchor, times the stride
    const f0 = await rawFeats[0].data();
    const side = (k: number, a: number) => {
      const logits = Array.from({ length: 16 }, (_, j) => f0[(0 * 66 + k * 16 + j) * 16 + a]);
      const m = Math.max(...logits),
        e = logits.map((v) => Math.exp(v - m)),
        z = e.reduce((p, q) => p + q);
      return e.reduce((p, q, j) => p + (q / z) * j, 0);
    };
    const [l, tp, r, b] = [0, 1, 2, 3].map((k) => side(k, 5));
    assertClose(
      t,
      [0, 1, 2, 3].map((c) => at(out, 0, c, 5, 15)),
      [(1.5 + (r - l) / 2) * 8, (1.5 + (b - tp) / 2) * 8, (l + r) * 8, (tp + b) * 8],
      `${device.type}: box of anchor 5`,
      1e-5,
      1e-4,
    );
  }
});

t.test('blocks: output shapes, the same on every device', async (t) => {
  E.manualSeed(1);
  const cases: [string, () => Module, number[], number[]][] = [
    ['Conv 3x3 s2', () => new Conv(4, 8, 3, 2), [1, 4, 8, 8], [1, 8, 4, 4]],
    ['C2f shortcut', () => new C2f(8, 8, 2, true), [2, 8, 4, 4], [2, 8, 4, 4]],
    ['C2', () => new C2(8, 16, 1, false), [1, 8, 4, 4], [1, 16, 4, 4]],
    ['SPPF', () => new SPPF(8, 8, 5), [1, 8, 6, 6], [1, 8, 6, 6]],
  ];
  for (const [name, make, inShape, outShape] of cases) {
    const m = make();
    m.eval();
    const g = traceModule(m, [inShape]);
    t.same(g.shapeOf(g.outputIds()[0]), outShape, `${name}: traced shape`);
    const x = E.randn(inShape);
    const ref = await m.forward(x).data();
    t.same(m.forward(x).shape, outShape, `${name}: forward shape`);
    for (const device of devices) {
      if (device.type === 'cpu') continue;
      await m.to(device);
      assertClose(t, await m.forward(await x.to(device)).data(), ref, `${name}: ${device.type} vs cpu`, 1e-4, 1e-5);
    }
  }
  const dfl = new DFL(16);
  t.same(
    dfl.forward(E.zeros([1, 64, 3])).dataSync(),
    new Float32Array(12).fill(7.5),
    'DFL of flat logits is the middle bin',
  );
});
