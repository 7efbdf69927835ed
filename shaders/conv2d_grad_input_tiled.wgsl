// conv2d_grad_input on the shared-memory tiled GEMM core (GPUs).
#include "conv2d_grad_input.wgsl"
#include "gemm_tiled.wgsl"
