//===- KernelGenerators.h - CPU bodies of outlined kernels -----*- C++ -*-===//
#ifndef KJIT_COMPILER_KERNELGENERATORS_H
#define KJIT_COMPILER_KERNELGENERATORS_H

#include "compiler/Conversion/KernelBodies.h"

namespace kjit::compiler {

/// CPU generators (signature and contract: KernelGenerator).

/// kjit.depthwise_conv2d and kjit.inception_depthwise_conv2d.
KernelGenerator generateDepthwiseCpu;

/// kjit.butterfly_matmul (Monarch): inputs x, r, l; output y (memrefs).
KernelGenerator generateButterflyMatmulCpu;

/// kjit.fft_conv (causal long convolution through FFTs): inputs u, k[, d];
/// output y (memrefs).
KernelGenerator generateFftConvCpu;

/// kjit.spmm: inputs row_ptr, col_idx, values, b; output (memrefs). The
/// kernel validates the CSR first and reports a malformed one through
/// kjit_rt_report_error (KernelErrorCodes.h) without computing.
KernelGenerator generateSpmmCpu;

/// kjit.spgemm (CSR x CSR -> CSR, row-wise Gustavson): inputs a_row_ptr,
/// a_col_idx, a_values, b_row_ptr, b_col_idx, b_values; static output
/// c_row_ptr; allocates c_col_idx and c_values (the dynamic-output
/// protocol). Validates both CSRs first (KernelErrorCodes.h).
DynamicKernelGenerator generateSpgemmCpu;

/// kjit.window_attention (NATTEN semantics, fused online softmax): inputs
/// q, k, v[, rpb]; output (memrefs).
KernelGenerator generateWindowAttentionCpu;

} // namespace kjit::compiler

#endif
