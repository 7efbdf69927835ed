// Every op, re-exported. One op (or one family: elementwise, views, reductions) per file.
import type { Tensor } from '../tensor.js';
import { backward as runBackward } from '../autograd.js';
import { add } from './elementwise.js';
import { onesLike } from './create.js';

export * from './create.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './view.js';

export function backward(root: Tensor, grad?: Tensor) {
  runBackward(root, grad, { add, onesLike });
}
export * from './optim_step.js';
export * from './softmax.js';
export * from './gather.js';
export * from './index_select.js';
export * from './scatter_add.js';
export * from './topk.js';
export * from './dfl.js';
export * from './batch_norm2d.js';
export * from './max_pool2d.js';
export * from './upsample_nearest2d.js';
export * from './concat.js';
export * from './conv2d.js';
export * from './matmul.js';
export * from './anchors.js';
