import t from 'tap';
import * as E from '../../engine/index.js';
import { checkDevices, gradcheck, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const pos = { gen: (i: number) => 0.5 + ((i * 7919) % 97) / 40 }; // strictly positive values
const away = { gen: (i: number) => ((i * 7919) % 97) / 20 - 2.4 }; // avoids kinks at 0

t.test('unary ops: webgpu matches cpu, gradients match central differences', async (t) => {
  const cases: [string, (x: E.Tensor) => E.Tensor, object?][] = [
    ['neg', E.neg],
    ['exp', E.exp],
    ['log', E.log, pos],
    ['sqrt', E.sqrt, pos],
    ['abs', E.abs, away],
    ['sigmoid', E.sigmoid],
    ['relu', E.relu, away],
    ['silu', E.silu],
    ['tanh', E.tanh],
    ['atan', E.atan],
    ['sin', E.sin],
    ['cos', E.cos],
    ['softplus', E.softplus],
    ['clamp', (x) => E.clamp(x, -0.55, 0.72), away],
    ['clamp min only', (x) => E.clamp(x, 0.1), away],
    ['reciprocal', E.reciprocal, pos],
    ['pow scalar 2', (x) => E.pow(x, 2)],
    ['pow scalar 3 negative base', (x) => E.pow(x, 3)],
    ['pow scalar 0.5', (x) => E.pow(x, 0.5), pos],
    ['add scalar', (x) => E.add(x, 2.5)],
    ['rsub', (x) => E.sub(3, x)],
    ['mul scalar', (x) => E.mul(x, -1.5)],
    ['div scalar', (x) => E.div(x, 3)],
    ['rdiv', (x) => E.div(2, x), pos],
  ];
  for (const [name, f, spec] of cases) {
    await checkDevices(t, devices, name, f, [{ shape: [3, 5, 7], ...spec }]);
    await gradcheck(t, name, f, [{ shape: [2, 5], ...spec }]);
  }
});

t.test('binary ops broadcast and differentiate on both sides', async (t) => {
  const cases: [string, (a: E.Tensor, b: E.Tensor) => E.Tensor, object?, object?][] = [
    ['add', E.add],
    ['sub', E.sub],
    ['mul', E.mul],
    ['div', E.div, undefined, pos],
    ['pow', E.pow, pos],
    ['maximum', E.maximum, away],
    ['minimum', E.minimum, away],
  ];
  for (const [name, f, sa, sb] of cases) {
    await checkDevices(t, devices, `${name} [4,1,6]x[5,1]`, f, [
      { shape: [4, 1, 6], ...sa },
      { shape: [5, 1], ...sb },
    ]);
    await gradcheck(t, name, f, [
      { shape: [3, 1, 4], ...sa },
      { shape: [2, 1], ...sb },
    ]);
  }
});

t.test('comparisons, where, cast, logical ops', async (t) => {
  for (const [name, f] of [
    ['eq', E.eq],
    ['ne', E.ne],
    ['lt', E.lt],
    ['le', E.le],
    ['gt', E.gt],
    ['ge', E.ge],
  ] as const) {
    const r = await checkDevices(t, devices, name, (a, b) => f(E.round(a), E.round(b)), [
      { shape: [6, 7] },
      { shape: [7] },
    ]);
    t.ok(
      [...r.values].every((v) => v === 0 || v === 1),
      `${name} gives 0/1 masks`,
    );
  }
  await checkDevices(t, devices, 'where', (c, a, b) => E.where(E.gt(c, 0), a, b), [
    { shape: [4, 5], grad: false },
    { shape: [4, 5] },
    { shape: [5] },
  ]);
  await gradcheck(t, 'where', (c, a, b) => E.where(E.gt(c, 0), a, b), [
    { shape: [3, 4], grad: false },
    { shape: [3, 4] },
    { shape: [4] },
  ]);
  await checkDevices(
    t,
    devices,
    'cast f32->i32->f32 truncates toward zero',
    (x) => E.cast(E.cast(E.mul(x, 10), 'i32'), 'f32'),
    [{ shape: [50], grad: false }],
  );
  const x = E.tensor([-2.7, -0.5, 0, 0.5, 2.7]);
  t.same([...(await E.cast(x, 'i32').data())], [-2, 0, 0, 0, 2], 'cast matches torch .to(int32) on cpu');
  t.same([...(await E.round(E.tensor([0.5, 1.5, 2.5, -0.5])).data())], [0, 2, 2, -0], 'round half to even like torch');
});

t.test('strided operands: transposed, narrowed and expanded views', async (t) => {
  await checkDevices(
    t,
    devices,
    'transpose + narrow + mul',
    (a, b) => E.mul(E.narrow(E.transpose(a, 0, 1), 0, 1, 3), E.expand(b, [3, 4])),
    [{ shape: [4, 5] }, { shape: [1, 4] }],
  );
  await checkDevices(
    t,
    devices,
    'assign into a slice',
    (a) => {
      const z = E.zeros([4, 6], { device: a.device });
      E.assign(E.narrow(z, 1, 2, 3), a);
      return z;
    },
    [{ shape: [4, 3], grad: false }],
  );
});

t.test('bad input throws with the op name and shapes', async (t) => {
  t.throws(() => E.add(E.zeros([2, 3]), E.zeros([4])), /add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
  t.throws(() => E.clamp(E.zeros([2]), 3, 1), /clamp: min 3 is greater than max 1/);
  t.throws(() => E.tensor([1, 2, 3], [2, 2]), /tensor: 3 values do not fill shape \[2, 2\]/);
  if (devices.length > 1)
    t.throws(() => E.add(E.zeros([2]), E.zeros([2], { device: devices[1] })), /add: operands are on different devices/);
});

t.test('i32 tensors mix with scalars and f32 tensors on every device', async (t) => {
  for (const d of devices) {
    const i = E.tensor([1, 2, 3], [3], { dtype: 'i32', device: d });
    t.same([...(await E.add(i, 2).data())], [3, 4, 5], `i32 + integer scalar stays i32 (${d.type})`);
    t.equal(E.add(i, 2).dtype, 'i32');
    t.same(
      [...(await E.mul(i, E.tensor([0.5], [1], { device: d })).data())],
      [0.5, 1, 1.5],
      `i32 * f32 promotes to f32 (${d.type})`,
    );
    t.same([...(await E.where(E.gt(i, 1), i, E.neg(i)).data())], [-1, 2, 3], `where over i32 values (${d.type})`);
  }
});
