// Adam, Adamax, NAdam, RAdam and RMSprop against torch.optim over eight clipped steps
// (test/fixtures/torch/gen_optim_more.py), on every device, and their state dicts.
import t from 'tap';
import * as E from '../../engine/index.js';
import { readSafetensors, asF32 } from '../../engine/io/safetensors.js';
import { clipGradNorm, type Optimizer, type ParamGroupOptions } from '../../nn/optim.js';
import { Adam, Adamax, NAdam, RAdam, RMSprop } from '../../nn/optim_more.js';
import { assertClose, testDevices } from '../helpers.js';

const devices = await testDevices(t, { wasm: true });
const gold = readSafetensors(new URL('../fixtures/torch/optim_more.safetensors', import.meta.url).pathname).tensors;
const g = (k: string) => asF32(gold.get(k)!);
const m = 0.937;
const MAKE: Record<string, (groups: ParamGroupOptions[]) => Optimizer> = {
  adam: (gr) => new Adam(gr, { lr: 0.001, betas: [m, 0.999] }),
  adamax: (gr) => new Adamax(gr, { lr: 0.002, betas: [m, 0.999] }),
  nadam: (gr) => new NAdam(gr, { lr: 0.002, betas: [m, 0.999] }),
  radam: (gr) => new RAdam(gr, { lr: 0.001, betas: [m, 0.999] }),
  rmsprop: (gr) => new RMSprop(gr, { lr: 0.001, momentum: m }),
};

for (const device of devices)
  for (const [tag, make] of Object.entries(MAKE))
    t.test(`${tag} with clipping matches torch.optim over eight steps (${device.type})`, async (t) => {
      const w = E.tensor(g('p0'), [4, 5], { device, requiresGrad: true });
      const b = E.tensor(g('b0'), [5], { device, requiresGrad: true });
      const opt = make([
        { params: [b], weightDecay: 0 },
        { params: [w], weightDecay: 5e-4 },
      ]);
      for (let i = 0; i < 8; i++) {
        w.grad = E.tensor(g(`grad_w${i}`), [4, 5], { device });
        b.grad = E.tensor(g(`grad_b${i}`), [5], { device });
        const { scale } = await clipGradNorm([w, b], 1.0);
        opt.step(scale);
        opt.zeroGrad();
        assertClose(t, await w.data(), g(`${tag}_w${i}`), `step ${i} weights`, 2e-5, 2e-6);
        assertClose(t, await b.data(), g(`${tag}_b${i}`), `step ${i} biases`, 2e-5, 2e-6);
      }
      const sd = opt.stateDict();
      t.equal(sd.state[1].step, 8, 'step count in the state dict');
      t.ok(
        Object.values(sd.state[1]).some((v) => v instanceof E.Tensor),
        'buffers in the state dict',
      );
    });

for (const [tag, make] of Object.entries(MAKE))
  t.test(`${tag}: a fresh optimizer loaded from the state dict continues identically (resume)`, async (t) => {
    const device = devices[0];
    const run = (w: E.Tensor, b: E.Tensor, o: Optimizer, i: number) => {
      w.grad = E.tensor(g(`grad_w${i}`), [4, 5], { device });
      b.grad = E.tensor(g(`grad_b${i}`), [5], { device });
      o.step();
      o.zeroGrad();
    };
    const w = E.tensor(g('p0'), [4, 5], { device, requiresGrad: true }),
      b = E.tensor(g('b0'), [5], { device, requiresGrad: true });
    const opt = make([
      { params: [b], weightDecay: 0 },
      { params: [w], weightDecay: 5e-4 },
    ]);
    for (let i = 0; i < 3; i++) run(w, b, opt, i);
    const w2 = E.tensor(await w.data(), [4, 5], { device, requiresGrad: true }),
      b2 = E.tensor(await b.data(), [5], { device, requiresGrad: true });
    const opt2 = make([
      { params: [b2], weightDecay: 0 },
      { params: [w2], weightDecay: 5e-4 },
    ]);
    await opt2.loadStateDict(opt.stateDict());
    for (let i = 3; i < 8; i++) (run(w, b, opt, i), run(w2, b2, opt2, i));
    assertClose(t, await w2.data(), await w.data(), 'weights after 5 more steps', 0, 0);
    assertClose(t, await b2.data(), await b.data(), 'biases after 5 more steps', 0, 0);
  });
