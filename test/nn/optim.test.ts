import t from 'tap';
import * as E from '../../engine/index.js';
import { readSafetensors, asF32 } from '../../engine/io/safetensors.js';
import { SGD, AdamW, clipGradNorm } from '../../nn/optim.js';
import { ModelEMA } from '../../nn/ema.js';
import { linearLf, interp } from '../../nn/lr_schedule.js';
import { assertClose, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const gold = readSafetensors(new URL('../fixtures/torch/optim.safetensors', import.meta.url).pathname).tensors;
const g = (k: string) => asF32(gold.get(k)!);

for (const device of devices) {
  for (const tag of ['sgd', 'adamw'] as const) {
    t.test(`${tag} with clipping matches torch.optim over three steps (${device.type})`, async (t) => {
      const w = E.tensor(g('p0'), [4, 5], { device, requiresGrad: true });
      const b = E.tensor(g('b0'), [5], { device, requiresGrad: true });
      const groups = [
        { params: [b], weightDecay: 0 },
        { params: [w], weightDecay: 5e-4 },
      ];
      const opt =
        tag === 'sgd'
          ? new SGD(groups, { lr: 0.01, momentum: 0.937, nesterov: true })
          : new AdamW(groups, { lr: 0.002, betas: [0.9, 0.999] });
      for (let i = 0; i < 3; i++) {
        w.grad = E.tensor(g(`grad_w${i}`), [4, 5], { device });
        b.grad = E.tensor(g(`grad_b${i}`), [5], { device });
        const { norm, scale } = await clipGradNorm([w, b], 1.0);
        assertClose(t, [norm], g(`${tag}_norm${i}`), `step ${i} gradient norm`, 1e-5, 1e-6);
        opt.step(scale);
        opt.zeroGrad();
        assertClose(t, await w.data(), g(`${tag}_w${i}`), `step ${i} weights`, 1e-5, 1e-6);
        assertClose(t, await b.data(), g(`${tag}_b${i}`), `step ${i} biases`, 1e-5, 1e-6);
      }
      const sd = opt.stateDict();
      t.equal(sd.param_groups.length, 2);
      t.same(sd.param_groups[1].params, [1], 'torch layout: groups list parameter indices');
      t.ok(sd.state[0][tag === 'sgd' ? 'momentum_buffer' : 'exp_avg'], 'buffers in the state dict');
      // a fresh optimizer loaded from the state dict continues identically
      const w2 = E.tensor(await w.data(), [4, 5], { device, requiresGrad: true });
      const b2 = E.tensor(await b.data(), [5], { device, requiresGrad: true });
      const groups2 = [
        { params: [b2], weightDecay: 0 },
        { params: [w2], weightDecay: 5e-4 },
      ];
      const opt2 =
        tag === 'sgd' ? new SGD(groups2, { lr: 0.5, momentum: 0.5, nesterov: true }) : new AdamW(groups2, { lr: 0.5 });
      await opt2.loadStateDict(sd);
      for (const [o, p, q] of [
        [opt, w, b],
        [opt2, w2, b2],
      ] as const) {
        p.grad = E.tensor(g('grad_w0'), [4, 5], { device });
        q.grad = E.tensor(g('grad_b0'), [5], { device });
        o.step();
      }
      assertClose(t, await w2.data(), await w.data(), 'resumed optimizer takes the same step', 0, 0);
    });
  }
}

t.test('EMA decay ramp and update, LR schedule helpers', async (t) => {
  for (const device of devices) {
    const live = { x: E.tensor([1, 2], [2], { device }), n: E.tensor([5], [1], { device, dtype: 'i32' }) };
    const avg = { x: E.tensor([0, 0], [2], { device }), n: E.tensor([0], [1], { device, dtype: 'i32' }) };
    const ema = new ModelEMA({ stateDict: () => avg }, 0.9999, 2000);
    ema.update({ stateDict: () => live });
    const d = 0.9999 * (1 - Math.exp(-1 / 2000));
    assertClose(t, await avg.x.data(), [1 - d, 2 * (1 - d)], `ema after one update (${device.type})`, 1e-6, 1e-7);
    t.same([...(await avg.n.data())], [0], 'integer buffers are not averaged');
  }
  const lf = linearLf(100, 0.01);
  t.equal(lf(0), 1);
  t.equal(lf(100), 0.01);
  t.equal(interp(50, [0, 100], [0.1, 0.01]), 0.055);
});
