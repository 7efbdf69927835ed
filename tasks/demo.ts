// A short engine demo: fits y = 3x₁ - 2x₂ + 0.5 by gradient descent with autograd on the
// default device, so a fresh clone shows the engine working end to end in seconds.
import * as E from '../engine/index.js';

export async function demo(device?: string): Promise<void> {
  const dev = await E.getDevice(device);
  console.log(`device: ${dev.type} (${dev.name})`);
  E.manualSeed(0);
  const x = E.randn([256, 2], { device: dev });
  const trueW = E.tensor([3, -2], [2, 1], { device: dev });
  const y = E.add(E.sum(E.mul(x, E.reshape(trueW, [1, 2])), 1, true), 0.5);
  let w = E.zeros([1, 2], { device: dev, requiresGrad: true });
  let b = E.zeros([1], { device: dev, requiresGrad: true });
  const t0 = performance.now();
  for (let step = 0; step <= 60; step++) {
    const loss = E.tidy(() => {
      const pred = E.add(E.sum(E.mul(x, w), 1, true), b);
      const l = E.mean(E.pow(E.sub(pred, y), 2));
      l.backward();
      return l;
    });
    if (step % 20 === 0) console.log(`step ${String(step).padStart(2)}  mse ${(await loss.item()).toFixed(6)}`);
    loss.dispose();
    E.noGrad(() => {
      const nw = E.sub(w, E.mul(w.grad!, 0.1)).detach().requiresGrad_();
      const nb = E.sub(b, E.mul(b.grad!, 0.1)).detach().requiresGrad_();
      w.dispose();
      b.dispose();
      w.grad?.dispose();
      b.grad?.dispose();
      w = E.keep(nw);
      b = E.keep(nb);
    });
  }
  const [w1, w2] = await w.data();
  console.log(
    `learned w = [${w1.toFixed(3)}, ${w2.toFixed(3)}], b = ${(await b.item()).toFixed(3)} (true: [3, -2], 0.5) in ${(performance.now() - t0).toFixed(0)} ms`,
  );
}
