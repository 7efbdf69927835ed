// Graph passes: each a small function over a Graph, in place (see ../README.md).
export { foldBatchNorm, type ReadValue } from './fold_batch_norm.js';
export { foldConstants } from './fold_constants.js';
export { eliminateDeadCode } from './dead_code.js';
export { fuseElementwise, type Chain } from './fuse_elementwise.js';
export { inferShapes } from './infer_shapes.js';
export { toNHWC } from './to_nhwc.js';
