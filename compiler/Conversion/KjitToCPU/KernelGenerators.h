//===- KernelGenerators.h - CPU bodies of outlined kernels -----*- C++ -*-===//
#ifndef KJIT_COMPILER_KERNELGENERATORS_H
#define KJIT_COMPILER_KERNELGENERATORS_H

#include "dialects/kjit/IR/KjitDialect.h"
#include "mlir/IR/Builders.h"

namespace kjit::compiler {

/// Emits, at `b`'s insertion point, the CPU code of a depthwise or
/// Inception conv `op` reading `inputs` and writing `outputs` (memrefs).
/// Fails with `reason` when the config is illegal for the op.
mlir::LogicalResult generateDepthwiseCpu(mlir::OpBuilder &b,
                                         mlir::Location loc,
                                         mlir::Operation *op,
                                         mlir::ValueRange inputs,
                                         mlir::ValueRange outputs,
                                         mlir::kjit::ConfigAttr config,
                                         const TargetInfo &target,
                                         std::string &reason);

/// kjit.butterfly_matmul (Monarch): inputs x, r, l; output y (memrefs).
mlir::LogicalResult generateButterflyMatmulCpu(mlir::OpBuilder &b,
                                               mlir::Location loc,
                                               mlir::Operation *op,
                                               mlir::ValueRange inputs,
                                               mlir::ValueRange outputs,
                                               mlir::kjit::ConfigAttr config,
                                               const TargetInfo &target,
                                               std::string &reason);

/// kjit.fft_conv (causal long convolution through FFTs): inputs u, k[, d];
/// output y (memrefs).
mlir::LogicalResult generateFftConvCpu(mlir::OpBuilder &b, mlir::Location loc,
                                       mlir::Operation *op,
                                       mlir::ValueRange inputs,
                                       mlir::ValueRange outputs,
                                       mlir::kjit::ConfigAttr config,
                                       const TargetInfo &target,
                                       std::string &reason);

/// kjit.spmm: inputs row_ptr, col_idx, values, b; output (memrefs). The
/// kernel validates the CSR first and reports a malformed one through
/// kjit_rt_report_error (KernelErrorCodes.h) without computing.
mlir::LogicalResult generateSpmmCpu(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::Operation *op,
                                    mlir::ValueRange inputs,
                                    mlir::ValueRange outputs,
                                    mlir::kjit::ConfigAttr config,
                                    const TargetInfo &target,
                                    std::string &reason);

/// kjit.window_attention (NATTEN semantics, fused online softmax): inputs
/// q, k, v[, rpb]; output (memrefs).
mlir::LogicalResult generateWindowAttentionCpu(mlir::OpBuilder &b,
                                               mlir::Location loc,
                                               mlir::Operation *op,
                                               mlir::ValueRange inputs,
                                               mlir::ValueRange outputs,
                                               mlir::kjit::ConfigAttr config,
                                               const TargetInfo &target,
                                               std::string &reason);

} // namespace kjit::compiler

#endif
