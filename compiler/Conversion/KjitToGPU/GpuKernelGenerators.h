//===- GpuKernelGenerators.h - GPU bodies of outlined kernels --*- C++ -*-===//
#ifndef KJIT_COMPILER_GPUKERNELGENERATORS_H
#define KJIT_COMPILER_GPUKERNELGENERATORS_H

#include "dialects/kjit/IR/KjitDialect.h"
#include "mlir/IR/Builders.h"

namespace kjit::compiler {

/// Emits, at `b`'s insertion point (the body of an outlined kernel on
/// memrefs), a `gpu.launch` computing the depthwise conv `op` (NHWC) from
/// `inputs` (input, filter[, bias]) into `outputs`. Fails with `reason` for
/// an illegal config or an unsupported case, never by a crash.
mlir::LogicalResult generateDepthwiseGpu(mlir::OpBuilder &b,
                                         mlir::Location loc,
                                         mlir::Operation *op,
                                         mlir::ValueRange inputs,
                                         mlir::ValueRange outputs,
                                         mlir::kjit::ConfigAttr config,
                                         const TargetInfo &target,
                                         std::string &reason);

} // namespace kjit::compiler

#endif
