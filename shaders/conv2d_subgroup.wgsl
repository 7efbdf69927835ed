enable subgroups;
// conv2d on the subgroup GEMM core (CPU-like adapters; see gemm_subgroup.wgsl).
#include "conv2d.wgsl"
#include "gemm_subgroup.wgsl"
