enable subgroups;
// matmul on the subgroup GEMM core (CPU-like adapters; see gemm_subgroup.wgsl).
#include "matmul.wgsl"
#include "gemm_subgroup.wgsl"
