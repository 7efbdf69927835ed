// matmul on the shared-memory tiled GEMM core (GPUs).
#include "matmul.wgsl"
#include "gemm_tiled.wgsl"
