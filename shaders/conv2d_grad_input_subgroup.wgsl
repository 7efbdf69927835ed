enable subgroups;
// conv2d_grad_input on the subgroup GEMM core (CPU-like adapters; see gemm_subgroup.wgsl).
#include "conv2d_grad_input.wgsl"
#include "gemm_subgroup.wgsl"
