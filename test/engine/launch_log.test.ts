// launchLog (engine/profile.ts): which kernels each op launched, with the WGSL the webgpu runtime
// compiled for them (what the page's "look inside" shows next to each op of a layer).
import t from 'tap';
import * as E from '../../engine/index.js';
import { launchLog } from '../../engine/profile.js';
import { buildShader } from '../../engine/backends/wgsl.js';
import { testDevices } from '../helpers.js';

t.test('ops and their kernels, in order, with the compiled WGSL', async (t) => {
  for (const dev of await testDevices(t)) {
    const x = E.randn([1, 4, 8, 8], { device: dev });
    const w = E.randn([6, 4, 3, 3], { device: dev });
    const { result, ops } = launchLog.capture(
      () =>
        E.noGrad(() => {
          const y = E.conv2d(x, w, null, { padding: 1, act: 'silu' }); // (1, 6, 8, 8)
          return E.softmax(E.reshape(y, [6, 64]), 1);
        }),
      () => 'here',
    );
    // webgpu's conv2d first repacks its weight with ops of its own (packConvWeight: permute, copy)
    const pack = dev.type === 'webgpu' ? 2 : 0;
    t.same(
      ops.map((o) => [o.op, o.shape, o.where]),
      [
        ...(pack
          ? [
              ['permute', [6, 3, 3, 4], 'here'],
              ['identity', [6, 3, 3, 4], 'here'],
            ]
          : []),
        ['conv2d', [1, 6, 8, 8], 'here'],
        ['reshape', [6, 64], 'here'],
        ['softmax', [6, 64], 'here'],
      ],
      `${dev.type}: each op once, in order, with its output shape`,
    );
    const [conv, view, soft] = ops.slice(pack);
    if (pack)
      t.same(
        ops[1].kernels.map((k) => k.file),
        ['elementwise.wgsl'],
        'the weight copy: one elementwise kernel',
      );
    t.equal(view.kernels.length, 0, `${dev.type}: a view launches nothing`);
    if (dev.type === 'webgpu') {
      t.ok(conv.kernels.length >= 1 && conv.kernels.every((k) => k.file.startsWith('conv2d')), 'conv2d: its kernel');
      t.same(
        soft.kernels.map((k) => k.file),
        ['softmax.wgsl'],
        'softmax: one kernel',
      );
      for (const k of [...conv.kernels, ...soft.kernels]) {
        t.equal(k.code, buildShader(k.file), `${k.name}: the WGSL compiled for it`);
        t.ok(k.grid.every((g) => g >= 1));
      }
    } else t.same([conv.kernels, soft.kernels], [[], []], `${dev.type}: no kernels (loops in TypeScript)`);
    t.same((await result.data()).length, 6 * 64);
    // outside a capture nothing is kept
    E.relu(x);
    t.notOk(launchLog.enabled);
    t.throws(() => launchLog.capture(() => launchLog.capture(() => 0)), /do not nest/);
  }
});
