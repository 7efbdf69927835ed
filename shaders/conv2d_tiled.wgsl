// conv2d on the shared-memory tiled GEMM core (GPUs).
#include "conv2d.wgsl"
#include "gemm_tiled.wgsl"
