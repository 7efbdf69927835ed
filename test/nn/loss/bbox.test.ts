import t from 'tap';
import * as E from '../../../engine/index.js';
import { bboxCiou, ciouHost, xywhToXyxy } from '../../../nn/loss/bbox.js';
import { makeAnchors } from '../../../nn/anchors.js';
import { assertClose, checkDevices, testDevices } from '../../helpers.js';
import { loadFixture } from './fixtures.js';

const devices = await testDevices(t, { wasm: true });
const fx = loadFixture('bbox');

t.test('CIoU matches torch (values, and gradients with alpha held constant) on every device', async (t) => {
  const n = fx.get('box1').shape[0];
  for (const device of devices) {
    const a = E.tensor(fx.get('box1').data, [n, 4], { device, requiresGrad: true });
    const b = E.tensor(fx.get('box2').data, [n, 4], { device, requiresGrad: true });
    const c = bboxCiou(a, b);
    t.same(c.shape, [n, 1]);
    E.sum(E.mul(c, E.tensor(fx.get('weight').data, [n, 1], { device }))).backward();
    assertClose(t, await c.data(), fx.get('ciou').data, `ciou (${device.type})`, 1e-5, 1e-6);
    assertClose(t, await a.grad!.data(), fx.get('grad_box1').data, `d/d box1 (${device.type})`, 1e-4, 1e-6);
    assertClose(t, await b.grad!.data(), fx.get('grad_box2').data, `d/d box2 (${device.type})`, 1e-4, 1e-6);
  }
});

t.test('the host CIoU equals the tensor one; coordinates may lie on any axis', async (t) => {
  const n = fx.get('box1').shape[0];
  const b1 = fx.get('box1').data,
    b2 = fx.get('box2').data,
    want = fx.get('ciou').data;
  const host = Array.from({ length: n }, (_, i) => ciouHost(b1, 4 * i, b2, 4 * i));
  assertClose(t, host, want, 'ciouHost vs torch', 1e-5, 1e-6);
  const a = E.transpose(E.tensor(b1, [n, 4]), 0, 1),
    b = E.transpose(E.tensor(b2, [n, 4]), 0, 1); // (4, n)
  assertClose(t, await bboxCiou(a, b, 0).data(), want, 'coordinates on axis 0', 1e-5, 1e-6);
});

t.test('webgpu matches cpu on random boxes, forward and backward', async (t) => {
  // (N, 4) raw → a valid xyxy box: corner (x, y), size exp(w), exp(h)
  const box = (r: E.Tensor) =>
    E.concat([E.narrow(r, 1, 0, 2), E.add(E.narrow(r, 1, 0, 2), E.exp(E.narrow(r, 1, 2, 2)))], 1);
  await checkDevices(t, devices, 'ciou', (p, q) => bboxCiou(box(p), box(q)), [{ shape: [40, 4] }, { shape: [40, 4] }]);
});

t.test('anchor grid and xywh → xyxy as Ultralytics', async (t) => {
  const g = makeAnchors(
    [
      [2, 3],
      [1, 1],
    ],
    [8, 16],
  );
  t.same([...g.points], [0.5, 0.5, 1.5, 0.5, 2.5, 0.5, 0.5, 1.5, 1.5, 1.5, 2.5, 1.5, 0.5, 0.5]);
  t.same([...g.strides], [8, 8, 8, 8, 8, 8, 16]);
  t.same([...xywhToXyxy([0.5, 0.25, 0.5, 0.5], 1, 320, 160)], [80, 0, 240, 80]);
});

t.test('bad input names the function and shapes', async (t) => {
  t.throws(
    () => bboxCiou(E.zeros([3, 5]), E.zeros([3, 5])),
    /bboxCiou: boxes need 4 coordinates along axis -1, got shapes \[3,5\] and \[3,5\]/,
  );
});
