import t from 'tap';
import * as E from '../../engine/index.js';
import { checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });

t.test('views read the right elements and route gradients back', async (t) => {
  const cases: [string, (x: E.Tensor) => E.Tensor][] = [
    ['reshape', (x) => E.reshape(x, [6, -1])],
    ['permute', (x) => E.permute(x, [2, 0, 1])],
    ['transpose then reshape (copies)', (x) => E.reshape(E.transpose(x, 0, 2), [-1])],
    ['narrow', (x) => E.narrow(x, 1, 1, 2)],
    ['slice with step', (x) => E.slice(x, 2, 0, undefined, 2)],
    ['negative-index slice', (x) => E.slice(x, 2, -3, -1)],
    ['expand', (x) => E.expand(E.narrow(x, 2, 0, 1), [2, 2, 3, 4])],
    ['unsqueeze/squeeze', (x) => E.squeeze(E.unsqueeze(x, 1), 1)],
    ['flatten', (x) => E.flatten(x, 1)],
  ];
  for (const [name, f] of cases) {
    await checkDevices(t, devices, name, (x) => E.mul(f(x), 1), [{ shape: [2, 3, 4] }]);
    await gradcheck(t, name, f, [{ shape: [2, 3, 4] }]);
  }
  const x = E.arange(24).reshape(2, 3, 4);
  t.same(
    await E.permute(x, [2, 0, 1])
      .tolist()
      .then((l) => l[1][0]),
    [1, 5, 9],
    'permute indexes like torch',
  );
  t.same([...(await E.slice(x, 2, 1, 4, 2).data())].slice(0, 4), [1, 3, 5, 7], 'slice 1:4:2');
  t.throws(() => E.reshape(x, [5, 5]), /reshape: cannot reshape \[2, 3, 4\] \(24 elements\) to \[5, 5\]/);
  t.throws(() => E.expand(x, [3, 3, 4]), /expand: .*\[2, 3, 4\].*\[3, 3, 4\]/);
  t.throws(() => E.narrow(x, 1, 2, 2), /narrow: \[2, 4\) is out of range for axis 1/);
});

t.test('autograd: accumulation, noGrad, detach, zeroing, graph freed', async (t) => {
  for (const d of devices) {
    const w = E.tensor([1, 2, 3], [3], { device: d, requiresGrad: true });
    const y = E.add(E.mul(w, w), E.mul(w, 3)); // reused input: dy/dw = 2w + 3
    E.sum(y).backward();
    t.same([...(await w.grad!.data())], [5, 7, 9], `reused tensor gradients accumulate (${d.type})`);
    E.sum(E.mul(w, 2)).backward();
    t.same([...(await w.grad!.data())], [7, 9, 11], `.grad accumulates across backward calls (${d.type})`);
    t.equal(y.gradFn, null, 'the graph is freed after backward');
    const z = E.noGrad(() => E.mul(w, 2));
    t.notOk(z.requiresGrad, 'noGrad records nothing');
    t.notOk(E.mul(w.detach(), 2).requiresGrad, 'detach cuts the graph');
    t.throws(() => E.sum(z).backward(), /does not require grad/);
    t.throws(() => E.mul(w, 2).backward(), /only for one-element outputs/);
  }
});

t.test('tidy frees intermediates and keeps the result', async (t) => {
  for (const d of devices) {
    let inner: E.Tensor | null = null;
    const out = E.tidy(() => {
      inner = E.mul(E.ones([4], { device: d }), 2);
      return E.add(inner, 1);
    });
    t.ok(inner!.isDisposed, `intermediate disposed (${d.type})`);
    t.same([...(await out.data())], [3, 3, 3, 3], 'result survives');
    await t.rejects(inner!.data(), /already disposed/);
  }
});
