// Binary cross-entropy on logits, elementwise (torch's BCEWithLogitsLoss with reduction 'none').
import { Tensor, mul, softplus, sub } from '../../engine/index.js';

/**
 * -(t·log σ(x) + (1 - t)·log(1 - σ(x))) = softplus(x) - x·t, stable for large |x|.
 * `target` is a constant (no gradient flows to it); its shape broadcasts against x.
 */
export function bceWithLogits(x: Tensor, target: Tensor): Tensor {
  return sub(softplus(x), mul(x, target));
}
