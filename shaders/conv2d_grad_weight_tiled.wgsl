// conv2d_grad_weight on the shared-memory tiled GEMM core (GPUs).
#include "conv2d_grad_weight.wgsl"
#include "gemm_tiled.wgsl"
