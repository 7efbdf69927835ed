// Ultralytics' ModelEMA: an exponential moving average of every floating-point state entry
// (parameters and BatchNorm running statistics), with a decay that ramps up from 0 to `decay`
// as d(n) = decay · (1 - exp(-n / tau)), so early updates follow the model closely.
import { emaUpdate, noGrad, type Tensor } from '../engine/index.js';

/** Anything with a state dict of tensors (our Module returns a Map or a plain object). */
export interface HasStateDict {
  stateDict(): Map<string, Tensor> | Record<string, Tensor>;
}

const entries = (m: HasStateDict) => {
  const sd = m.stateDict();
  return sd instanceof Map ? sd : new Map(Object.entries(sd));
};

export class ModelEMA<M extends HasStateDict> {
  /**
   * @param ema a separate copy of the model (same architecture and initial weights) that will
   *            hold the average; the caller builds it, e.g. by loading the model's state dict.
   */
  constructor(
    readonly ema: M,
    readonly decay = 0.9999,
    readonly tau = 2000,
    public updates = 0,
  ) {}

  decayAt(n: number) {
    return this.decay * (1 - Math.exp(-n / this.tau));
  }

  update(model: M) {
    this.updates++;
    const d = this.decayAt(this.updates);
    const live = entries(model);
    noGrad(() => {
      for (const [k, e] of entries(this.ema)) {
        if (e.dtype === 'i32') continue; // num_batches_tracked and other integer buffers are not averaged
        const x = live.get(k);
        if (!x) throw new Error(`ModelEMA: the model has no state entry '${k}'`);
        emaUpdate(e, x, d);
      }
    });
  }
}
