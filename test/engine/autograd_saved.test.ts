// State an op saves for its backward (GradFn.saved: batch_norm2d's per-channel statistics,
// max_pool2d's indices) lives exactly as long as that backward can still run: it survives a tidy()
// around the forward, it is freed once the backward has run, and it is freed with the output when
// the backward never reaches it. Checked on the wasm device, whose runtime counts every live byte
// (a training batch whose image has no matched keypoints once leaked the pose head's statistics).
import t from 'tap';
import * as E from '../../engine/index.js';

const device = await E.getDevice('wasm');
t.teardown(E.releaseDevices);
const live = () => device.wasm.liveBytes;

const x = E.randn([2, 4, 6, 6], { device, requiresGrad: true });
const weight = E.full([4], 1.5, { device, requiresGrad: true });
const bias = E.full([4], 0.25, { device, requiresGrad: true });
const [rm, rv] = [E.full([4], 0, { device }), E.full([4], 1, { device })];
const bn = (v: E.Tensor) => E.batchNorm2d(v, rm, rv, weight, bias, { training: true });
const pool = (v: E.Tensor) => E.maxPool2d(v, { kernelSize: 2 });

const clearGrads = () => {
  for (const p of [x, weight, bias]) (p.grad?.dispose(), (p.grad = null));
};

t.test('freed with the output when the backward never reaches it', async (t) => {
  const before = live();
  E.tidy(() => {
    bn(x);
    pool(x);
    E.backward(E.sum(E.mul(x, x))); // the loss does not use the batch norm or the pool
  });
  t.ok(x.grad, 'x got its gradient');
  clearGrads();
  t.equal(live(), before, `live bytes back to ${before} after the scope`);
});

t.test('freed with the output when the graph is dropped without backward', async (t) => {
  const before = live();
  E.tidy(() => void E.add(E.sum(bn(x)), E.sum(pool(x))));
  t.equal(live(), before, `live bytes back to ${before}`);
});

t.test('kept across a tidy() around the forward, freed by the backward', async (t) => {
  const before = live();
  // the reference: forward and backward in one scope
  E.tidy(() => E.backward(E.add(E.sum(E.mul(bn(x), bn(x))), E.sum(E.mul(pool(x), pool(x))))));
  const want = [x, weight, bias].map((p) => Array.from(p.grad!.dataSync()));
  clearGrads();
  // the forward's outputs returned from their own scopes, the backward after those have ended
  const [y1, y2, p1, p2] = [bn, bn, pool, pool].map((f) => E.tidy(() => f(x)));
  E.tidy(() => E.backward(E.add(E.sum(E.mul(y1, y2)), E.sum(E.mul(p1, p2)))));
  t.same(
    [x, weight, bias].map((p) => Array.from(p.grad!.dataSync())),
    want,
    'the same gradients for x, weight and bias',
  );
  for (const y of [y1, y2, p1, p2]) y.dispose();
  clearGrads();
  t.equal(live(), before, `live bytes back to ${before}`);
});
