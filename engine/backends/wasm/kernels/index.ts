// The kernel module's fragments, in module order. A new kernel family is one import and one entry.
import type { WatFragment } from '../abi.js';
import { common } from './common.js';
import { elementwise } from './elementwise.js';
import { matmul } from './matmul.js';
import { copy } from './copy.js';
import { reduce } from './reduce.js';
import { maxPool2d } from './max_pool2d.js';
import { upsample } from './upsample.js';
import { gemmFragment } from '../gemm_wat.js';
import { chain } from './chain.js';
import { batchNorm } from './batch_norm.js';
import { optim } from './optim.js';
import { softmax } from './softmax.js';
import { elementwiseStrided } from './elementwise_strided.js';
import { poolBackward } from './pool_backward.js';
import { gather } from './gather.js';
import { reduceExtremum } from './reduce_extremum.js';
import { topk } from './topk.js';
import { winograd } from './winograd.js';
import { winogradGw } from './winograd_gw.js';
import { winogradFused } from './winograd_fused.js';
import { winogradF4 } from './winograd_f4.js';
import { winogradGw4 } from './winograd_gw4.js';

export const FRAGMENTS: WatFragment[] = [
  common,
  elementwise,
  matmul,
  copy,
  reduce,
  maxPool2d,
  upsample,
  gemmFragment,
  chain,
  batchNorm,
  optim,
  softmax,
  elementwiseStrided,
  poolBackward,
  gather,
  reduceExtremum,
  topk,
  winograd,
  winogradGw,
  winogradFused,
  winogradF4,
  winogradGw4,
];
